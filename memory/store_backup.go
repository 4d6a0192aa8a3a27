//go:build !wasip1

package memory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
	"github.com/herken/herken/memory/internal/seal"
)

// Backups come in two streams: data holds every customer's sealed values,
// keys holds the customers' keys and the secret that keys the identifier
// hashes. A customer's data opens only with their key, and an identifier is
// found only with the secret: keep the keys backups apart from the data
// backups and for a short time only, and a customer forgotten after a
// backup cannot be read from it, nor an identifier of theirs confirmed,
// once no keys backup from before the Forget is left.

// backupMagic starts every stream, followed by the store format version and
// the kind of stream.
var backupMagic = []byte("herken backup\x00")

const (
	streamData = 'd'
	streamKeys = 'k'
)

// A keys stream of format 2 holds one record a key: the owner (the
// customer's ID), the key's generation, the key, and a CRC-32C of those.
// From format 3, the identifier secret and its CRC-32C come first. (Format 1
// wrote the keys as entries of the engine's backup.)
const (
	keyRecordLen    = keyfile.OwnerSize + 1 + seal.KeySize + 4
	secretRecordLen = seal.KeySize + 4
)

// restored is what the keys backup of a restore holds.
type restored struct {
	secret []byte           // the identifier secret, from store format 3
	keys   map[keyOf][]byte // the customers' keys, from store format 2
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Backup writes a copy of the store to data and its customers' keys, with
// the secret of the identifier hashes, to keys, while reads and writes go
// on. The data alone opens nothing and hashes no identifier. The data is the store as it was when
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
	// No key is replaced meanwhile: the keys must open the data. In
	// PostgreSQL, rekeys are the work of whichever instance holds the
	// work lock: hold it.
	s.eraser.rekeyMu.RLock()
	defer s.eraser.rekeyMu.RUnlock()
	return s.exclusive(pgkv.LockWork, true, func() error { return s.backup(data, keysOut) })
}

func (s *Store) backup(data, keysOut io.Writer) error {
	// Data first: a customer forgotten between the two has data and no key,
	// which a restore drops; the other way round would keep them.
	bw := bufio.NewWriter(data)
	if err := writeBackupHead(bw, streamData); err != nil {
		return err
	}
	if err := s.db.Backup(bw, func([]byte) bool { return true }); err != nil {
		return fmt.Errorf("memory: backup: %w", storeErr(err))
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	bw = bufio.NewWriter(keysOut)
	if err := writeBackupHead(bw, streamKeys); err != nil {
		return err
	}
	rec := binary.BigEndian.AppendUint32(bytes.Clone(s.secret), crc32.Checksum(s.secret, castagnoli))
	if _, err := bw.Write(rec); err != nil {
		return err
	}
	if err := s.backupKeys(bw); err != nil {
		return fmt.Errorf("memory: backup the keys: %w", err)
	}
	return bw.Flush()
}

func writeBackupHead(w io.Writer, kind byte) error {
	_, err := w.Write(append(append([]byte(nil), backupMagic...), storeFormat, kind))
	return err
}

// backupKeys writes the record of every customer key the store holds now.
func (s *Store) backupKeys(w io.Writer) error {
	t := s.db.Begin(false)
	defer t.Discard()
	rec := make([]byte, keyRecordLen)
	return t.Scan(keys.KeyRefs, false, func(k, v []byte) error {
		id := CustomerID(k[len(keys.KeyRefs):])
		var r keyRef
		if err := codec.Unmarshal(v, &r); err != nil {
			return storeErr(err)
		}
		owner, err := ownerOf(id)
		if err != nil {
			return fmt.Errorf("%w: a key reference under %q", ErrFormat, k)
		}
		for _, g := range []struct {
			slot uint32
			gen  byte
		}{{r.Slot, r.Gen}, {r.Old, r.OldGen}} {
			if g.slot == 0 {
				continue
			}
			key, err := s.keyfile.Get(keyfile.Slot(g.slot), owner)
			if err != nil {
				return keyErr(id, err)
			}
			copy(rec, owner)
			rec[keyfile.OwnerSize] = g.gen
			copy(rec[keyfile.OwnerSize+1:], key)
			binary.BigEndian.PutUint32(rec[keyRecordLen-4:], crc32.Checksum(rec[:keyRecordLen-4], castagnoli))
			if _, err := w.Write(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyOf names one key of a customer in a keys backup.
type keyOf struct {
	owner string
	gen   byte
}

// Restore makes a store from a backup: opts must name a new, empty store;
// data and keys are the streams Backup wrote. Customers whose key is not in
// the keys backup (forgotten before it was taken) are dropped: a restore
// never brings back a forgotten customer. A keys backup cut short, or
// without the identifier secret, is refused with ErrInvalidInput; a backup
// of a newer store format with ErrFormat.
func Restore(ctx context.Context, opts Options, data, keysIn io.Reader) (*Store, error) {
	if data == nil || keysIn == nil {
		return nil, invalid("restore", "needs the data and the keys backup")
	}
	dr, kr := bufio.NewReader(data), bufio.NewReader(keysIn)
	dataFormat, err := readBackupHead(dr, streamData)
	if err != nil {
		return nil, err
	}
	keysFormat, err := readBackupHead(kr, streamKeys)
	if err != nil {
		return nil, err
	}
	if dataFormat != keysFormat {
		return nil, invalid("backup", fmt.Sprintf("the data backup is of store format %d and the keys backup of %d: they are not of one backup", dataFormat, keysFormat))
	}
	var staged *restored
	if keysFormat >= 2 {
		staged = &restored{}
		if keysFormat >= 3 {
			if staged.secret, err = readSecretRecord(kr); err != nil {
				return nil, err
			}
		}
		if staged.keys, err = readKeyRecords(kr); err != nil {
			return nil, err
		}
	}
	return open(ctx, opts, func(db kv.DB) error {
		t := db.Begin(false)
		empty, err := isEmpty(t)
		t.Discard()
		if err != nil {
			return err
		}
		if !empty {
			return invalid("restore", "the store is not empty; restore into a new one")
		}
		if err := db.Load(dr); err != nil {
			return fmt.Errorf("memory: restore: %w", storeErr(err))
		}
		if keysFormat >= 2 {
			return nil
		}
		// Format 1 kept the keys in the engine: load them, and the
		// migration moves them into the key file.
		if err := db.Load(kr); err != nil {
			return fmt.Errorf("memory: restore: %w", storeErr(err))
		}
		return dropKeyless(db)
	}, staged)
}

// readBackupHead reads the head of a backup stream of kind and returns its
// store format.
func readBackupHead(r io.Reader, kind byte) (int, error) {
	head := make([]byte, len(backupMagic)+2)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head[:len(backupMagic)], backupMagic) {
		return 0, invalid("backup", "not a herken backup")
	}
	v := int(head[len(backupMagic)])
	if v > storeFormat {
		return 0, fmt.Errorf("%w: the backup was written by store format %d; this build reads up to %d", ErrFormat, v, storeFormat)
	}
	if head[len(backupMagic)+1] != kind {
		return 0, invalid("backup", "the data and keys backups are swapped or of another kind")
	}
	return v, nil
}

// readSecretRecord reads the identifier secret that starts a keys backup of
// format 3.
func readSecretRecord(r io.Reader) ([]byte, error) {
	rec := make([]byte, secretRecordLen)
	if _, err := io.ReadFull(r, rec); err != nil {
		return nil, invalid("keys backup", "cut short: it lacks the identifier secret")
	}
	if binary.BigEndian.Uint32(rec[seal.KeySize:]) != crc32.Checksum(rec[:seal.KeySize], castagnoli) {
		return nil, invalid("keys backup", "damaged: the identifier secret does not match its checksum")
	}
	return rec[:seal.KeySize], nil
}

// readKeyRecords reads the key records of a keys backup of format 2 on.
func readKeyRecords(r io.Reader) (map[keyOf][]byte, error) {
	out := map[keyOf][]byte{}
	rec := make([]byte, keyRecordLen)
	for {
		_, err := io.ReadFull(r, rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, invalid("keys backup", "cut short")
		}
		if binary.BigEndian.Uint32(rec[keyRecordLen-4:]) != crc32.Checksum(rec[:keyRecordLen-4], castagnoli) {
			return nil, invalid("keys backup", "damaged: a record does not match its checksum")
		}
		k := keyOf{owner: string(rec[:keyfile.OwnerSize]), gen: rec[keyfile.OwnerSize]}
		out[k] = bytes.Clone(rec[keyfile.OwnerSize+1 : keyRecordLen-4])
	}
}

// restoreKeys puts the keys of every customer that the restored data
// holds into the key file, and drops the customers whose keys the backup
// lacks. Marks that name slots of the backed-up store's key file (keys to
// destroy) are taken out first: those slots mean other keys here.
func (s *Store) restoreKeys(staged map[keyOf][]byte) error {
	if err := s.forgetSourceSlots(); err != nil {
		return err
	}
	var puts []named
	var dropped []CustomerID
	t := s.db.Begin(false)
	err := t.Scan(keys.KeyRefs, false, func(k, v []byte) error {
		id := CustomerID(k[len(keys.KeyRefs):])
		var r keyRef
		if err := codec.Unmarshal(v, &r); err != nil {
			return storeErr(err)
		}
		owner, err := ownerOf(id)
		if err != nil {
			return fmt.Errorf("%w: a key reference under %q", ErrFormat, k)
		}
		cur, ok := staged[keyOf{string(owner), r.Gen}]
		var old []byte
		if ok && r.Old != 0 {
			old, ok = staged[keyOf{string(owner), r.OldGen}]
		}
		if !ok {
			dropped = append(dropped, id)
			return nil
		}
		slot, err := s.keyfile.Put(owner, cur)
		if err != nil {
			return keyErr(id, err)
		}
		r.Slot = uint32(slot)
		if old != nil {
			if slot, err = s.keyfile.Put(owner, old); err != nil {
				return keyErr(id, err)
			}
			r.Old = uint32(slot)
		}
		puts = append(puts, named{id, r})
		return nil
	})
	t.Discard()
	if err != nil {
		return err
	}
	if err := s.nameKeys(puts, nil); err != nil {
		return err
	}
	return s.dropCustomers(dropped)
}

// dropCustomers deletes everything of customers whose keys are lost: their
// data, sealed with those keys, and the identifiers that point at them.
func (s *Store) dropCustomers(ids []CustomerID) error {
	if len(ids) == 0 {
		return nil
	}
	gone := map[CustomerID]bool{}
	var prefixes [][]byte
	for _, id := range ids {
		gone[id] = true
		prefixes = append(prefixes, keys.Customer(string(id)), keys.Events(string(id)), keys.KeyRef(string(id)), keys.Queued(string(id)))
	}
	t := s.db.Begin(false)
	err := t.Scan(keys.Identifiers, false, func(k, v []byte) error {
		var e indexEntry
		if err := codec.Unmarshal(v, &e); err != nil {
			return storeErr(err)
		}
		if gone[e.Customer] {
			prefixes = append(prefixes, bytes.Clone(k))
		}
		return nil
	})
	if err == nil {
		err = t.Scan(keys.Queue, true, func(k, _ []byte) error {
			if _, id := keys.QueueOf(k); gone[CustomerID(id)] {
				prefixes = append(prefixes, bytes.Clone(k))
			}
			return nil
		})
	}
	t.Discard()
	if err != nil {
		return err
	}
	return storeErr(s.db.DeletePrefixes(prefixes...))
}

// dropKeyless erases what a restore of format 1 brought without its key:
// customers forgotten before the keys backup, and keys of customers created
// after the data backup.
func dropKeyless(db kv.DB) error {
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

// forgetSourceSlots takes out of restored marks the slots they name in the
// key file of the store that was backed up: the keys a forget had still to
// destroy there are not in the keys backup, and the keys a rekey had still
// to destroy were replaced.
func (s *Store) forgetSourceSlots() error {
	t := s.db.Begin(true)
	defer t.Discard()
	marks, err := readPurges(t)
	if err != nil {
		return err
	}
	for id, p := range marks {
		if len(p.Slots) > 0 {
			p.Slots = nil
			if err := putPurge(t, id, p); err != nil {
				return storeErr(err)
			}
		}
	}
	var destroys [][]byte
	err = t.Scan(keys.Destroys, true, func(k, _ []byte) error {
		destroys = append(destroys, bytes.Clone(k))
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	for _, k := range destroys {
		if err := t.Delete(k); err != nil {
			return storeErr(err)
		}
	}
	return storeErr(t.Commit())
}
