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

func TestQueueSortsNewestFirst(t *testing.T) {
	a, b := "aaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbb"
	require.Negative(t, bytes.Compare(QueueEntry(2000, b), QueueEntry(1000, a)), "newer first")
	require.Negative(t, bytes.Compare(QueueEntry(1000, a), QueueEntry(1000, b)), "one time: by customer")
	require.True(t, bytes.HasPrefix(QueueEntry(1, a), Queue))
	require.True(t, bytes.HasPrefix(Queued(a), QueuedAll))
	at, id := QueueOf(QueueEntry(1234567, a))
	require.Equal(t, int64(1234567), at)
	require.Equal(t, a, id)
	// Every entry of a time or older sorts at or after QueueAt of it.
	require.LessOrEqual(t, bytes.Compare(QueueAt(1000), QueueEntry(1000, a)), 0)
	require.Positive(t, bytes.Compare(QueueAt(1000), QueueEntry(1001, a)))
	require.Equal(t, QueueEntry(0, a), QueueEntry(-5, a), "times before 1970 clamp to 0")
}
