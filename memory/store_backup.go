//go:build !wasip1

package memory

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/herken/herken/memory/internal/keys"
)

// backupMagic starts every backup, followed by the store format version.
var backupMagic = []byte("herken backup\x00")

// Backup writes a copy of the whole store, as it is at one moment while
// Backup runs, to w. Reads and writes go on meanwhile; what they change after
// that moment is not in the copy. Restore reads it back.
//
// A backup holds every customer in it, forgotten later or not: keep backups
// as carefully as the store, and not longer than needed. The package
// documentation says more on erasure.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(append(append([]byte(nil), backupMagic...), storeFormat)); err != nil {
		return err
	}
	if err := s.db.Backup(bw); err != nil {
		return fmt.Errorf("memory: backup: %w", storeErr(err))
	}
	return bw.Flush()
}

// Restore loads a backup made by Backup into this store, which must hold no
// customers yet: open an empty one, restore, then use it. It refuses a backup
// of a newer store format with ErrFormat, and reads into an empty store only,
// with ErrInvalidInput otherwise. Forgets that were not finished when the
// backup was taken are finished.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	br := bufio.NewReader(r)
	head := make([]byte, len(backupMagic)+1)
	if _, err := io.ReadFull(br, head); err != nil || !bytes.Equal(head[:len(backupMagic)], backupMagic) {
		return invalid("backup", "not a herken backup")
	}
	if v := int(head[len(backupMagic)]); v > storeFormat {
		return fmt.Errorf("%w: the backup was written by store format %d; this build reads up to %d", ErrFormat, v, storeFormat)
	}
	empty := true
	t := s.db.Begin(false)
	err := t.Scan(nil, true, func(k, _ []byte) error {
		if !bytes.Equal(k, keys.Format) {
			empty = false
			return errStopScan
		}
		return nil
	})
	t.Discard()
	if err != nil && err != errStopScan {
		return storeErr(err)
	}
	if !empty {
		return invalid("restore", "the store is not empty; restore into a new store")
	}
	if err := s.db.Load(br); err != nil {
		return fmt.Errorf("memory: restore: %w", storeErr(err))
	}
	s.profiles.Purge()
	s.idents.Purge()
	if err := s.checkFormat(); err != nil {
		return err
	}
	return s.finishForgets()
}

// errStopScan ends a scan early.
var errStopScan = fmt.Errorf("stop")
