//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestRandomOperationsKeepInvariants applies random operations of every
// kind, from one goroutine, and checks the store's invariants as it goes:
// whatever the order of merges, unmerges, forgets, expiring facts and
// writes, every profile stays the projection of its history and every
// identifier points at the customer that lists it.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	steps := 600
	if testing.Short() {
		steps = 150
	}
	for seed := range uint64(*randomSeeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			s, clk := openClocked(t, func(o memory.Options) memory.Options {
				l := memory.DefaultLimits()
				l.Contacts, l.Issues, l.Merges = 6, 4, 4
				return o.WithLimits(l)
			})
			rng := rand.New(rand.NewPCG(seed, 42))
			ident := func() memory.Identifier {
				var id memory.Identifier
				switch rng.IntN(3) {
				case 0:
					id = memory.Email(fmt.Sprintf("p%d@example.com", rng.IntN(8)))
				case 1:
					id = memory.Phone(fmt.Sprintf("+3161234567%d", rng.IntN(8)))
				default:
					id = memory.Device(fmt.Sprintf("device-%08d", rng.IntN(8)))
				}
				if rng.IntN(2) == 0 {
					id = id.AsVerified()
				}
				return id
			}
			subjects := []string{"issue", "Re: issue", "Refund Z-77", "Refund Z-78", "Where is Z-77?"}
			var known []memory.CustomerID
			var issues []memory.IssueID
			anyone := func() memory.CustomerID {
				if len(known) == 0 {
					return "aaaaaaaaaaaaaaaaaaaaaaaaaa"
				}
				return known[rng.IntN(len(known))]
			}
			allowed := func(err error) {
				t.Helper()
				if err != nil && !errors.Is(err, memory.ErrNotFound) && !errors.Is(err, memory.ErrNotMerged) &&
					!errors.Is(err, memory.ErrLimit) && !errors.Is(err, memory.ErrInvalidInput) {
					require.NoError(t, err)
				}
			}
			for step := range steps {
				clk.Advance(time.Duration(rng.IntN(120)) * time.Minute)
				var err error
				op := rng.IntN(13)
				switch op {
				case 0, 1, 2:
					var r memory.Recognition
					r, err = s.Recognize(ctx, ident(), ident())
					if err == nil {
						known = append(known, r.Customer)
					}
				case 3:
					err = s.Remember(ctx, anyone(), memory.Fact{Key: fmt.Sprintf("k%d", rng.IntN(5)), Value: fmt.Sprint(step),
						Retention: time.Duration(rng.IntN(3)) * 3 * time.Hour})
				case 4:
					var is memory.Issue
					// Subjects alike and not: the same question opened again
					// is a contact, and merges join issues about one thing.
					is, err = s.OpenIssue(ctx, anyone(), subjects[rng.IntN(len(subjects))], memory.ChannelEmail)
					if err == nil {
						issues = append(issues, is.ID)
					}
				case 5:
					c := memory.Contact{Channel: memory.ChannelPhone, Outcome: memory.OutcomeNegative}
					if len(issues) > 0 && rng.IntN(2) == 0 {
						c.Issue = issues[rng.IntN(len(issues))]
					} else if rng.IntN(2) == 0 {
						c.Subject = subjects[rng.IntN(len(subjects))]
					}
					_, err = s.RecordContact(ctx, anyone(), c)
				case 6:
					if len(issues) > 0 {
						err = s.ResolveIssue(ctx, anyone(), issues[rng.IntN(len(issues))], "done")
					}
				case 7:
					_, err = s.Merge(ctx, anyone(), anyone(), "test")
				case 8:
					err = s.Unmerge(ctx, anyone())
				case 9:
					if rng.IntN(4) == 0 {
						_, err = s.Forget(ctx, anyone())
					}
				case 10:
					if rng.IntN(2) == 0 {
						err = s.SaveDraft(ctx, anyone(), fmt.Sprintf("d%d", rng.IntN(3)), []byte(fmt.Sprint(step)))
					} else {
						err = s.DeleteDraft(ctx, anyone(), fmt.Sprintf("d%d", rng.IntN(3)))
					}
				case 11:
					err = s.SetPreference(ctx, anyone(), memory.PrefChannel, []string{"", "email", "phone"}[rng.IntN(3)])
				case 12:
					_, err = s.Link(ctx, anyone(), ident())
				}
				if debugRandom {
					t.Logf("step %d: op %d err=%v", step, op, err)
				}
				allowed(err)
				if step%20 == 0 || debugRandom {
					require.NoError(t, s.Check(ctx), "after step %d", step)
				}
			}
		})
	}
}

// debugRandom logs every step and checks after each.
const debugRandom = false

var randomSeeds = flag.Int("seeds", 3, "how many random sequences TestRandomOperationsKeepInvariants runs")
