//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// TestWorstCustomerFits builds a customer at every limit, each item as
// large as its bounds allow, with a compacted history whose timelines are
// full, and checks that the bounds the store derives its limits from hold
// what it wrote, and that the customer can still save the largest draft.
func TestWorstCustomerFits(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		t.Run(map[bool]string{false: "disk", true: "memory"}[inMemory], func(t *testing.T) {
			ctx := context.Background()
			lim := DefaultLimits()
			lim.DraftSize = MaxDraftSize
			lim.History = 1024
			opts := DefaultOptions(t.TempDir()).WithSyncWrites(false)
			if inMemory {
				opts = InMemoryOptions()
			}
			s, err := Open(ctx, opts.WithLimits(lim))
			require.NoError(t, err)
			defer s.Close()
			text := func(n int, i int) string { return fmt.Sprintf("%04d", i) + strings.Repeat("x", n-4) }
			tok := func(n int, i int) string { return "k" + fmt.Sprintf("%04d", i) + strings.Repeat("k", n-5) }

			ids := []Identifier{Email(strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com").AsVerified()}
			for i := 1; i < lim.Identifiers; i++ {
				ids = append(ids, Identifier{Kind: Kind(tok(32, i)), Value: text(256, i)}.AsVerified())
			}
			r, err := s.Recognize(ctx, ids...)
			require.NoError(t, err)
			id := r.Customer
			update := func(fn func(tx *Tx) error) { require.NoError(t, s.Update(ctx, id, fn)) }

			update(func(tx *Tx) error {
				fs := make([]Fact, lim.Facts)
				for i := range fs {
					fs[i] = Fact{Key: tok(maxFactKey, i), Value: text(maxFactValue, i), Channel: Channel(tok(32, i)), Purpose: PurposePersonalization, Retention: 1 << 40}
				}
				return tx.Remember(fs...)
			})
			update(func(tx *Tx) error {
				for i := range lim.Preferences {
					if err := tx.SetPreference(tok(64, i), text(maxPrefValue, i)); err != nil {
						return err
					}
				}
				for _, p := range []Purpose{PurposeService, PurposePersonalization, PurposeMarketing, PurposeProfiling} {
					for i := range MaxChannels + 1 {
						c := Consent{Purpose: p, Channel: Channel(tok(32, i)), Granted: true, Source: text(256, i)}
						if i == MaxChannels {
							c.Channel = ""
						}
						if err := tx.RecordConsent(c); err != nil {
							return err
						}
					}
				}
				return tx.SetName(text(256, 0))
			})
			update(func(tx *Tx) error {
				for i := range lim.OpenIssues - 1 { // one more opens and resolves below
					if _, err := tx.OpenIssue(text(maxSubject, i), Channel(tok(32, i%MaxChannels))); err != nil {
						return err
					}
				}
				return nil
			})
			update(func(tx *Tx) error {
				for i := range lim.Drafts {
					if err := tx.SaveDraft(tok(64, i), []byte("x")); err != nil {
						return err
					}
				}
				return nil
			})
			// Resolved issues and contacts, which compaction folds into full
			// timelines with everything above.
			for round := range (lim.Issues + lim.Contacts) / 32 {
				update(func(tx *Tx) error {
					for i := range 16 {
						n := round*16 + i
						// Subjects unlike those of the open issues above, which
						// an issue opened again would be a contact on.
						subject := text(maxSubject, lim.OpenIssues+n)
						is, err := tx.OpenIssue(subject, Channel(tok(32, n%MaxChannels)))
						if err != nil {
							return err
						}
						if err := tx.ResolveIssue(is.ID, text(maxResolution, n)); err != nil {
							return err
						}
						_, err = tx.RecordContact(Contact{Channel: Channel(tok(32, n%MaxChannels)), Summary: text(maxSummary, n), Subject: subject})
						if err != nil {
							return err
						}
					}
					return nil
				})
			}
			// Past the history limit: compaction folds the timelines.
			for range lim.History / 64 {
				update(func(tx *Tx) error {
					for range 64 {
						if err := tx.RecordSignal(Signal{Kind: SignalReview, Note: text(256, 1)}); err != nil {
							return err
						}
					}
					return nil
				})
			}

			txn := s.db.Begin(false)
			defer txn.Discard()
			p, err := s.readProfile(txn, s.epoch.Now(), id)
			require.NoError(t, err)
			require.NotZero(t, p.Base, "the history was compacted")
			// The bounds are on what is encoded, before it is compressed
			// and sealed: text made to fill a customer compresses well.
			c, err := s.keysOf(txn, 0, id)
			require.NoError(t, err)
			plainLen := func(k []byte) int {
				n := 0
				require.NoError(t, txn.Get(k, func(b []byte) error {
					plain, err := c.Open(k, b)
					n = len(plain)
					return err
				}))
				return n
			}
			profileBytes, checkpointBytes := plainLen(keys.Profile(string(id))), plainLen(keys.Checkpoint(string(id)))
			worstCheckpoint := lim.worstProfile() + lim.Contacts*worstContact + lim.Issues*worstIssue
			t.Logf("profile %d bytes (bound %d), compacted state %d bytes (bound %d), one write at most %d bytes (the engine takes %d)",
				profileBytes, lim.worstProfile(), checkpointBytes, worstCheckpoint, lim.worstWrite(), kv.MaxTxnBytes)
			require.LessOrEqual(t, profileBytes, lim.worstProfile())
			require.LessOrEqual(t, checkpointBytes, worstCheckpoint)
			require.Greater(t, profileBytes, lim.worstProfile()*6/10, "the customer is near the bound: the test fills it")

			require.NoError(t, s.SaveDraft(ctx, id, tok(64, 0), make([]byte, lim.DraftSize)), "the largest draft still fits")
			require.NoError(t, s.Check(ctx))
		})
	}
}
