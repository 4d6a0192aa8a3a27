//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/klauspost/compress/dict"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
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
func TestBytesByKind(t *testing.T) {
	if *bytesDir == "" {
		t.Skip("no -bytes.dir")
	}
	db, err := kv.Open(kv.Options{Dir: *bytesDir, ReadOnly: true})
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
}

var dictWrite = flag.String("dict.write", "", "with -bytes.dir: train a zstd dictionary on the store's profiles and packs of events and write it to this file")

// TestTrainDictionary trains the dictionary that values are compressed
// against (internal/seal/dictionary.go) on the plain values of a store:
// its profiles and packs of events.
//
//	go run ./bench -customers 4000 -seed 7 -only open -no-peers -no-wasm -no-browser -quiet -dir /tmp/train
//	go test ./memory -run TestTrainDictionary -bytes.dir /tmp/train -dict.write /tmp/dict
func TestTrainDictionary(t *testing.T) {
	if *bytesDir == "" || *dictWrite == "" {
		t.Skip("no -bytes.dir and -dict.write")
	}
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(*bytesDir))
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
	require.NoError(t, os.WriteFile(*dictWrite, d, 0o644))
}

func TestPeekValues(t *testing.T) {
	if *bytesDir == "" || os.Getenv("PEEK") == "" {
		t.Skip()
	}
	s, err := Open(context.Background(), DefaultOptions(*bytesDir))
	require.NoError(t, err)
	defer s.Close()
	tx := s.db.Begin(false)
	defer tx.Discard()
	n := 0
	_ = tx.Scan([]byte("e/"), false, func(k, v []byte) error {
		id := CustomerID(k[2 : 2+customerIDLen])
		u, _ := s.unsealer(tx, s.epoch.Now(), id)
		plain, err := u.open(k, v)
		require.NoError(t, err)
		t.Logf("%s %d -> %d\n%q", k, len(plain), len(v), plain)
		p, _ := s.readProfile(tx, s.epoch.Now(), id)
		if p != nil {
			b, _ := codec.Marshal(p)
			t.Logf("profile %d\n%q", len(b), b)
		}
		n++
		if n > 3 {
			return errStopScan
		}
		return nil
	})
}
