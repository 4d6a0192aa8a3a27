package memory

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzPlainEmail checks the fast path of email normalization against the
// full one: every address plainEmail takes, normalizeEmail takes too, and
// gives back unchanged.
func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{
		"customer1@example.com", "ada.lovelace+shop@mail.example.co.uk", "null@example.com",
		"a@b.c", "customer@example.com.", "customer@-example.com", "customer@example-.com",
		"customer@example..com", "custo@mer@example.com", "Customer@Example.com", "cust\"omer@example.com",
		"customer@exa_mple.com", "customer@localhost", strings.Repeat("a", 65) + "@example.com",
		"customer@" + strings.Repeat("a", 64) + ".com", "undefined@example.com", " customer@example.com",
		"jan@bücher.de", "[object object]@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !plainEmail(v) {
			return
		}
		n, err := Normalize(Identifier{Kind: KindEmail, Value: v}, "NL")
		require.NoError(t, err)
		require.Equal(t, v, n.Value)
		// And the full path, without the fast one, says the same.
		slow := strings.TrimSpace(v)
		require.Equal(t, v, slow)
		require.False(t, isPlaceholder(v))
		got, reason := normalizeEmail(v)
		require.Empty(t, reason)
		require.Equal(t, v, got)
	})
}

// TestPlainEmailTakesTheUsualAddress checks that the fast path is taken
// for the addresses a store mostly sees, so that it is not dead code.
func TestPlainEmailTakesTheUsualAddress(t *testing.T) {
	for _, v := range []string{"customer1@example.com", "ada.lovelace+shop@mail.example.co.uk", "j.doe@example.nl"} {
		require.True(t, plainEmail(v), v)
	}
	for _, v := range []string{"Customer1@example.com", "customer1@example.com.", "null@example.com", "jan@bücher.de", "a@b.c"} {
		require.False(t, plainEmail(v), v)
	}
}
