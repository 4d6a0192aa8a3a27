//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// queueIDs lists the whole queue q selects, a page of limit at a time.
func queueIDs(t *testing.T, s *memory.Store, q memory.QueueQuery) []memory.CustomerID {
	t.Helper()
	var ids []memory.CustomerID
	for range 1000 {
		page, err := s.Queue(context.Background(), q)
		require.NoError(t, err)
		for _, e := range page.Entries {
			ids = append(ids, e.Customer)
		}
		if page.Next == "" {
			return ids
		}
		q.After = page.Next
	}
	t.Fatal("the queue did not end in 1000 pages")
	return nil
}

func openIssue(t *testing.T, s *memory.Store, id memory.CustomerID, subject string, ch memory.Channel) memory.Issue {
	t.Helper()
	is, err := s.OpenIssue(context.Background(), id, subject, ch)
	require.NoError(t, err)
	return is
}

func contact(t *testing.T, s *memory.Store, id memory.CustomerID, c memory.Contact) {
	t.Helper()
	_, err := s.RecordContact(context.Background(), id, c)
	require.NoError(t, err)
}

// TestQueueOrderAndFilters: the queue lists the customers with an open
// issue or at risk, newest contact first; each filter narrows it; at risk
// is judged at the query's time with the store's window, so a customer
// leaves the at-risk list when the window passes, without a write.
func TestQueueOrderAndFilters(t *testing.T) {
	ctx := context.Background()
	s, c := openClocked(t)
	tick := func() { c.Advance(time.Minute) }
	newCustomer := func(name string) memory.CustomerID {
		id := recognize(t, s, memory.Email(name+"@example.com").AsVerified()).Customer
		require.NoError(t, s.SetName(ctx, id, name))
		return id
	}
	waiting := newCustomer("waiting")
	openIssue(t, s, waiting, "Parcel late", memory.ChannelEmail)
	tick()
	quiet := newCustomer("quiet")
	openIssue(t, s, quiet, "Invoice", memory.ChannelEmail)
	since := c.Now().Add(time.Second)
	tick()
	back := newCustomer("back")
	refund := openIssue(t, s, back, "Refund", memory.ChannelEmail)
	tick()
	contact(t, s, back, memory.Contact{Channel: memory.ChannelPhone, Issue: refund.ID, Summary: "where is it?"})
	tick()
	unhappy := newCustomer("unhappy")
	contact(t, s, unhappy, memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNegative, Summary: "slow"})
	tick()
	contact(t, s, unhappy, memory.Contact{Channel: memory.ChannelPhone, Outcome: memory.OutcomeNegative, Summary: "rude"})
	tick()
	solved := newCustomer("solved")
	is := openIssue(t, s, solved, "Size", memory.ChannelChat)
	require.NoError(t, s.ResolveIssue(ctx, solved, is.ID, "exchanged"))
	once := newCustomer("once")
	contact(t, s, once, memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNegative, Summary: "meh"})
	tick()

	for _, tc := range []struct {
		name string
		q    memory.QueueQuery
		want []memory.CustomerID
	}{
		{"all", memory.QueueQuery{}, []memory.CustomerID{unhappy, back, quiet, waiting}},
		{"open", memory.QueueQuery{Open: true}, []memory.CustomerID{back, quiet, waiting}},
		{"escalated", memory.QueueQuery{Escalated: true}, []memory.CustomerID{back}},
		{"at risk", memory.QueueQuery{AtRisk: true}, []memory.CustomerID{unhappy}},
		{"not contacted since", memory.QueueQuery{NotContactedSince: since}, []memory.CustomerID{quiet, waiting}},
		{"open and not contacted since", memory.QueueQuery{Open: true, NotContactedSince: since.Add(-time.Minute)}, []memory.CustomerID{waiting}},
		{"escalated and at risk", memory.QueueQuery{Escalated: true, AtRisk: true}, nil},
		{"at risk, judged a window later", memory.QueueQuery{AtRisk: true, Now: c.Now().Add(memory.DefaultAtRiskWindow + time.Hour)}, nil},
		{"all, judged a window later", memory.QueueQuery{Now: c.Now().Add(memory.DefaultAtRiskWindow + time.Hour)}, []memory.CustomerID{back, quiet, waiting}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, queueIDs(t, s, tc.q))
		})
	}

	page, err := s.Queue(ctx, memory.QueueQuery{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 4)
	first, second := page.Entries[0], page.Entries[1]
	require.Equal(t, "unhappy", first.Name)
	require.True(t, first.AtRisk)
	require.False(t, first.Escalate)
	require.Empty(t, first.OpenIssues)
	require.Equal(t, memory.ChannelPhone, first.LastContact.Channel)
	require.Equal(t, "back", second.Name)
	require.True(t, second.Escalate)
	require.Len(t, second.OpenIssues, 1)
	require.Equal(t, "Refund", second.OpenIssues[0].Subject)
	require.Equal(t, "where is it?", second.LastContact.Summary)
	for i := 1; i < len(page.Entries); i++ {
		require.False(t, page.Entries[i].LastContact.At.After(page.Entries[i-1].LastContact.At), "newest first")
	}

	// Resolving the last open issue takes the customer out at once.
	require.NoError(t, s.ResolveIssue(ctx, back, refund.ID, "refunded"))
	require.Equal(t, []memory.CustomerID{unhappy, quiet, waiting}, queueIDs(t, s, memory.QueueQuery{}))
	// A new contact moves a customer to the front.
	contact(t, s, waiting, memory.Contact{Channel: memory.ChannelEmail, Summary: "any news?"})
	require.Equal(t, []memory.CustomerID{waiting, unhappy, quiet}, queueIDs(t, s, memory.QueueQuery{}))
}

// TestQueuePaging: with nothing changing, pages of every size show every
// customer of the queue once, in the order of one listing, customers
// contacted at the same moment included.
func TestQueuePaging(t *testing.T) {
	ctx := context.Background()
	s, c := openClocked(t)
	for i := range 23 {
		id := recognize(t, s, memory.Email(fmt.Sprintf("p%d@example.com", i)).AsVerified()).Customer
		openIssue(t, s, id, "Question", memory.ChannelEmail)
		if i%3 == 0 {
			c.Advance(time.Second) // some share a moment
		}
	}
	all, err := s.Queue(ctx, memory.QueueQuery{Limit: memory.MaxQueuePage})
	require.NoError(t, err)
	require.Len(t, all.Entries, 23)
	require.Empty(t, all.Next)
	var want []memory.CustomerID
	for _, e := range all.Entries {
		want = append(want, e.Customer)
	}
	for _, limit := range []int{1, 2, 5, 7, 22, 23, 24} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			require.Equal(t, want, queueIDs(t, s, memory.QueueQuery{Limit: limit}))
		})
	}
	page, err := s.Queue(ctx, memory.QueueQuery{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 23, "the default page holds them all")

	// Filters page too, and a cursor stays good for the same filters.
	since := c.Now().Add(-3 * time.Second)
	old := queueIDs(t, s, memory.QueueQuery{NotContactedSince: since, Limit: 2})
	require.Equal(t, want[len(want)-len(old):], old)
	require.NotEmpty(t, old)
}

// TestQueuePagingWhileWriting pages through the queue while other
// customers are written at the same time. Invariants:
//   - no customer is shown twice in one pass (newest contacts only move
//     forward, so a customer that moves goes in front of the cursor);
//   - every customer that no write touched during the pass is shown;
//   - the store's invariants hold after (openStore's Check).
func TestQueuePagingWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var still, busy []memory.CustomerID
	for i := range 40 {
		id := recognize(t, s, memory.Email(fmt.Sprintf("w%d@example.com", i)).AsVerified()).Customer
		openIssue(t, s, id, "Question", memory.ChannelEmail)
		if i%2 == 0 {
			still = append(still, id)
		} else {
			busy = append(busy, id)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	writes := 0
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			select {
			case <-done:
				return
			default:
			}
			id := busy[i%len(busy)]
			var err error
			switch i % 4 {
			case 0: // a new customer enters the queue
				var r memory.Recognition
				r, err = s.Recognize(ctx, memory.Email(fmt.Sprintf("new%d@example.com", i)).AsVerified())
				if err == nil {
					_, err = s.OpenIssue(ctx, r.Customer, "New", memory.ChannelChat)
				}
			case 1: // one moves to the front
				_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Summary: "again"})
			case 2: // one leaves, or comes back with a new issue
				b, berr := s.Brief(ctx, id, memory.BriefQuery{})
				err = berr
				if err == nil && len(b.OpenIssues) > 0 {
					err = s.ResolveIssue(ctx, id, b.OpenIssues[0].ID, "done")
				} else if err == nil {
					_, err = s.OpenIssue(ctx, id, "Back", memory.ChannelEmail)
				}
			case 3:
				err = s.SetPreference(ctx, id, memory.PrefLanguage, "nl")
			}
			if err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			writes++
		}
	}()
	seen := map[memory.CustomerID]int{}
	q := memory.QueueQuery{Limit: 3}
	pages := 0
	for ; pages < 1000; pages++ {
		page, err := s.Queue(ctx, q)
		require.NoError(t, err)
		for _, e := range page.Entries {
			seen[e.Customer]++
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	close(done)
	wg.Wait()
	require.Less(t, pages, 1000)
	for id, n := range seen {
		require.Equal(t, 1, n, "customer %s shown %d times in one pass", id, n)
	}
	for _, id := range still {
		require.Contains(t, seen, id, "an untouched customer was lost")
	}
	t.Logf("%d pages, %d customers, %d writes meanwhile", pages+1, len(seen), writes)
}

// TestQueueForget: Forget takes the customer out of the queue in its own
// write: the queue never lists it after Forget returns, nor when its
// receipt reaches a watcher; and the store's check finds no entry left.
func TestQueueForget(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	stay := recognize(t, s, memory.Email("stay@example.com").AsVerified()).Customer
	openIssue(t, s, stay, "Stays", memory.ChannelEmail)
	gone := recognize(t, s, memory.Email("gone@example.com").AsVerified()).Customer
	openIssue(t, s, gone, "Goes", memory.ChannelEmail)
	require.Equal(t, []memory.CustomerID{gone, stay}, queueIDs(t, s, memory.QueueQuery{}))

	w, err := s.Watch(ctx, memory.EventForgotten)
	require.NoError(t, err)
	defer w.Close()
	_, err = s.Forget(ctx, gone)
	require.NoError(t, err)
	require.Equal(t, []memory.CustomerID{stay}, queueIDs(t, s, memory.QueueQuery{}))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, err := w.Next(wctx)
	require.NoError(t, err)
	require.Equal(t, gone, e.Customer)
	require.Equal(t, []memory.CustomerID{stay}, queueIDs(t, s, memory.QueueQuery{}))
	require.NoError(t, s.Check(ctx))
}

// TestQueueMergeUnmerge: a merge takes the absorbed customer out and the
// survivor holds both issues; unmerge brings both back as they were.
func TestQueueMergeUnmerge(t *testing.T) {
	ctx := context.Background()
	s, c := openClocked(t)
	a := recognize(t, s, memory.Email("a@example.com").AsVerified()).Customer
	openIssue(t, s, a, "Parcel", memory.ChannelEmail)
	c.Advance(time.Minute)
	b := recognize(t, s, memory.Phone("+31 6 1234 5678").AsVerified()).Customer
	openIssue(t, s, b, "Invoice", memory.ChannelPhone)
	require.Equal(t, []memory.CustomerID{b, a}, queueIDs(t, s, memory.QueueQuery{}))

	_, err := s.Merge(ctx, a, b, "same person")
	require.NoError(t, err)
	page, err := s.Queue(ctx, memory.QueueQuery{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	require.Equal(t, a, page.Entries[0].Customer)
	require.Len(t, page.Entries[0].OpenIssues, 2)
	require.NoError(t, s.Check(ctx))

	require.NoError(t, s.Unmerge(ctx, b))
	page, err = s.Queue(ctx, memory.QueueQuery{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	require.Equal(t, b, page.Entries[0].Customer)
	require.Equal(t, "Invoice", page.Entries[0].OpenIssues[0].Subject)
	require.Equal(t, a, page.Entries[1].Customer)
	require.Len(t, page.Entries[1].OpenIssues, 1)
	require.Equal(t, "Parcel", page.Entries[1].OpenIssues[0].Subject)
}

// TestQueueCursorAttack plays a client that sends the cursor back changed:
// anything the store did not make, for this query, is refused with
// ErrInvalidInput saying what is wrong, and never lists anything.
func TestQueueCursorAttack(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for i := range 5 {
		id := recognize(t, s, memory.Email(fmt.Sprintf("c%d@example.com", i)).AsVerified()).Customer
		openIssue(t, s, id, "Question", memory.ChannelEmail)
	}
	page, err := s.Queue(ctx, memory.QueueQuery{Limit: 2})
	require.NoError(t, err)
	require.NotEmpty(t, page.Next)
	good := page.Next
	raw, err := base64.RawURLEncoding.DecodeString(good)
	require.NoError(t, err)

	other := openStore(t)
	for i := range 3 {
		id := recognize(t, other, memory.Email(fmt.Sprintf("o%d@example.com", i)).AsVerified()).Customer
		openIssue(t, other, id, "Question", memory.ChannelEmail)
	}
	foreign, err := other.Queue(ctx, memory.QueueQuery{Limit: 1})
	require.NoError(t, err)

	bad := map[string]string{
		"garbage":         "not a cursor at all",
		"not base64":      "!!!!",
		"empty body":      base64.RawURLEncoding.EncodeToString(nil) + "=",
		"truncated":       good[:len(good)-4],
		"longer":          good + "AAAA",
		"huge":            strings.Repeat("A", 1<<20),
		"another store's": foreign.Next,
	}
	for i := range raw {
		flipped := append([]byte(nil), raw...)
		flipped[i] ^= 0x01
		bad[fmt.Sprintf("byte %d flipped", i)] = base64.RawURLEncoding.EncodeToString(flipped)
	}
	for name, cursor := range bad {
		t.Run(name, func(t *testing.T) {
			got, err := s.Queue(ctx, memory.QueueQuery{Limit: 2, After: cursor})
			require.ErrorIs(t, err, memory.ErrInvalidInput)
			var ie *memory.InputError
			require.True(t, errors.As(err, &ie))
			require.Equal(t, "queue cursor", ie.Field)
			require.Empty(t, got.Entries)
		})
	}
	t.Run("another query's", func(t *testing.T) {
		_, err := s.Queue(ctx, memory.QueueQuery{Limit: 2, After: good, Escalated: true})
		require.ErrorIs(t, err, memory.ErrInvalidInput)
		require.ErrorContains(t, err, "other filters")
	})
	for _, since := range []time.Time{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := s.Queue(ctx, memory.QueueQuery{NotContactedSince: since})
		require.ErrorIs(t, err, memory.ErrInvalidInput, "not contacted since %v", since)
	}
	for _, limit := range []int{-1, memory.MaxQueuePage + 1} {
		_, err := s.Queue(ctx, memory.QueueQuery{Limit: limit})
		require.ErrorIs(t, err, memory.ErrInvalidInput, "limit %d", limit)
	}
	// The good cursor still works after all that.
	next, err := s.Queue(ctx, memory.QueueQuery{Limit: 2, After: good})
	require.NoError(t, err)
	require.Len(t, next.Entries, 2)
}

// FuzzQueueCursor: no cursor makes Queue panic or list anything but the
// queue from a point the store's own cursors name.
func FuzzQueueCursor(f *testing.F) {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(f, err)
	f.Cleanup(func() { _ = s.Close() })
	for i := range 3 {
		r, err := s.Recognize(ctx, memory.Email(fmt.Sprintf("f%d@example.com", i)).AsVerified())
		require.NoError(f, err)
		_, err = s.OpenIssue(ctx, r.Customer, "Question", memory.ChannelEmail)
		require.NoError(f, err)
	}
	page, err := s.Queue(ctx, memory.QueueQuery{Limit: 1})
	require.NoError(f, err)
	f.Add(page.Next)
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, cursor string) {
		got, err := s.Queue(ctx, memory.QueueQuery{Limit: 1, After: cursor})
		if err != nil {
			require.ErrorIs(t, err, memory.ErrInvalidInput)
			require.Empty(t, got.Entries)
		}
	})
}
