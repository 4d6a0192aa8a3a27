//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/kv"
)

// TestForgetLeavesNothingReadable writes a customer with distinctive values,
// forgets them, and searches every file of the data directory: at once, for
// the customer's key (its bytes as the key file keeps them, and its owner),
// which Forget destroys before it returns; after Compact, which finishes the
// background purge and rewrites the files, for the raw bytes of the values
// and, opening the files, for any version of anything of the customer.
func TestForgetLeavesNothingReadable(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain files", true: "encrypted files"}[encrypted], func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			opts := DefaultOptions(dir)
			if encrypted {
				opts = opts.WithEncryptionKey(bytes.Repeat([]byte{7}, 32))
			}
			s, err := Open(ctx, opts)
			require.NoError(t, err)
			distinct := [][]byte{
				[]byte("quintessa.zwanenburg@example.com"), []byte("Quintessa Zwanenburg"),
				[]byte("Zwanenburgweg 77"), []byte("DRAFT-OF-QUINTESSA"), []byte("+31687777777"),
			}
			r, err := s.Recognize(ctx, Email(string(distinct[0])).AsVerified(), Phone(string(distinct[4])))
			require.NoError(t, err)
			other, err := s.Recognize(ctx, Email("someone.else@example.com"))
			require.NoError(t, err)
			require.NoError(t, s.Update(ctx, r.Customer, func(tx *Tx) error {
				if err := tx.SetName(string(distinct[1])); err != nil {
					return err
				}
				if err := tx.Remember(Fact{Key: "shipping.street", Value: string(distinct[2])}); err != nil {
					return err
				}
				if _, err := tx.OpenIssue("about "+string(distinct[2]), ChannelEmail); err != nil {
					return err
				}
				if err := tx.SaveDraft("big", bytes.Repeat(distinct[3], 40000)); err != nil { // kept in parts
					return err
				}
				return tx.SaveDraft("cart", distinct[3])
			}))
			for i := range 50 { // overwrite the profile: old versions linger in the files
				require.NoError(t, s.SetPreference(ctx, r.Customer, "note", string(distinct[2])+string(rune('a'+i%26))))
			}
			require.NoError(t, s.SetName(ctx, other.Customer, "Someone Else"))
			key, stored, owner := customerKey(t, s, r.Customer)
			hashes := [][]byte{s.identifierKey(Email(string(distinct[0]))), s.identifierKey(mustNormalize(t, Phone(string(distinct[4]))))}
			require.NoError(t, s.Close())
			require.True(t, filesContain(t, dir, stored), "the test finds the key while it lives")
			require.True(t, filesContain(t, dir, owner))

			s, err = Open(ctx, opts)
			require.NoError(t, err)
			receipt, err := s.Forget(ctx, r.Customer)
			require.NoError(t, err)
			// At once: the key is gone from every file.
			for _, b := range [][]byte{key, stored, owner} {
				require.False(t, filesContain(t, dir, b), "the key is destroyed before Forget returns")
			}
			_, err = s.Export(ctx, r.Customer)
			require.ErrorIs(t, err, ErrNotFound)

			require.NoError(t, s.Compact(ctx))
			require.NoError(t, s.Check(ctx))
			rs, err := s.Receipts(ctx)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			require.Equal(t, receipt.ID, rs[0].ID)
			require.False(t, rs[0].Purged.IsZero(), "after Compact the receipt says the data is gone")
			// Nothing of the customer is left in any version the files hold.
			require.NoError(t, s.db.Versions(nil, func(k []byte, _ bool, v []byte) error {
				if base, ok := kv.IsPart(k); ok {
					k = base
				}
				require.False(t, bytes.Contains(k, []byte(r.Customer)), "a version of %q", k)
				require.False(t, bytes.Contains(v, key), "the key's bytes under %q", k)
				for _, d := range distinct {
					require.False(t, bytes.Contains(v, d), "%q under %q", d, k)
				}
				return nil
			}))
			b, err := s.Brief(ctx, other.Customer, BriefQuery{})
			require.NoError(t, err)
			require.Equal(t, "Someone Else", b.Name, "others are untouched")
			require.NoError(t, s.Close())

			// (The receipt keeps the customer's ID, random and leading nowhere.)
			for _, d := range append(distinct, key, stored, owner) {
				require.False(t, filesContain(t, dir, d), "%q is still in the data directory", d)
			}
			for _, h := range hashes {
				require.False(t, filesContain(t, dir, h[len(h)-hashLen:]), "the hash of an identifier is still in the data directory")
			}
		})
	}
}

// customerKey returns customer id's key, the bytes the key file keeps for
// it, and its owner.
func customerKey(t *testing.T, s *Store, id CustomerID) (key, stored, owner []byte) {
	t.Helper()
	txn := s.db.Begin(false)
	defer txn.Discard()
	ref, err := readKeyRef(txn, id)
	require.NoError(t, err)
	owner, err = ownerOf(id)
	require.NoError(t, err)
	key, err = s.keyfile.Get(keyfile.Slot(ref.Slot), owner)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(s.opts.dir, keyFileName))
	require.NoError(t, err)
	at := int(ref.Slot) * keyfile.SlotSize
	return key, bytes.Clone(raw[at+24 : at+56]), owner
}

func mustNormalize(t *testing.T, id Identifier) Identifier {
	t.Helper()
	n, err := Normalize(id, "")
	require.NoError(t, err)
	return n
}

func filesContain(t *testing.T, dir string, b []byte) bool {
	t.Helper()
	found := false
	require.NoError(t, filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || found {
			return err
		}
		found, err = fileContains(path, b)
		return err
	}))
	return found
}

// fileContains reports whether the file at path holds b. It reads only
// what the file system keeps: the engine's files are large and sparse
// while the store is open.
func fileContains(path string, b []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const seekData, seekHole = 3, 4 // lseek(2) on Linux
	for off := int64(0); ; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			// Past the last data, or no sparse files here: read it all.
			if off == 0 {
				data, err := os.ReadFile(path)
				return bytes.Contains(data, b), err
			}
			return false, nil
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return false, err
		}
		data := make([]byte, end-start)
		if _, err := f.ReadAt(data, start); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if bytes.Contains(data, b) {
			return true, nil
		}
		off = end
	}
}

func TestEncryptionKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s, err := Open(ctx, DefaultOptions(dir).WithEncryptionKey(k1))
	require.NoError(t, err)
	r, err := s.Recognize(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, DefaultOptions(dir).WithEncryptionKey(k2))
	require.ErrorIs(t, err, ErrInvalidInput, "the wrong key")
	require.ErrorIs(t, RotateEncryptionKey(dir, k2, k1), ErrInvalidInput)
	require.NoError(t, RotateEncryptionKey(dir, k1, k2))
	s, err = Open(ctx, DefaultOptions(dir).WithEncryptionKey(k2))
	require.NoError(t, err)
	id, err := s.Lookup(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, r.Customer, id)
	require.NoError(t, s.Close())
	_, err = Open(ctx, DefaultOptions(dir).WithEncryptionKey([]byte("short")))
	require.ErrorIs(t, err, ErrInvalidInput)
}
