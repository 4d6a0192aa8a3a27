//go:build !wasip1

package seal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	k, err := NewKeys(NewKey(), 0, nil, 0)
	require.NoError(t, err)
	plain := []byte("Keizersgracht 1")
	s := k.Seal([]byte("c/x/p"), plain)
	require.False(t, bytes.Contains(s, plain), "no plain text in a sealed value")
	got, err := k.Open([]byte("c/x/p"), s)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	require.NotEqual(t, s, k.Seal([]byte("c/x/p"), plain), "a new nonce each time")

	_, err = k.Open([]byte("c/y/p"), s)
	require.ErrorIs(t, err, ErrOpen, "bound to where it is kept")
	other, _ := NewKeys(NewKey(), 0, nil, 0)
	_, err = other.Open([]byte("c/x/p"), s)
	require.ErrorIs(t, err, ErrOpen)
	s[len(s)-1] ^= 1
	_, err = k.Open([]byte("c/x/p"), s)
	require.ErrorIs(t, err, ErrOpen)
	_, err = k.Open(nil, []byte{2, 0, 1})
	require.ErrorIs(t, err, ErrOpen)
	_, err = k.Open(nil, nil)
	require.ErrorIs(t, err, ErrOpen)
	_, err = NewKeys([]byte("short"), 0, nil, 0)
	require.Error(t, err)
}

// TestGenerations replaces a key: while both are held, each opens what it
// sealed; once the old one is gone, what it sealed no longer opens, even
// with a value's generation byte changed.
func TestGenerations(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	old, err := NewKeys(oldKey, 4, nil, 0)
	require.NoError(t, err)
	where := []byte("e/x/1")
	a := old.Seal(where, []byte("old"))
	g, ok := Gen(a)
	require.True(t, ok)
	require.Equal(t, byte(4), g)

	both, err := NewKeys(newKey, 5, oldKey, 4)
	require.NoError(t, err)
	b := both.Seal(where, []byte("new"))
	for _, c := range []struct {
		sealed []byte
		want   string
	}{{a, "old"}, {b, "new"}} {
		got, err := both.Open(where, c.sealed)
		require.NoError(t, err)
		require.Equal(t, c.want, string(got))
	}

	after, err := NewKeys(newKey, 5, nil, 0)
	require.NoError(t, err)
	_, err = after.Open(where, a)
	require.ErrorIs(t, err, ErrOpen)
	forged := bytes.Clone(a)
	forged[1] = 5
	_, err = after.Open(where, forged)
	require.ErrorIs(t, err, ErrOpen, "the generation is bound to the value")

	_, err = NewKeys(newKey, 5, oldKey, 5)
	require.Error(t, err, "two keys of one generation")
}

// TestVersion1 opens what format 1 sealed: generation 0, bound to where.
func TestVersion1(t *testing.T) {
	key := NewKey()
	v1, err := SealVersion1(key, []byte("c/x/p"), []byte("kept"))
	require.NoError(t, err)
	g, ok := Gen(v1)
	require.True(t, ok)
	require.Zero(t, g)
	k, err := NewKeys(key, 0, nil, 0)
	require.NoError(t, err)
	got, err := k.Open([]byte("c/x/p"), v1)
	require.NoError(t, err)
	require.Equal(t, "kept", string(got))
	_, err = k.Open([]byte("c/y/p"), v1)
	require.ErrorIs(t, err, ErrOpen)
}
