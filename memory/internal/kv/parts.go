//go:build !wasip1

package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Large values are kept in parts. Badger takes a value below its value
// threshold (1 MiB) into its tree, and one at or above it into its value
// log, but a value of exactly the threshold makes its writer goroutine panic
// (writeToLSM indexes a value pointer that was never made), and an in-memory
// database refuses anything above it with an error that dumps the value. So
// no value handed to Badger is longer than PartSize: a longer one is
// written as a header under its own key and its parts under keys of their
// own, outside every prefix the store scans, and read back whole.
//
// A part's key is partSpace, the value's key, then the part's number, four
// bytes big-endian. Keys of one length never collide, and no key the store
// uses starts with partSpace.

// PartSize is the largest value kept in one piece.
const PartSize = 256 << 10

// partSpace starts the key of every part.
const partSpace = 0xff

// Badger's UserMeta marks a header.
const metaParts = 1

// header is the value kept under the key of a value in parts.
type header struct {
	parts uint32
	size  uint64
}

const headerLen = 4 + 8

func (h header) encode() []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, headerLen), h.parts)
	return binary.BigEndian.AppendUint64(b, h.size)
}

func decodeHeader(key, b []byte) (header, error) {
	if len(b) != headerLen {
		return header{}, fmt.Errorf("%w: the header of %q has %d bytes", ErrCorrupt, key, len(b))
	}
	h := header{parts: binary.BigEndian.Uint32(b), size: binary.BigEndian.Uint64(b[4:])}
	if h.parts < 2 || h.size > uint64(h.parts)*PartSize || h.size <= uint64(h.parts-1)*PartSize {
		return header{}, fmt.Errorf("%w: the header of %q says %d bytes in %d parts", ErrCorrupt, key, h.size, h.parts)
	}
	return h, nil
}

// partKey returns the key of part n of the value kept under key.
func partKey(key []byte, n uint32) []byte {
	b := make([]byte, 0, 1+len(key)+4)
	b = append(b, partSpace)
	b = append(b, key...)
	return binary.BigEndian.AppendUint32(b, n)
}

// partPrefix returns the prefix of the parts of every value whose key
// starts with prefix.
func partPrefix(prefix []byte) []byte { return append([]byte{partSpace}, prefix...) }

// IsPart reports whether key is the key of a part, and returns the key of
// the value it is part of.
func IsPart(key []byte) ([]byte, bool) {
	if len(key) < 1+4 || key[0] != partSpace {
		return nil, false
	}
	return key[1 : len(key)-4], true
}

// withParts adds to prefixes the prefixes of their values' parts.
func withParts(prefixes [][]byte) [][]byte {
	out := make([][]byte, 0, 2*len(prefixes))
	for _, p := range prefixes {
		out = append(out, p, partPrefix(p))
	}
	return out
}

// partsOf returns the header of the value under key as the transaction sees
// it, or zero parts when it is kept in one piece or does not exist.
func (t *badgerTxn) partsOf(key []byte) (header, error) {
	item, err := t.t.Get(key)
	if err != nil {
		if err == badger.ErrKeyNotFound {
			return header{}, nil
		}
		return header{}, translate(err)
	}
	if item.UserMeta()&metaParts == 0 {
		return header{}, nil
	}
	var h header
	err = item.Value(func(b []byte) error {
		h, err = decodeHeader(key, b)
		return err
	})
	return h, err
}

// readParts returns the whole value whose header item is.
func (t *badgerTxn) readParts(item *badger.Item) ([]byte, error) {
	key := item.Key()
	var h header
	err := item.Value(func(b []byte) (err error) {
		h, err = decodeHeader(key, b)
		return err
	})
	if err != nil {
		return nil, translate(err)
	}
	val := make([]byte, 0, h.size)
	for n := range h.parts {
		part, err := t.t.Get(partKey(key, n))
		if err == badger.ErrKeyNotFound {
			return nil, fmt.Errorf("%w: part %d of %d of %q is missing", ErrCorrupt, n+1, h.parts, key)
		}
		if err != nil {
			return nil, translate(err)
		}
		err = part.Value(func(b []byte) error {
			val = append(val, b...)
			return nil
		})
		if err != nil {
			return nil, translate(err)
		}
	}
	if uint64(len(val)) != h.size {
		return nil, fmt.Errorf("%w: the parts of %q hold %d bytes, not %d", ErrCorrupt, key, len(val), h.size)
	}
	return val, nil
}

// setParts writes val, longer than PartSize, in parts under key, replacing
// what old says is there.
func (t *badgerTxn) setParts(key, val []byte, old header) error {
	h := header{parts: uint32((len(val) + PartSize - 1) / PartSize), size: uint64(len(val))}
	for n := range h.parts {
		end := min(int(n+1)*PartSize, len(val))
		if err := t.t.Set(partKey(key, n), val[int(n)*PartSize:end]); err != nil {
			return translate(err)
		}
	}
	if err := t.deleteParts(key, h.parts, old.parts); err != nil {
		return err
	}
	return translate(t.t.SetEntry(badger.NewEntry(key, h.encode()).WithMeta(metaParts)))
}

// deleteParts deletes parts from up to to of the value under key.
func (t *badgerTxn) deleteParts(key []byte, from, to uint32) error {
	for n := from; n < to; n++ {
		if err := t.t.Delete(partKey(key, n)); err != nil {
			return translate(err)
		}
	}
	return nil
}
