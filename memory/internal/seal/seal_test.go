//go:build !wasip1

package seal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	c, err := Cipher(NewKey())
	require.NoError(t, err)
	plain := []byte("Keizersgracht 1")
	s := Seal(c, []byte("c/x/p"), plain)
	require.False(t, bytes.Contains(s, plain), "no plain text in a sealed value")
	got, err := Open(c, []byte("c/x/p"), s)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	require.NotEqual(t, s, Seal(c, []byte("c/x/p"), plain), "a new nonce each time")

	_, err = Open(c, []byte("c/y/p"), s)
	require.ErrorIs(t, err, ErrOpen, "bound to where it is kept")
	other, _ := Cipher(NewKey())
	_, err = Open(other, []byte("c/x/p"), s)
	require.ErrorIs(t, err, ErrOpen)
	s[len(s)-1] ^= 1
	_, err = Open(c, []byte("c/x/p"), s)
	require.ErrorIs(t, err, ErrOpen)
	_, err = Open(c, nil, []byte{1, 2})
	require.ErrorIs(t, err, ErrOpen)
	_, err = Cipher([]byte("short"))
	require.Error(t, err)
}
