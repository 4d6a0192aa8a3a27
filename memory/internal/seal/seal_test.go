//go:build !wasip1

package seal

import (
	"bytes"
	"encoding/binary"
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

// TestSealCompresses: a value that compresses is sealed compressed
// (version 3) and opens to what was sealed; one that does not stays
// version 2. A compressed value is bound to its version: told it is
// version 2, it does not open.
func TestSealCompresses(t *testing.T) {
	k, err := NewKeys(NewKey(), 4, nil, 0)
	require.NoError(t, err)
	where := []byte("e/x/1")
	plain := bytes.Repeat([]byte("contact.recorded asked about parcel late "), 20)
	s := k.Seal(where, plain)
	require.Equal(t, byte(version3), s[0])
	require.Less(t, len(s), len(plain)/4)
	got, err := k.Open(where, s)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	gen, ok := Gen(s)
	require.True(t, ok)
	require.Equal(t, byte(4), gen)

	flipped := bytes.Clone(s)
	flipped[0] = version2
	_, err = k.Open(where, flipped)
	require.ErrorIs(t, err, ErrOpen)
	_, err = k.Open([]byte("e/x/2"), s)
	require.ErrorIs(t, err, ErrOpen)
	_, err = k.Open(where, s[:len(s)-1])
	require.ErrorIs(t, err, ErrOpen)

	random := NewKey()
	require.Equal(t, byte(version2), k.Seal(where, random)[0], "what does not compress is sealed as it is")
	got, err = k.Open(where, k.Seal(where, random))
	require.NoError(t, err)
	require.Equal(t, random, got)
}

// TestDecompressRefusesGarbage: bytes that are not a zstd frame of ours
// are an error, even under a valid seal.
func TestDecompressRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0x24, 0, 1, 2}, bytes.Repeat([]byte{0xff}, 64)} {
		_, err := decompress(b)
		require.Error(t, err)
	}
	small, ok := compress(nil, bytes.Repeat([]byte("abc"), 100))
	require.True(t, ok)
	got, err := decompress(small)
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte("abc"), 100), got)
}

// TestDictionariesLoad: every dictionary shipped is a zstd dictionary with
// the ID it is listed under, so that what it compressed keeps opening.
func TestDictionariesLoad(t *testing.T) {
	_, _, err := zstdCodec()
	require.NoError(t, err)
	for i, d := range Dictionaries() {
		require.GreaterOrEqual(t, len(d), 8)
		require.Equal(t, []byte{0x37, 0xa4, 0x30, 0xec}, d[:4], "dictionary %d has zstd's dictionary magic", i+1)
		require.Equal(t, DictionaryID(i+1), binary.LittleEndian.Uint32(d[4:8]), "dictionary %d has its ID", i+1)
	}
}
