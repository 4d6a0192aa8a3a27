//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestUpdateIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer

	err := s.Update(ctx, id, func(tx *memory.Tx) error {
		require.Equal(t, id, tx.Customer())
		if err := tx.SetName("Ada"); err != nil {
			return err
		}
		if err := tx.Remember(memory.Fact{Key: "size", Value: "M"}); err != nil {
			return err
		}
		_, err := tx.OpenIssue("", memory.ChannelEmail) // refused
		return err
	})
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	b := brief(t, s, id)
	require.Empty(t, b.Name, "nothing of a failed update is applied")
	require.Empty(t, b.Facts)

	stop := errors.New("changed my mind")
	require.ErrorIs(t, s.Update(ctx, id, func(tx *memory.Tx) error {
		_ = tx.SetName("Ada")
		return stop
	}), stop)
	require.Empty(t, brief(t, s, id).Name)

	var issue memory.Issue
	require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
		if err := tx.SetName("Ada"); err != nil {
			return err
		}
		var err error
		if issue, err = tx.OpenIssue("late", memory.ChannelEmail); err != nil {
			return err
		}
		res, err := tx.RecordContact(memory.Contact{Channel: memory.ChannelPhone, Issue: issue.ID})
		if err != nil {
			return err
		}
		require.True(t, res.Escalated, "the Tx sees its own changes")
		require.True(t, tx.Brief(memory.BriefQuery{}).Escalate)
		require.Equal(t, "Ada", tx.Brief(memory.BriefQuery{}).Name)
		return tx.SaveDraft("cart", []byte("x"))
	}))
	b = brief(t, s, id)
	require.Equal(t, "Ada", b.Name)
	require.True(t, b.Escalate)
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	require.Len(t, h, 7) // created, linked, named, opened, contact, escalated, draft
}

func ExampleStore_Update() {
	ctx := context.Background()
	s, _ := memory.Open(ctx, memory.InMemoryOptions())
	defer s.Close()
	r, _ := s.Recognize(ctx, memory.Email("ada@example.com"))

	// A checkout: the answers and the consent are kept together, or not at all.
	err := s.Update(ctx, r.Customer, func(tx *memory.Tx) error {
		if err := tx.Remember(
			memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb},
			memory.Fact{Key: "shipping.city", Value: "Amsterdam", Channel: memory.ChannelWeb},
		); err != nil {
			return err
		}
		return tx.RecordConsent(memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, Source: "checkout"})
	})
	b, _ := s.Brief(ctx, r.Customer, memory.BriefQuery{})
	fmt.Println(err, len(b.Facts))
	// Output: <nil> 2
}
