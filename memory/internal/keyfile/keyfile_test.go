//go:build !wasip1

package keyfile

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func files(t *testing.T) map[string]func() *File {
	path := filepath.Join(t.TempDir(), "keys")
	wrap := random(32)
	return map[string]func() *File{
		"disk": func() *File {
			k, err := Open(path, wrap)
			require.NoError(t, err)
			return k
		},
		"memory": func() *File {
			k, err := Open("", wrap)
			require.NoError(t, err)
			return k
		},
	}
}

func TestPutGetDestroy(t *testing.T) {
	for name, open := range files(t) {
		t.Run(name, func(t *testing.T) {
			k := open()
			defer k.Close()
			a, b := random(OwnerSize), random(OwnerSize)
			ka, kb := random(KeySize), random(KeySize)
			sa, err := k.Put(a, ka)
			require.NoError(t, err)
			sb, err := k.Put(b, kb)
			require.NoError(t, err)
			require.NotEqual(t, sa, sb)
			require.NoError(t, k.Sync())

			got, err := k.Get(sa, a)
			require.NoError(t, err)
			require.Equal(t, ka, got)
			_, err = k.Get(sa, b)
			require.ErrorIs(t, err, ErrNoKey, "another owner's slot")
			_, err = k.Get(999, a)
			require.ErrorIs(t, err, ErrNoKey, "past the end")

			require.NoError(t, k.Destroy(sa))
			k.Release(sa)
			_, err = k.Get(sa, a)
			require.ErrorIs(t, err, ErrNoKey)
			got, err = k.Get(sb, b)
			require.NoError(t, err)
			require.Equal(t, kb, got, "the other key is untouched")

			// The free slot is used again.
			sc, err := k.Put(a, ka)
			require.NoError(t, err)
			require.Equal(t, sa, sc)
		})
	}
}

// TestDestroyLeavesNothingInTheFile looks for a destroyed key's bytes, and
// those of its padded form, in the file itself.
func TestDestroyLeavesNothingInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	for _, wrap := range [][]byte{nil, random(32)} {
		require.NoError(t, os.RemoveAll(path))
		k, err := Open(path, wrap)
		require.NoError(t, err)
		owner, key := random(OwnerSize), random(KeySize)
		s, err := k.Put(owner, key)
		require.NoError(t, err)
		require.NoError(t, k.Sync())
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		stored := raw[int(s)*SlotSize+24 : int(s)*SlotSize+56]
		require.True(t, bytes.Contains(raw, owner))
		if wrap != nil {
			require.False(t, bytes.Contains(raw, key), "padded: the key is not in the file as it is")
		}
		require.NoError(t, k.Destroy(s))
		raw, err = os.ReadFile(path)
		require.NoError(t, err)
		require.False(t, bytes.Contains(raw, stored), "the stored key is gone")
		require.False(t, bytes.Contains(raw, key))
		require.False(t, bytes.Contains(raw, owner), "and its owner")
		require.NoError(t, k.Close())
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	wrap := random(32)
	k, err := Open(path, wrap)
	require.NoError(t, err)
	type entry struct {
		s          Slot
		owner, key []byte
	}
	var all, live []entry
	for range 50 {
		e := entry{owner: random(OwnerSize), key: random(KeySize)}
		e.s, err = k.Put(e.owner, e.key)
		require.NoError(t, err)
		all = append(all, e)
	}
	for i, e := range all {
		if i%3 == 0 {
			require.NoError(t, k.Destroy(e.s))
			k.Release(e.s)
			continue
		}
		live = append(live, e)
	}
	require.NoError(t, k.Sync())
	require.NoError(t, k.Close())
	require.ErrorIs(t, k.Sync(), ErrClosed)

	k, err = Open(path, wrap)
	require.NoError(t, err)
	defer k.Close()
	for _, e := range live {
		got, err := k.Get(e.s, e.owner)
		require.NoError(t, err)
		require.Equal(t, e.key, got)
	}
	n := 0
	require.NoError(t, k.Each(func(Slot, []byte, bool) error { n++; return nil }))
	require.Equal(t, len(live), n)
	// Destroyed slots are free again, and used first.
	before := k.Size()
	for range 50 - len(live) {
		_, err := k.Put(random(OwnerSize), random(KeySize))
		require.NoError(t, err)
	}
	require.Equal(t, before, k.Size())

	_, err = Open(path, random(32))
	require.NoError(t, err, "the wrap key is not checked at open")
}

func TestDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	k, err := Open(path, nil)
	require.NoError(t, err)
	owner := random(OwnerSize)
	s, err := k.Put(owner, random(KeySize))
	require.NoError(t, err)
	require.NoError(t, k.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[int(s)*SlotSize+30] ^= 1
	raw = append(raw, 1, 2, 3) // a torn slot at the end
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	k, err = Open(path, nil)
	require.NoError(t, err)
	_, err = k.Get(s, owner)
	require.ErrorIs(t, err, ErrCorrupt)
	require.NoError(t, k.Close())

	require.NoError(t, os.WriteFile(path, []byte("not a key file at all, but long enough to have slots in it..........."), 0o600))
	_, err = Open(path, nil)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestConcurrent puts, gets, destroys and syncs from many goroutines.
// Invariants: every key put and not destroyed reads back; no two live keys
// share a slot.
func TestConcurrent(t *testing.T) {
	for name, open := range files(t) {
		t.Run(name, func(t *testing.T) {
			k := open()
			defer k.Close()
			var mu sync.Mutex
			taken := map[Slot]bool{}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 200 {
						owner, key := random(OwnerSize), random(KeySize)
						s, err := k.Put(owner, key)
						if !assertNoError(t, err) {
							return
						}
						mu.Lock()
						if taken[s] {
							t.Errorf("slot %d given twice", s)
						}
						taken[s] = true
						mu.Unlock()
						if !assertNoError(t, k.Sync()) {
							return
						}
						got, err := k.Get(s, owner)
						if !assertNoError(t, err) || !bytes.Equal(key, got) {
							t.Errorf("goroutine %d, key %d: read back wrong", g, i)
							return
						}
						if i%2 == 0 {
							mu.Lock()
							delete(taken, s)
							mu.Unlock()
							if !assertNoError(t, k.Destroy(s)) {
								return
							}
							k.Release(s)
						}
					}
				}()
			}
			wg.Wait()
			n := 0
			require.NoError(t, k.Each(func(Slot, []byte, bool) error { n++; return nil }))
			require.Equal(t, len(taken), n)
		})
	}
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(fmt.Sprint(err))
		return false
	}
	return true
}

// TestFresh gives out new keys from batches: each in its own slot, on disk
// (read back after a reopen). Those confirmed are held; those not given out,
// and those given out and not confirmed, are listed as unconfirmed at the
// next Open, fresh, to be settled.
func TestFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	k, err := Open(path, nil)
	require.NoError(t, err)
	seen := map[Slot]bool{}
	var got []Fresh
	for range freshBatch + 3 {
		f, err := k.Fresh()
		require.NoError(t, err)
		require.False(t, seen[f.Slot])
		seen[f.Slot] = true
		got = append(got, f)
	}
	k.Return(got[len(got)-1])
	again, err := k.Fresh()
	require.NoError(t, err)
	require.Equal(t, got[len(got)-1], again, "a returned key is given out again")
	for _, f := range got[:freshBatch] {
		require.NoError(t, k.Confirm(f.Slot))
	}
	require.NoError(t, k.Close())

	k, err = Open(path, nil)
	require.NoError(t, err)
	defer k.Close()
	for _, f := range got {
		key, err := k.Get(f.Slot, f.Owner)
		require.NoError(t, err)
		require.Equal(t, f.Key, key)
	}
	un := k.Unconfirmed()
	require.Len(t, un, 2*freshBatch-freshBatch, "the second batch, given out or not")
	for _, u := range un {
		require.True(t, u.IsFresh)
		require.GreaterOrEqual(t, u.Slot, got[freshBatch].Slot)
		key, err := k.Get(u.Slot, u.Owner)
		require.NoError(t, err)
		require.Equal(t, u.Key, key)
	}
	k.Adopt(un[0].Fresh)
	f, err := k.Fresh()
	require.NoError(t, err)
	require.Equal(t, un[0].Fresh, f, "an adopted key is given out")
}

// TestUnconfirmedWritten lists a key that Put wrote and nobody confirmed.
func TestUnconfirmedWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	k, err := Open(path, nil)
	require.NoError(t, err)
	a, b := random(OwnerSize), random(OwnerSize)
	sa, err := k.Put(a, random(KeySize))
	require.NoError(t, err)
	sb, err := k.Put(b, random(KeySize))
	require.NoError(t, err)
	require.NoError(t, k.Confirm(sa))
	require.NoError(t, k.Sync())
	require.NoError(t, k.Close())
	k, err = Open(path, nil)
	require.NoError(t, err)
	defer k.Close()
	un := k.Unconfirmed()
	require.Len(t, un, 1)
	require.Equal(t, sb, un[0].Slot)
	require.Equal(t, b, un[0].Owner)
	require.False(t, un[0].IsFresh)
}

// TestDestroyedSlotStaysTaken: until Release, a destroyed slot is not given
// to a new key.
func TestDestroyedSlotStaysTaken(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "keys"), nil)
	require.NoError(t, err)
	defer k.Close()
	s, err := k.Put(random(OwnerSize), random(KeySize))
	require.NoError(t, err)
	require.NoError(t, k.Destroy(s))
	s2, err := k.Put(random(OwnerSize), random(KeySize))
	require.NoError(t, err)
	require.NotEqual(t, s, s2)
	k.Release(s)
	s3, err := k.Put(random(OwnerSize), random(KeySize))
	require.NoError(t, err)
	require.Equal(t, s, s3)
}

// TestSecret keeps the store's secret in a slot of its own: it reads back
// after a reopen, padded in the file like a key, and it is never a
// customer's key: not listed, not read as one, not destroyed or given out
// by the marks a store keeps of slots to destroy. A torn write of it, before
// PutSecret returned, leaves a file without a secret.
func TestSecret(t *testing.T) {
	for name, open := range files(t) {
		t.Run(name, func(t *testing.T) {
			k := open()
			defer k.Close()
			_, ok := k.Secret()
			require.False(t, ok)
			owner := random(OwnerSize)
			sa, err := k.Put(owner, random(KeySize))
			require.NoError(t, err)
			secret := random(KeySize)
			require.NoError(t, k.PutSecret(secret))
			require.Error(t, k.PutSecret(random(KeySize)), "one secret a file")
			got, ok := k.Secret()
			require.True(t, ok)
			require.Equal(t, secret, got)
			var slots []Slot
			require.NoError(t, k.Each(func(s Slot, _ []byte, _ bool) error { slots = append(slots, s); return nil }))
			require.Equal(t, []Slot{sa}, slots, "the secret is not listed as a key")
			for s := Slot(1); s < Slot(k.Size()/SlotSize); s++ {
				_, err := k.Get(s, make([]byte, OwnerSize))
				require.ErrorIs(t, err, ErrNoKey, "slot %d read as the key of a zero owner", s)
			}
			for s := Slot(1); s < Slot(k.Size()/SlotSize); s++ {
				require.NoError(t, k.Destroy(s))
				k.Release(s)
			}
			got, ok = k.Secret()
			require.True(t, ok)
			require.Equal(t, secret, got)
			for range 3 {
				s, err := k.Put(random(OwnerSize), random(KeySize))
				require.NoError(t, err)
				_, err = k.Get(s, owner)
				require.ErrorIs(t, err, ErrNoKey)
			}
		})
	}

	path := filepath.Join(t.TempDir(), "keys")
	wrap := random(32)
	k, err := Open(path, wrap)
	require.NoError(t, err)
	secret := random(KeySize)
	require.NoError(t, k.PutSecret(secret))
	require.NoError(t, k.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.False(t, bytes.Contains(raw, secret), "the secret is padded in the file")
	k, err = Open(path, wrap)
	require.NoError(t, err)
	got, ok := k.Secret()
	require.True(t, ok)
	require.Equal(t, secret, got)
	require.NoError(t, k.Close())

	raw[SlotSize+40] ^= 1 // torn
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	k, err = Open(path, wrap)
	require.NoError(t, err)
	_, ok = k.Secret()
	require.False(t, ok, "a torn secret is no secret")
	require.NoError(t, k.PutSecret(secret))
	require.NoError(t, k.Close())
	k, err = Open(path, wrap)
	require.NoError(t, err)
	got, ok = k.Secret()
	require.True(t, ok)
	require.Equal(t, secret, got)
	require.NoError(t, k.Close())
}
