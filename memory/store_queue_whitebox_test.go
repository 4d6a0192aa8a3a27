//go:build !wasip1

package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// queueStore opens an in-memory store with two customers in the work queue
// and one out of it.
func queueStore(t *testing.T) (*Store, CustomerID, CustomerID, CustomerID) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var ids []CustomerID
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		r, err := s.Recognize(ctx, Email(email).AsVerified())
		require.NoError(t, err)
		ids = append(ids, r.Customer)
	}
	for _, id := range ids[:2] {
		_, err := s.OpenIssue(ctx, id, "Question", ChannelEmail)
		require.NoError(t, err)
	}
	require.NoError(t, s.Check(ctx))
	return s, ids[0], ids[1], ids[2]
}

// rawTxn changes the store's keys behind its back.
func rawTxn(t *testing.T, s *Store, fn func(set func(k, v []byte), del func(k []byte))) {
	t.Helper()
	txn := s.db.Begin(true)
	defer txn.Discard()
	fn(func(k, v []byte) { require.NoError(t, txn.Set(k, v)) }, func(k []byte) { require.NoError(t, txn.Delete(k)) })
	require.NoError(t, txn.Commit())
}

func queuedOf(t *testing.T, s *Store, id CustomerID) (queued, []byte) {
	t.Helper()
	txn := s.db.Begin(false)
	defer txn.Discard()
	var e queued
	var raw []byte
	require.NoError(t, txn.Get(keys.Queued(string(id)), func(v []byte) error {
		raw = append(raw, v...)
		return nil
	}))
	require.NoError(t, codec.Unmarshal(raw, &e))
	return e, raw
}

func marshalQueued(t *testing.T, e queued) []byte { return marshal(t, &e) }

// TestCheckFindsABrokenQueue: every way the work queue can disagree with
// the profiles is a finding of Check.
func TestCheckFindsABrokenQueue(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, s *Store, a, b, c CustomerID)
		want  string
	}{
		{"an entry missing", func(t *testing.T, s *Store, a, _, _ CustomerID) {
			e, _ := queuedOf(t, s, a)
			rawTxn(t, s, func(_ func(k, v []byte), del func([]byte)) {
				del(keys.Queued(string(a)))
				del(keys.QueueEntry(e.At, string(a)))
			})
		}, "is missing from the work queue"},
		{"an entry stale", func(t *testing.T, s *Store, a, _, _ CustomerID) {
			e, _ := queuedOf(t, s, a)
			stale := e
			stale.Escalated = true
			b := marshalQueued(t, stale)
			rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
				set(keys.Queued(string(a)), b)
				set(keys.QueueEntry(e.At, string(a)), b)
			})
		}, "entry in the work queue is stale"},
		{"someone who has no work", func(t *testing.T, s *Store, _, _, c CustomerID) {
			b := marshalQueued(t, queued{At: time.Now().UnixNano(), Open: 1})
			rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
				set(keys.Queued(string(c)), b)
				set(keys.QueueEntry(time.Now().UnixNano(), string(c)), b)
			})
		}, "is in the work queue and should not be"},
		{"a customer that does not exist", func(t *testing.T, s *Store, _, _, _ CustomerID) {
			ghost := "abcdefghijklmnopqrstuvwxyz"
			b := marshalQueued(t, queued{At: 5, Open: 1})
			rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
				set(keys.Queued(ghost), b)
				set(keys.QueueEntry(5, ghost), b)
			})
		}, "the work queue lists missing customer"},
		{"an ordering key left behind", func(t *testing.T, s *Store, _, b, _ CustomerID) {
			e, raw := queuedOf(t, s, b)
			rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
				set(keys.QueueEntry(e.At-1, string(b)), raw)
			})
		}, "an entry of"},
		{"an entry damaged", func(t *testing.T, s *Store, a, _, _ CustomerID) {
			rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
				set(keys.Queued(string(a)), []byte{0xc1})
			})
		}, "is stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, a, b, c := queueStore(t)
			tc.spoil(t, s, a, b, c)
			err := s.Check(ctx)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestQueueRepairsWhatItFinds: a write to a customer whose entry was
// damaged or left stale (by a release of format 3 that wrote between two
// runs of the migration) makes the entry right, and takes out the old
// ordering key; the customer's writes never fail for it.
func TestQueueRepairsWhatItFinds(t *testing.T) {
	ctx := context.Background()
	s, a, _, _ := queueStore(t)
	e, _ := queuedOf(t, s, a)
	stale := e
	stale.Open = 7
	b := marshalQueued(t, stale)
	rawTxn(t, s, func(set func(k, v []byte), _ func([]byte)) {
		set(keys.Queued(string(a)), b)
		set(keys.QueueEntry(e.At, string(a)), b)
	})
	require.Error(t, s.Check(ctx))
	require.NoError(t, s.SetName(ctx, a, "Ada"))
	_, err := s.RecordContact(ctx, a, Contact{Channel: ChannelPhone, Summary: "again"})
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
}

// TestMigrationBuildsTheQueueAgain: the migration from format 3 makes the
// queue what the profiles say, whatever a stopped earlier run, or a release
// of format 3 writing in between, left of it.
func TestMigrationBuildsTheQueueAgain(t *testing.T) {
	ctx := context.Background()
	dir := goldenCopy(t, "v3")
	ids := goldenCustomers(t, "v3")
	junk := marshalQueued(t, queued{At: 42, Open: 3, Escalated: true})
	rawSet(t, dir,
		keys.Queued(string(ids[0])), junk, keys.QueueEntry(42, string(ids[0])), junk,
		keys.Queued(string(ids[1])), []byte{0xc1})
	s, err := Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	page, err := s.Queue(ctx, QueueQuery{})
	require.NoError(t, err)
	require.NotEmpty(t, page.Entries)
}
