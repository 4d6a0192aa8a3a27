//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// readsDB counts the keys that write transactions read, by key.
type readsDB struct {
	kv.DB
	mu    sync.Mutex
	reads map[string]int
}

func (d *readsDB) Begin(update bool) kv.Txn {
	t := d.DB.Begin(update)
	if !update {
		return t
	}
	return &readsTxn{Txn: t, d: d}
}

func (d *readsDB) count(key []byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads[string(key)]
}

type readsTxn struct {
	kv.Txn
	d *readsDB
}

func (t *readsTxn) Get(key []byte, fn func([]byte) error) error {
	t.d.mu.Lock()
	t.d.reads[string(key)]++
	t.d.mu.Unlock()
	return t.Txn.Get(key, fn)
}

// TestWriteOfACachedCustomerReadsNoProfile: a write to a customer whose
// profile is cached, in a store this process has alone, takes the profile
// and its entry in the work queue from the cache instead of reading them
// again; what it writes is what reading them would have written (Check
// finds the queue as the profiles say, and a reopened store briefs every
// contact). A customer the cache lost is read.
func TestWriteOfACachedCustomerReadsNoProfile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	r, err := s.Recognize(ctx, Email("cached@example.com").AsVerified())
	require.NoError(t, err)
	is, err := s.OpenIssue(ctx, r.Customer, "parcel late", ChannelEmail) // in the work queue
	require.NoError(t, err)
	_, ok := s.profiles.Get(r.Customer)
	require.True(t, ok, "the write did not cache the profile")

	s.gate.Lock() // no call is in the store
	d := &readsDB{DB: s.db, reads: map[string]int{}}
	s.db = d
	s.gate.Unlock()
	profile, queue := keys.Profile(string(r.Customer)), keys.Queued(string(r.Customer))
	contact := func(i int) {
		t.Helper()
		_, err := s.RecordContact(ctx, r.Customer, Contact{Channel: ChannelPhone, Issue: is.ID, Summary: fmt.Sprintf("call %d", i)})
		require.NoError(t, err)
	}
	for i := range 40 { // past a block of events, which is packed again
		contact(i)
	}
	require.Zero(t, d.count(profile), "a write read the cached profile again")
	require.Zero(t, d.count(queue), "a write read the entry in the work queue again")

	s.profiles.Invalidate(r.Customer) // as a full cache evicts it
	contact(40)
	require.Equal(t, 1, d.count(profile), "a write of a customer the cache lost did not read the profile")
	require.Equal(t, 1, d.count(queue), "a write of a customer the cache lost did not read the entry in the work queue")
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())

	s, err = Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	b, err := s.Brief(ctx, r.Customer, BriefQuery{})
	require.NoError(t, err)
	require.Len(t, b.OpenIssues, 1)
	require.Equal(t, 42, b.OpenIssues[0].Contacts, "the issue's contacts: %+v", b.OpenIssues[0])
}
