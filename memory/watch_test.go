//go:build !wasip1

package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestWatchDeliversInCommitOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := openStore(t)
	w, err := s.Watch(ctx)
	require.NoError(t, err)
	defer w.Close()

	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	is, err := s.OpenIssue(ctx, id, "late", memory.ChannelEmail)
	require.NoError(t, err)
	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID})
	require.NoError(t, err)

	var kinds []memory.EventKind
	var seqs []uint64
	for range 5 {
		e, err := w.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, id, e.Customer)
		kinds = append(kinds, e.Kind)
		seqs = append(seqs, e.Seq)
	}
	require.Equal(t, []memory.EventKind{
		memory.EventCreated, memory.EventIdentifierLinked,
		memory.EventIssueOpened, // also the first contact
		memory.EventContactRecorded, memory.EventIssueEscalated,
	}, kinds)
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, seqs)
}

func TestWatchFiltersAndEnds(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Watch(ctx, memory.EventMerged)
	require.NoError(t, err)
	a := recognize(t, s, memory.Email("a@example.com").AsVerified()).Customer
	recognize(t, s, memory.Email("b@example.com").AsVerified())
	recognize(t, s, memory.Email("a@example.com").AsVerified(), memory.Email("b@example.com").AsVerified())
	e, err := w.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, memory.EventMerged, e.Kind)
	require.Equal(t, a, e.Customer)

	cancel()
	_, err = w.Next(context.Background())
	require.ErrorIs(t, err, context.Canceled)

	w2, err := s.Watch(context.Background())
	require.NoError(t, err)
	require.NoError(t, w2.Close())
	_, err = w2.Next(context.Background())
	require.ErrorIs(t, err, memory.ErrClosed)

	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	w3, err := s.Watch(context.Background())
	require.NoError(t, err)
	defer w3.Close()
	_, err = w3.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWatcherThatFallsBehindIsToldSo(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	w, err := s.Watch(ctx, memory.EventPreferenceSet)
	require.NoError(t, err)
	// The last write's event reaching this one says that every event
	// before it reached w too (in PostgreSQL, events come through the
	// change feed a moment after the writes).
	last, err := s.Watch(ctx, memory.EventFactRemembered)
	require.NoError(t, err)
	defer last.Close()
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	// More events than a watcher holds, 256 to a write: one write each
	// took 38 s under the race detector.
	for range (1<<14+10)/256 + 1 {
		require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
			for i := range 256 {
				if err := tx.SetPreference("counter", string(rune('a'+i%2))); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "last", Value: "write"}))
	_, err = last.Next(ctx)
	require.NoError(t, err)
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, memory.ErrLagged)
}
