//go:build !wasip1

package memory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// Backups come in two streams: data holds every customer's sealed values,
// keys holds the customers' keys. A customer's data opens only with their
// key: keep the keys backups apart from the data backups and for a short
// time only, and a customer forgotten after a backup cannot be read from it
// once no keys backup from before the Forget is left.

// backupMagic starts every stream, followed by the store format version and
// the kind of stream.
var backupMagic = []byte("herken backup\x00")

const (
	streamData = 'd'
	streamKeys = 'k'
)

// Backup writes a copy of the store to data and its customers' keys to
// keys, while reads and writes go on. The data is the store as it was when
// Backup began; the keys as they were when it finished the data. Restore
// reads both back.
func (s *Store) Backup(ctx context.Context, data, keysOut io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// Data first: a customer forgotten between the two has data and no key,
	// which a restore drops; the other way round would keep them.
	for _, part := range []struct {
		w    io.Writer
		kind byte
		keep func(key []byte) bool
	}{
		{data, streamData, func(k []byte) bool { return !bytes.HasPrefix(k, keys.CustomerKeys) }},
		{keysOut, streamKeys, func(k []byte) bool { return bytes.HasPrefix(k, keys.CustomerKeys) }},
	} {
		bw := bufio.NewWriter(part.w)
		if _, err := bw.Write(append(append([]byte(nil), backupMagic...), storeFormat, part.kind)); err != nil {
			return err
		}
		if err := s.db.Backup(bw, part.keep); err != nil {
			return fmt.Errorf("memory: backup: %w", storeErr(err))
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// Restore makes a store from a backup: opts must name a new, empty store;
// data and keys are the streams Backup wrote. Customers whose key is not in
// the keys backup (forgotten before it was taken) are dropped: a restore
// never brings back a forgotten customer. A backup of a newer store format
// is refused with ErrFormat.
func Restore(ctx context.Context, opts Options, data, keysIn io.Reader) (*Store, error) {
	if data == nil || keysIn == nil {
		return nil, invalid("restore", "needs the data and the keys backup")
	}
	return open(ctx, opts, func(db *kv.DB) error {
		t := db.Begin(false)
		empty := true
		err := t.Scan(nil, true, func(_, _ []byte) error { empty = false; return errStopScan })
		t.Discard()
		if err != nil && !errors.Is(err, errStopScan) {
			return storeErr(err)
		}
		if !empty {
			return invalid("restore", "the store is not empty; restore into a new one")
		}
		for _, part := range []struct {
			r    io.Reader
			kind byte
		}{{data, streamData}, {keysIn, streamKeys}} {
			br := bufio.NewReader(part.r)
			head := make([]byte, len(backupMagic)+2)
			if _, err := io.ReadFull(br, head); err != nil || !bytes.Equal(head[:len(backupMagic)], backupMagic) {
				return invalid("backup", "not a herken backup")
			}
			if v := int(head[len(backupMagic)]); v > storeFormat {
				return fmt.Errorf("%w: the backup was written by store format %d; this build reads up to %d", ErrFormat, v, storeFormat)
			}
			if head[len(backupMagic)+1] != part.kind {
				return invalid("backup", "the data and keys backups are swapped or of another kind")
			}
			if err := db.Load(br); err != nil {
				return fmt.Errorf("memory: restore: %w", storeErr(err))
			}
		}
		return dropKeyless(db)
	})
}

// dropKeyless erases what a restore brought without its key: customers
// forgotten before the keys backup, and keys of customers created after the
// data backup.
func dropKeyless(db *kv.DB) error {
	t := db.Begin(true)
	defer t.Discard()
	has := map[string]bool{}
	err := t.Scan(keys.CustomerKeys, true, func(k, _ []byte) error {
		has[string(k[len(keys.CustomerKeys):])] = true
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	customers := map[string]bool{}
	var prefixes [][]byte
	err = t.Scan([]byte("c/"), true, func(k, _ []byte) error {
		if len(k) < len("c/")+customerIDLen {
			return nil
		}
		id := string(k[len("c/") : len("c/")+customerIDLen])
		if !customers[id] {
			customers[id] = true
			if !has[id] {
				prefixes = append(prefixes, keys.Customer(id), keys.Events(id))
			}
		}
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	for id := range has {
		if !customers[id] {
			prefixes = append(prefixes, keys.CustomerKey(id))
		}
	}
	var stale [][]byte
	err = t.Scan(keys.Identifiers, false, func(k, v []byte) error {
		var e indexEntry
		if err := codec.Unmarshal(v, &e); err != nil {
			return storeErr(err)
		}
		if !has[string(e.Customer)] {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	for _, k := range stale {
		if err := t.Delete(k); err != nil {
			return storeErr(err)
		}
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	if len(prefixes) == 0 {
		return nil
	}
	return storeErr(db.DropPrefixes(prefixes...))
}

// errStopScan ends a scan early.
var errStopScan = errors.New("stop")
