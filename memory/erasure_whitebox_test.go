//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// TestForgetLeavesNothingReadable writes a customer with distinctive values,
// forgets them, compacts (what the store needs to make a Forget final: the
// Forget itself erases the key; Compact gives the space back), and searches
// every file of the data directory: for the raw bytes of the values and of
// the customer's key, and, opening the files, for any version of the key.
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
				return tx.SaveDraft("cart", distinct[3])
			}))
			for i := range 50 { // overwrite the profile: old versions linger in the files
				require.NoError(t, s.SetPreference(ctx, r.Customer, "note", string(distinct[2])+string(rune('a'+i%26))))
			}
			require.NoError(t, s.SetName(ctx, other.Customer, "Someone Else"))
			key := customerKey(t, s, r.Customer)
			require.NoError(t, s.Close())
			if !encrypted {
				require.True(t, filesContain(t, dir, key), "the test finds the key while it lives")
			}

			s, err = Open(ctx, opts)
			require.NoError(t, err)
			_, err = s.Forget(ctx, r.Customer)
			require.NoError(t, err)
			require.NoError(t, s.Compact(ctx))
			require.NoError(t, s.Check(ctx))
			// Nothing of the key is left in any version the files hold.
			require.NoError(t, s.db.Versions(nil, func(k []byte, _ bool, v []byte) error {
				require.False(t, bytes.Contains(k, []byte(r.Customer)) && bytes.HasPrefix(k, keys.CustomerKeys), "a version of the key: %q", k)
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

			for _, d := range append(distinct, key) {
				require.False(t, filesContain(t, dir, d), "%q is still in the data directory", d)
			}
		})
	}
}

func customerKey(t *testing.T, s *Store, id CustomerID) []byte {
	t.Helper()
	txn := s.db.Begin(false)
	defer txn.Discard()
	var key []byte
	require.NoError(t, txn.Get(keys.CustomerKey(string(id)), func(b []byte) error {
		body, err := codec.Body(b)
		key = bytes.Clone(body)
		return err
	}))
	require.Len(t, key, 32)
	return key
}

// filesContain reports whether any file under dir holds b.
func filesContain(t *testing.T, dir string, b []byte) bool {
	t.Helper()
	found := false
	require.NoError(t, filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || found {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = bytes.Contains(data, b)
		return nil
	}))
	return found
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
