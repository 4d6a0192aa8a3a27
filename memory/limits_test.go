//go:build !wasip1

package memory_test

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// storeKinds opens a store of each kind for a test: on disk, and on the
// run's engine (in memory, or in PostgreSQL).
func storeKinds(t *testing.T, change ...func(memory.Options) memory.Options) map[string]*memory.Store {
	t.Helper()
	out := map[string]*memory.Store{}
	for name, opts := range map[string]memory.Options{
		"disk":   memory.DefaultOptions(t.TempDir()),
		"engine": engineOptions(t),
	} {
		opts = opts.WithDefaultRegion("NL")
		for _, c := range change {
			opts = c(opts)
		}
		s, err := memory.Open(context.Background(), opts)
		require.NoError(t, err)
		t.Cleanup(func() {
			require.NoError(t, s.Check(context.Background()), "store invariants")
			require.NoError(t, s.Close())
		})
		out[name] = s
	}
	return out
}

// state is what a failed change must leave as it was: the customer's view,
// history and drafts, as JSON.
func state(t *testing.T, s *memory.Store, id memory.CustomerID) string {
	t.Helper()
	x, err := s.Export(context.Background(), id)
	require.NoError(t, err)
	x.Exported = time.Time{} // not part of the state
	b, err := json.Marshal(x)
	require.NoError(t, err)
	return string(b)
}

func letters(n int) string { return strings.Repeat("a", n) }

// emailOf returns a well-formed email address of n bytes (n > 70): 64
// bytes before the @, and labels of at most 63 bytes after it.
func emailOf(n int) string {
	rest := n - 64 - 1 - len(".com")
	var labels []string
	for rest > 0 {
		size := min(63, rest)
		if rest-size == 1 { // a dot and nothing after it
			size--
		}
		labels = append(labels, strings.Repeat("b", size))
		rest -= size
		if rest > 0 {
			rest-- // the dot
		}
	}
	return letters(64) + "@" + strings.Join(labels, ".") + ".com"
}

// A boundary is a limit on one input: a change of size n succeeds up to
// limit and fails with want above it, changing nothing.
type boundary struct {
	name  string
	limit int
	try   func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error
	want  error
}

func textBoundaries() []boundary {
	draft := func(name string, size int) func(context.Context, *memory.Store, memory.CustomerID, int) error {
		return func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			if name == "" {
				return s.SaveDraft(ctx, id, letters(n), []byte("x"))
			}
			return s.SaveDraft(ctx, id, name, make([]byte, n))
		}
	}
	return []boundary{
		{"draft size", 1 << 20, draft("cart", 0), memory.ErrLimit},
		{"draft name", 64, draft("", 0), memory.ErrInvalidInput},
		{"fact key", 64, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Remember(ctx, id, memory.Fact{Key: letters(n), Value: "v"})
		}, memory.ErrInvalidInput},
		{"fact value", 4096, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Remember(ctx, id, memory.Fact{Key: "k", Value: letters(n)})
		}, memory.ErrInvalidInput},
		{"name", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.SetName(ctx, id, letters(n))
		}, memory.ErrInvalidInput},
		{"preference key", 64, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.SetPreference(ctx, id, letters(n), "v")
		}, memory.ErrInvalidInput},
		{"preference value", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.SetPreference(ctx, id, "note", letters(n))
		}, memory.ErrInvalidInput},
		{"consent source", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing, Granted: true, Source: letters(n)})
		}, memory.ErrInvalidInput},
		{"channel", 32, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.Channel(letters(n))})
			return err
		}, memory.ErrInvalidInput},
		{"issue subject", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.OpenIssue(ctx, id, letters(n), memory.ChannelEmail)
			return err
		}, memory.ErrInvalidInput},
		{"contact summary", 1024, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Summary: letters(n)})
			return err
		}, memory.ErrInvalidInput},
		{"resolution", 1024, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Update(ctx, id, func(tx *memory.Tx) error {
				is, err := tx.OpenIssue("late", memory.ChannelEmail)
				if err != nil {
					return err
				}
				return tx.ResolveIssue(is.ID, letters(n))
			})
		}, memory.ErrInvalidInput},
		{"signal note", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalReview, Note: letters(n)})
		}, memory.ErrInvalidInput},
		{"email", 254, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.Link(ctx, id, memory.Email(emailOf(n)))
			return err
		}, memory.ErrInvalidIdentifier},
		{"account", 256, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.Link(ctx, id, memory.Account(letters(n)))
			return err
		}, memory.ErrInvalidIdentifier},
		{"identifier kind", 32, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			_, err := s.Link(ctx, id, memory.Identifier{Kind: memory.Kind(letters(n)), Value: "value"})
			return err
		}, memory.ErrInvalidIdentifier},
	}
}

func countBoundaries() []boundary {
	lim := memory.DefaultLimits()
	return []boundary{
		{"facts", lim.Facts, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			fs := make([]memory.Fact, n)
			for i := range fs {
				fs[i] = memory.Fact{Key: fmt.Sprintf("f.%d", i), Value: "v"}
			}
			return s.Remember(ctx, id, fs...)
		}, memory.ErrLimit},
		{"identifiers", lim.Identifiers, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			// The customer has its email already.
			ids := make([]memory.Identifier, n-1)
			for i := range ids {
				ids[i] = memory.Account(fmt.Sprintf("acct-%d-%s", i, id)).AsVerified()
			}
			_, err := s.Link(ctx, id, ids...)
			return err
		}, memory.ErrLimit},
		{"preferences", lim.Preferences, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Update(ctx, id, func(tx *memory.Tx) error {
				for i := range n {
					if err := tx.SetPreference(fmt.Sprintf("p%d", i), "v"); err != nil {
						return err
					}
				}
				return nil
			})
		}, memory.ErrLimit},
		{"open issues", lim.OpenIssues, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Update(ctx, id, func(tx *memory.Tx) error {
				for i := range n {
					if _, err := tx.OpenIssue(fmt.Sprintf("issue %d", i), memory.ChannelEmail); err != nil {
						return err
					}
				}
				return nil
			})
		}, memory.ErrLimit},
		{"drafts", lim.Drafts, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Update(ctx, id, func(tx *memory.Tx) error {
				for i := range n {
					if err := tx.SaveDraft(fmt.Sprintf("d%d", i), []byte("x")); err != nil {
						return err
					}
				}
				return nil
			})
		}, memory.ErrLimit},
		{"channels with consent", memory.MaxChannels, func(ctx context.Context, s *memory.Store, id memory.CustomerID, n int) error {
			return s.Update(ctx, id, func(tx *memory.Tx) error {
				for i := range n {
					c := memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.Channel(fmt.Sprintf("ch%d", i)), Granted: true}
					if err := tx.RecordConsent(c); err != nil {
						return err
					}
				}
				return nil
			})
		}, memory.ErrLimit},
	}
}

// TestBoundaries tries every limit on what one change may hold at one byte
// (or item) under it, at it, and over it, on disk and in memory: up to the
// limit the change is kept; over it the call fails with the documented
// error, says what was wrong, and changes nothing.
func TestBoundaries(t *testing.T) {
	ctx := context.Background()
	for engine, s := range storeKinds(t) {
		for _, b := range append(textBoundaries(), countBoundaries()...) {
			t.Run(engine+"/"+b.name, func(t *testing.T) {
				for _, n := range []int{b.limit - 1, b.limit, b.limit + 1} {
					id := recognize(t, s, memory.Email(fmt.Sprintf("%s-%d@example.com", strings.ReplaceAll(b.name, " ", "-"), n)).AsVerified()).Customer
					before := state(t, s, id)
					err := b.try(ctx, s, id, n)
					if n <= b.limit {
						require.NoError(t, err, "%s of %d", b.name, n)
						continue
					}
					require.ErrorIs(t, err, b.want, "%s of %d", b.name, n)
					require.Less(t, len(err.Error()), 300, "a short message: %s", err)
					require.Equal(t, before, state(t, s, id), "a failed change changes nothing")
				}
			})
		}
	}
}

// TestDraftSizesNearTheEngine saves drafts whose stored size falls on the
// storage engine's own boundaries: a draft of 1 MiB - 30 bytes made Badger's
// writer panic, killing the host, and a draft of 1 MiB in memory returned
// Badger's error with a dump of the value. Each is kept and read back.
func TestDraftSizesNearTheEngine(t *testing.T) {
	ctx := context.Background()
	for engine, s := range storeKinds(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.DraftSize = memory.MaxDraftSize
		return o.WithLimits(l)
	}) {
		t.Run(engine, func(t *testing.T) {
			id := recognize(t, s, memory.Email("drafts@example.com")).Customer
			for _, n := range []int{1<<20 - 31, 1<<20 - 30, 1<<20 - 29, 1 << 20, 1<<20 + 1, 256<<10 - 30, memory.MaxDraftSize - 1, memory.MaxDraftSize} {
				data := []byte(strings.Repeat(fmt.Sprint(n%10), n))
				require.NoError(t, s.SaveDraft(ctx, id, "cart", data), "%d bytes", n)
				d, err := s.LoadDraft(ctx, id, "cart")
				require.NoError(t, err)
				require.Equal(t, data, d.Data, "%d bytes come back", n)
			}
			err := s.SaveDraft(ctx, id, "cart", make([]byte, memory.MaxDraftSize+1))
			require.ErrorIs(t, err, memory.ErrLimit)
		})
	}
}

// TestWriteTooBig makes one Update that holds more than the storage engine
// takes in one write: it fails with ErrLimit and changes nothing.
func TestWriteTooBig(t *testing.T) {
	ctx := context.Background()
	for engine, s := range storeKinds(t) {
		t.Run(engine, func(t *testing.T) {
			id := recognize(t, s, memory.Email("big@example.com")).Customer
			before := state(t, s, id)
			err := s.Update(ctx, id, func(tx *memory.Tx) error {
				for i := range 16 {
					// Random bytes: zeros would compress to almost nothing.
					data := make([]byte, 1<<20)
					_, _ = crand.Read(data)
					if err := tx.SaveDraft(fmt.Sprintf("d%d", i), data); err != nil {
						return err
					}
				}
				return nil
			})
			require.ErrorIs(t, err, memory.ErrLimit)
			var le *memory.LimitError
			require.ErrorAs(t, err, &le)
			require.Contains(t, le.Error(), "bytes in one write")
			require.Equal(t, before, state(t, s, id))
		})
	}
}

// TestLimitsThatCannotFit refuses limits under which a customer would not
// fit in one write of the storage engine.
func TestLimitsThatCannotFit(t *testing.T) {
	ctx := context.Background()
	for _, change := range []func(*memory.Limits){
		func(l *memory.Limits) { l.DraftSize = memory.MaxDraftSize + 1 },
		func(l *memory.Limits) { l.Facts = 100000 },
		func(l *memory.Limits) { l.Contacts = 1 << 20 },
	} {
		l := memory.DefaultLimits()
		change(&l)
		_, err := memory.Open(ctx, memory.InMemoryOptions().WithLimits(l))
		require.ErrorIs(t, err, memory.ErrInvalidInput)
	}
	l := memory.DefaultLimits()
	l.DraftSize = memory.MaxDraftSize
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithLimits(l))
	require.NoError(t, err, "the largest drafts fit with the default limits")
	require.NoError(t, s.Close())
}
