package memory_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name   string
		in     memory.Identifier
		region string
		want   string
		reason string // part of the error, when refused
	}{
		{"email case and space", memory.Email("  Ada.Lovelace@Example.COM "), "", "ada.lovelace@example.com", ""},
		{"email plus", memory.Email("a+shop@mail.example.org"), "", "a+shop@mail.example.org", ""},
		{"email idn", memory.Email("jan@bücher.de"), "", "jan@bücher.de", ""},
		{"email no at", memory.Email("ada.example.com"), "", "", "no @"},
		{"email two at", memory.Email("a@b@example.com"), "", "", "more than one @"},
		{"email no dot", memory.Email("a@localhost"), "", "", "no dot"},
		{"email empty local", memory.Email("@example.com"), "", "", "nothing before"},
		{"email placeholder local", memory.Email("noreply@example.com"), "", "", "placeholder"},
		{"email null", memory.Email("null"), "", "", "placeholder"},
		{"email space inside", memory.Email("a b@example.com"), "", "", "cannot have"},
		{"email bad domain", memory.Email("a@-x.com"), "", "", "starts or ends"},
		{"phone international", memory.Phone("+31 6 12345678"), "", "+31612345678", ""},
		{"phone 00 prefix", memory.Phone("0031 (0)6-1234 5678"), "", "+31612345678", ""},
		{"phone national with region", memory.Phone("06 12345678"), "NL", "+31612345678", ""},
		{"phone us", memory.Phone("(202) 555-0143"), "US", "+12025550143", ""},
		{"phone national without region", memory.Phone("06 12345678"), "", "", "default region"},
		{"phone letters", memory.Phone("call me"), "NL", "", "cannot have"},
		{"phone too short", memory.Phone("+31 6 12"), "NL", "", "not a valid number"},
		{"phone zeros", memory.Phone("0000000000"), "NL", "", "placeholder"},
		{"account kept as is", memory.Account(" Cust-0042 "), "", "Cust-0042", ""},
		{"account zero", memory.Account("0"), "", "", "placeholder"},
		{"account minus one", memory.Account("-1"), "", "", "placeholder"},
		{"account undefined", memory.Account("undefined"), "", "", "placeholder"},
		{"account anonymous", memory.Account("Anonymous"), "", "", "placeholder"},
		{"account dashes", memory.Account("---"), "", "", "placeholder"},
		{"account empty", memory.Account("   "), "", "", "empty"},
		{"device", memory.Device("d3v1c3-t0k3n-abc"), "", "d3v1c3-t0k3n-abc", ""},
		{"device short", memory.Device("abc"), "", "", "8 to 256"},
		{"device spaces", memory.Device("abc def ghi"), "", "", "printable ASCII"},
		{"custom kind", memory.Custom("loyalty_card", "LC-12345"), "", "LC-12345", ""},
		{"custom kind bad", memory.Custom("Loyalty Card", "LC-12345"), "", "", "kind is lowercase"},
		{"no kind", memory.Identifier{Value: "x"}, "", "", "no kind"},
		{"control char", memory.Custom("crm", "a\x00b"), "", "", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := memory.Normalize(tt.in, tt.region)
			if tt.reason != "" {
				require.ErrorIs(t, err, memory.ErrInvalidIdentifier)
				var ie *memory.IdentifierError
				require.True(t, errors.As(err, &ie))
				require.Equal(t, tt.in.Kind, ie.Kind)
				require.Contains(t, err.Error(), tt.reason)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Value)
			require.Equal(t, tt.in.Kind, got.Kind)
		})
	}
}

func TestNormalizeKeepsVerified(t *testing.T) {
	got, err := memory.Normalize(memory.Email("A@Example.com").AsVerified(), "")
	require.NoError(t, err)
	require.True(t, got.Verified)
	require.Equal(t, "email:a@example.com", got.String())
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a@example.com", "+31 6 12345678", "06-12345678", "null", "0", "", "--", "jan@bücher.de"} {
		f.Add("email", s)
		f.Add("phone", s)
		f.Add("account", s)
	}
	f.Fuzz(func(t *testing.T, kind, value string) {
		n, err := memory.Normalize(memory.Identifier{Kind: memory.Kind(kind), Value: value}, "NL")
		if err != nil {
			require.ErrorIs(t, err, memory.ErrInvalidIdentifier)
			return
		}
		// Normalizing is idempotent.
		again, err := memory.Normalize(n, "NL")
		require.NoError(t, err)
		require.Equal(t, n, again)
	})
}
