//go:build !wasip1

package memory

import (
	"errors"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// A log is a bounded timeline beside a profile (contacts, resolved issues):
// an entry a key, numbered in order, and a range record saying which
// numbers are kept. Appending writes one entry and drops the oldest past
// the bound; nothing else is read or rewritten.

// logRange is the stored range of a log: entries first..next-1 exist.
type logRange struct {
	First uint64 `msgpack:"f"`
	Next  uint64 `msgpack:"n"`
}

func readRange(t *kv.Txn, l keys.Log) (logRange, error) {
	var r logRange
	err := t.Get(l.Range, func(b []byte) error { return codec.Unmarshal(b, &r) })
	if errors.Is(err, kv.ErrNotFound) {
		return logRange{}, nil
	}
	return r, storeErr(err)
}

// appendLog appends entries to log l, keeping the newest keep; with
// replace, the entries replace the whole log.
func appendLog[T any](t *kv.Txn, l keys.Log, entries []T, keep int, replace bool) error {
	if len(entries) == 0 && !replace {
		return nil
	}
	r, err := readRange(t, l)
	if err != nil {
		return err
	}
	if replace {
		var old [][]byte
		if err := t.Scan(l.Prefix, true, func(k, _ []byte) error {
			old = append(old, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		r = logRange{}
	}
	for i := range entries {
		b, err := codec.Marshal(&entries[i])
		if err != nil {
			return err
		}
		if err := t.Set(l.Entry(r.Next), b); err != nil {
			return err
		}
		r.Next++
	}
	for r.Next-r.First > uint64(keep) {
		if err := t.Delete(l.Entry(r.First)); err != nil {
			return err
		}
		r.First++
	}
	if r.Next == r.First {
		return t.Delete(l.Range)
	}
	b, err := codec.Marshal(&r)
	if err != nil {
		return err
	}
	return t.Set(l.Range, b)
}

// readLog calls fn with each entry of log l, oldest first.
func readLog[T any](t *kv.Txn, l keys.Log, fn func(*T)) error {
	return t.Scan(l.Prefix, false, func(_, v []byte) error {
		e := new(T)
		if err := codec.Unmarshal(v, e); err != nil {
			return storeErr(err)
		}
		fn(e)
		return nil
	})
}

// countLog returns how many entries log l keeps.
func countLog(t *kv.Txn, l keys.Log) (int, error) {
	r, err := readRange(t, l)
	return int(r.Next - r.First), err
}
