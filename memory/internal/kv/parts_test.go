//go:build !wasip1

package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// engines opens one database of each kind a store uses.
func engines(t *testing.T) map[string]*Badger {
	t.Helper()
	out := map[string]*Badger{}
	for name, o := range map[string]Options{"disk": {Dir: t.TempDir(), SyncWrites: true}, "memory": {InMemory: true}} {
		db, err := Open(o)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		out[name] = db
	}
	return out
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func setValue(t *testing.T, db *Badger, key, val []byte) {
	t.Helper()
	tx := db.Begin(true)
	defer tx.Discard()
	require.NoError(t, tx.Set(key, val))
	require.NoError(t, tx.Commit())
}

func get(t *testing.T, db *Badger, key []byte) ([]byte, error) {
	t.Helper()
	tx := db.Begin(false)
	defer tx.Discard()
	var got []byte
	err := tx.Get(key, func(v []byte) error { got = bytes.Clone(v); return nil })
	return got, err
}

// countKeys counts every live key the database holds, parts included.
func countKeys(t *testing.T, db *Badger) int {
	t.Helper()
	n := 0
	require.NoError(t, db.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	}))
	return n
}

// TestValueSizes writes values around every boundary that matters: a part,
// and Badger's value threshold (1 MiB), at which a value made Badger's
// writer panic on disk and was refused in memory with a hex dump.
func TestValueSizes(t *testing.T) {
	var sizes []int
	for _, b := range []int{PartSize, 2 * PartSize, 1 << 20, 4 << 20} {
		sizes = append(sizes, b-1, b, b+1)
	}
	for name, db := range engines(t) {
		t.Run(name, func(t *testing.T) {
			for _, n := range sizes {
				key := []byte(fmt.Sprintf("v/%d", n))
				val := randomBytes(n, uint64(n))
				setValue(t, db, key, val)
				got, err := get(t, db, key)
				require.NoError(t, err, "%d bytes", n)
				require.True(t, bytes.Equal(val, got), "%d bytes come back as written", n)
			}
		})
	}
}

// TestPartsReplaced overwrites a value in parts with longer, shorter and
// short values and deletes it: no part is left behind, and scans never
// show one.
func TestPartsReplaced(t *testing.T) {
	for name, db := range engines(t) {
		t.Run(name, func(t *testing.T) {
			key := []byte("d/cart")
			base := countKeys(t, db)
			for i, n := range []int{3*PartSize + 5, 5 * PartSize, PartSize + 1, 10, 2*PartSize + 1, 0} {
				val := randomBytes(n, uint64(i))
				setValue(t, db, key, val)
				got, err := get(t, db, key)
				require.NoError(t, err)
				require.True(t, bytes.Equal(val, got), "write %d: %d bytes", i, n)
				parts := 0
				if n > PartSize {
					parts = (n + PartSize - 1) / PartSize
				}
				require.Equal(t, base+1+parts, countKeys(t, db), "write %d: the value and its %d parts", i, parts)

				tx := db.Begin(false)
				var keys []string
				require.NoError(t, tx.Scan([]byte("d/"), false, func(k, v []byte) error {
					keys = append(keys, string(k))
					require.True(t, bytes.Equal(val, v), "a scan gives the whole value")
					return nil
				}))
				require.NoError(t, tx.Scan(nil, true, func(k, _ []byte) error {
					_, isPart := IsPart(k)
					require.False(t, isPart, "a scan of everything shows no part: %q", k)
					return nil
				}))
				tx.Discard()
				require.Equal(t, []string{"d/cart"}, keys)
			}
			tx := db.Begin(true)
			require.NoError(t, tx.Set(key, randomBytes(4*PartSize, 1)))
			require.NoError(t, tx.Commit())
			tx.Discard()
			tx = db.Begin(true)
			require.NoError(t, tx.Delete(key))
			require.NoError(t, tx.Commit())
			tx.Discard()
			require.Equal(t, base, countKeys(t, db), "a delete takes the parts with it")
		})
	}
}

// TestPartsWithinOneTransaction reads a value in parts back before the
// commit, and rolls it back whole on discard.
func TestPartsWithinOneTransaction(t *testing.T) {
	db := open(t)
	key, val := []byte("k"), randomBytes(3*PartSize, 3)
	tx := db.Begin(true)
	require.NoError(t, tx.Set(key, val))
	var got []byte
	require.NoError(t, tx.Get(key, func(v []byte) error { got = bytes.Clone(v); return nil }))
	require.True(t, bytes.Equal(val, got))
	tx.Discard()
	_, err := get(t, db, key)
	require.ErrorIs(t, err, ErrNotFound)
	require.Zero(t, countKeys(t, db))
}

// TestPartsDroppedWithTheirPrefix drops and deletes prefixes that hold
// values in parts.
func TestPartsDroppedWithTheirPrefix(t *testing.T) {
	for name, db := range engines(t) {
		t.Run(name, func(t *testing.T) {
			setValue(t, db, []byte("a/1"), randomBytes(3*PartSize, 1))
			setValue(t, db, []byte("b/1"), randomBytes(3*PartSize, 2))
			setValue(t, db, []byte("c/1"), randomBytes(3*PartSize, 3))
			require.NoError(t, db.DropPrefixes([]byte("a/")))
			require.NoError(t, db.DeletePrefixes([]byte("b/")))
			require.Equal(t, 1+3, countKeys(t, db), "c/1 and its parts")
			got, err := get(t, db, []byte("c/1"))
			require.NoError(t, err)
			require.True(t, bytes.Equal(randomBytes(3*PartSize, 3), got))
		})
	}
}

// TestPartsInBackups backs up values in parts and loads them elsewhere.
func TestPartsInBackups(t *testing.T) {
	src := open(t)
	setValue(t, src, []byte("keep/1"), randomBytes(3*PartSize+9, 1))
	setValue(t, src, []byte("skip/1"), randomBytes(3*PartSize+9, 2))
	var buf bytes.Buffer
	require.NoError(t, src.Backup(&buf, func(k []byte) bool { return bytes.HasPrefix(k, []byte("keep/")) }))
	dst := open(t)
	require.NoError(t, dst.Load(&buf))
	got, err := get(t, dst, []byte("keep/1"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(randomBytes(3*PartSize+9, 1), got))
	require.Equal(t, 1+4, countKeys(t, dst), "only the kept value and its parts")
}

// TestMissingPartIsCorrupt reads a value whose part is gone.
func TestMissingPartIsCorrupt(t *testing.T) {
	db := open(t)
	setValue(t, db, []byte("k"), randomBytes(2*PartSize+1, 1))
	tx := db.Begin(true)
	require.NoError(t, tx.(*badgerTxn).t.Delete(partKey([]byte("k"), 1)))
	require.NoError(t, tx.Commit())
	tx.Discard()
	_, err := get(t, db, []byte("k"))
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestTooBigIsTranslated commits more than one transaction takes, and a key
// longer than MaxKeySize: both are ErrTooBig, and nothing is written.
func TestTooBigIsTranslated(t *testing.T) {
	for name, db := range engines(t) {
		t.Run(name, func(t *testing.T) {
			tx := db.Begin(true)
			var err error
			for i := 0; err == nil && i < 64; i++ {
				err = tx.Set([]byte(fmt.Sprintf("big/%d", i)), randomBytes(1<<20, uint64(i)))
			}
			require.ErrorIs(t, err, ErrTooBig)
			require.Less(t, len(err.Error()), 200, "no dump of the value")
			tx.Discard()
			tx = db.Begin(true)
			err = tx.Set(bytes.Repeat([]byte("k"), MaxKeySize+1), []byte("v"))
			require.ErrorIs(t, err, ErrTooBig)
			tx.Discard()
			require.Zero(t, countKeys(t, db))
			require.True(t, errors.Is(err, ErrTooBig))
		})
	}
}

// TestDeletePrefixesWaitsForADrop deletes while drops stop writes, again
// and again: every delete finishes (a batch whose flush was refused kept
// its error for ever, and the delete spun).
func TestDeletePrefixesWaitsForADrop(t *testing.T) {
	db := open(t)
	// set writes, waiting while a drop stops writes, as the store's writes
	// do.
	set := func(key []byte) error {
		for {
			tx := db.Begin(true)
			err := tx.Set(key, []byte("v"))
			if err == nil {
				err = tx.Commit()
			}
			tx.Discard()
			if !errors.Is(err, ErrBlocked) {
				return err
			}
			time.Sleep(time.Millisecond)
		}
	}
	done := make(chan error, 1)
	go func() {
		for range 100 {
			if err := set(compactMark); err != nil {
				done <- err
				return
			}
			if err := db.dropPrefixes([][]byte{compactMark}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			require.NoError(t, err)
			require.Positive(t, i)
			return
		default:
		}
		key := []byte(fmt.Sprintf("gone/%d", i))
		require.NoError(t, set(key))
		require.NoError(t, db.DeletePrefixes(key))
	}
}

// TestCommitsWhileDropsRun commits from several goroutines while drops run
// one after another. Badger's DropPrefix, racing a commit that passed its
// check for stopped writes, waited for that commit for ever, and every
// transaction after it hung; no commit now runs while a drop does. The race
// is narrow: this test found it only rarely, under load (a suite run beside
// another hung once in TestDeletePrefixesWaitsForADrop, with both goroutines
// waiting for one commit's mark); it guards against the hang coming back.
func TestCommitsWhileDropsRun(t *testing.T) {
	db := open(t)
	done := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		var stop atomic.Bool
		errs := make(chan error, 8)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load() && i < 5000; i++ {
					tx := db.Begin(true)
					err := tx.Set([]byte(fmt.Sprintf("w/%d/%d", g, i)), []byte("v"))
					if err == nil {
						err = tx.Commit()
					}
					tx.Discard()
					if err != nil && !errors.Is(err, ErrBlocked) {
						errs <- err
						return
					}
				}
			}()
		}
		for range 100 {
			setValue(t, db, compactMark, nil)
			if err := db.dropPrefixes([][]byte{compactMark}); err != nil {
				errs <- err
				break
			}
		}
		stop.Store(true)
		wg.Wait()
		close(errs)
		done <- <-errs
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("commits and drops hung")
	}
}
