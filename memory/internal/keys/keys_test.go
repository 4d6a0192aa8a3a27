package keys

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLayout(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwxyz"
	require.Equal(t, "c/"+id+"/p", string(Profile(id)))
	require.True(t, bytes.HasPrefix(Profile(id), Customer(id)))
	require.True(t, bytes.HasPrefix(Draft(id, []byte("hash")), Drafts(id)))
	require.True(t, bytes.HasPrefix(Draft(id, []byte("hash")), Customer(id)))
	require.False(t, bytes.HasPrefix(Draft(id, []byte("hash")), NamedDrafts(id)), "a migration drops the named drafts by their prefix")
	require.True(t, bytes.HasPrefix(NamedDrafts(id), Customer(id)))
	require.True(t, bytes.HasPrefix(Event(id, 7), Events(id)))
	require.Equal(t, uint64(7), EventSeq(Event(id, 7)))
	// Events sort by sequence number.
	require.Negative(t, bytes.Compare(Event(id, 255), Event(id, 256)))
	require.Equal(t, "i/email\x00hash", string(Identifier("email", []byte("hash"))))
	require.True(t, bytes.HasPrefix(Identifier("email", []byte("h")), Identifiers))
	require.True(t, bytes.HasPrefix(CustomerKey(id), CustomerKeys))
	require.True(t, bytes.HasPrefix(Receipt("x"), Receipts))

	require.True(t, bytes.HasPrefix(PendingForget(id), Pending))
	require.Equal(t, "u/hash", string(Used([]byte("hash"))))
}
