//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/dict"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/seal"
)

var bytesDir = flag.String("bytes.dir", "", "a closed store directory whose keys and values TestBytesByKind sums by kind")

// TestBytesByKind prints what a store's live keys and values take, by the
// kind of key (its prefix, and for a customer's c/ keys the kind after the
// ID), per customer: what the bench's bytes on disk are made of, before
// the storage engine's own overhead.
//
//	go run ./bench -customers 10000 -only open -no-peers -no-wasm -no-browser -quiet -dir /tmp/s
//	go test ./memory -run TestBytesByKind -bytes.dir /tmp/s -v
//
// Without -bytes.dir it sums a small store it writes itself.
func TestBytesByKind(t *testing.T) {
	dir := bytesStore(t)
	db, err := kv.Open(kv.Options{Dir: dir, ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	type sum struct{ n, key, val int }
	kinds := map[string]*sum{}
	customers := map[string]bool{}
	tx := db.Begin(false)
	defer tx.Discard()
	err = tx.Scan(nil, false, func(k, v []byte) error {
		kind := string(k[:min(len(k), 2)])
		switch {
		case kind == "c/" && len(k) > 2+customerIDLen+1:
			customers[string(k[2:2+customerIDLen])] = true
			kind = "c/<id>" + string(k[2+customerIDLen:min(len(k), 2+customerIDLen+2)])
		case kind == "e/" && len(k) > 2+customerIDLen+1:
			kind = fmt.Sprintf("e/ (sealed v%d)", v[0])
		case kind == "i/":
			kind = "i/"
		}
		s := kinds[kind]
		if s == nil {
			s = &sum{}
			kinds[kind] = s
		}
		s.n++
		s.key += len(k)
		s.val += len(v)
		return nil
	})
	require.NoError(t, err)
	n := max(len(customers), 1)
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	total := 0
	t.Logf("%d customers; per customer:", n)
	t.Logf("%-18s %8s %8s %8s %8s", "kind", "values", "key B", "value B", "B")
	for _, k := range names {
		s := kinds[k]
		total += s.key + s.val
		t.Logf("%-18s %8.2f %8.1f %8.1f %8.1f", k, float64(s.n)/float64(n), float64(s.key)/float64(n), float64(s.val)/float64(n), float64(s.key+s.val)/float64(n))
	}
	t.Logf("%-18s %8s %8s %8s %8.1f", "all", "", "", "", float64(total)/float64(n))
	require.Contains(t, kinds, "c/<id>/p", "no profiles were counted")
	require.Contains(t, kinds, fmt.Sprintf("e/ (sealed v%d)", 3), "no history was counted as compressed and sealed")
}

// bytesStore returns -bytes.dir, or a closed store it wrote with customers
// that have a history of some length.
func bytesStore(t *testing.T) string {
	t.Helper()
	if *bytesDir != "" {
		return *bytesDir
	}
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	for i := range 60 {
		r, err := s.Recognize(ctx, Email(fmt.Sprintf("bytes-%d@example.com", i)).AsVerified())
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, r.Customer, func(tx *Tx) error {
			if err := tx.Remember(Fact{Key: "shipping.postcode", Value: fmt.Sprintf("%04d AB", 1000+i)}); err != nil {
				return err
			}
			for j := range 40 {
				if _, err := tx.RecordContact(Contact{Channel: ChannelChat, Summary: fmt.Sprintf("asked about order %d-%d", i, j)}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Close())
	return dir
}

var dictWrite = flag.String("dict.write", "", "with -bytes.dir: train a zstd dictionary on the store's profiles and packs of events and write it to this file")

// TestTrainDictionary trains the dictionary that values are compressed
// against (internal/seal/dictionary.go) on the plain values of a store:
// its profiles and packs of events.
//
//	go run ./bench -customers 4000 -seed 7 -only open -no-peers -no-wasm -no-browser -quiet -dir /tmp/train
//	go test ./memory -run TestTrainDictionary -bytes.dir /tmp/train -dict.write /tmp/dict
//
// Without the flags it trains on a small store it writes itself, into a
// file of its own, so that training keeps working.
func TestTrainDictionary(t *testing.T) {
	out := *dictWrite
	if out == "" {
		out = filepath.Join(t.TempDir(), "dict")
	}
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(bytesStore(t)))
	require.NoError(t, err)
	defer s.Close()
	var samples [][]byte
	tx := s.db.Begin(false)
	defer tx.Discard()
	for _, prefix := range [][]byte{[]byte("c/"), []byte("e/")} {
		err = tx.Scan(prefix, false, func(k, v []byte) error {
			if len(k) < 2+customerIDLen {
				return nil
			}
			if prefix[0] == 'c' && !bytes.HasSuffix(k, []byte("/p")) {
				return nil
			}
			id := CustomerID(k[2 : 2+customerIDLen])
			u, err := s.unsealer(tx, s.epoch.Now(), id)
			if err != nil {
				return err
			}
			plain, err := u.open(k, v)
			if err != nil {
				return err
			}
			samples = append(samples, plain)
			return nil
		})
		require.NoError(t, err)
	}
	t.Logf("%d samples", len(samples))
	d, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: 8 << 10, HashBytes: 6, ZstdDictID: seal.DictionaryID(len(seal.Dictionaries()) + 1)})
	require.NoError(t, err)
	require.NotEmpty(t, d)
	require.NoError(t, os.WriteFile(out, d, 0o644))
}
