//go:build !wasip1

package memory_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestDrafts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer

	big := bytes.Repeat([]byte("layout-"), 300<<10/7) // over 256 KiB
	require.NoError(t, s.SaveDraft(ctx, id, "layout", big))
	require.NoError(t, s.SaveDraft(ctx, id, "cart", []byte(`{"items":[1,2]}`)))
	require.NoError(t, s.SaveDraft(ctx, id, "cart", []byte(`{"items":[1,2,3]}`)))

	d, err := s.LoadDraft(ctx, id, "layout")
	require.NoError(t, err)
	require.Equal(t, big, d.Data)
	d, err = s.LoadDraft(ctx, id, "cart")
	require.NoError(t, err)
	require.Equal(t, `{"items":[1,2,3]}`, string(d.Data))

	list, err := s.Drafts(ctx, id)
	require.NoError(t, err)
	require.Len(t, list, 2)

	require.NoError(t, s.DeleteDraft(ctx, id, "cart"))
	_, err = s.LoadDraft(ctx, id, "cart")
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.DeleteDraft(ctx, id, "cart"), memory.ErrNotFound)

	err = s.SaveDraft(ctx, id, "too-big", make([]byte, 2<<20))
	require.ErrorIs(t, err, memory.ErrLimit)
	var le *memory.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 1<<20, le.Limit)
	require.Equal(t, "memory: limit reached: at most 1048576 bytes in one draft", err.Error())
	require.ErrorIs(t, s.SaveDraft(ctx, id, "Bad Name", nil), memory.ErrInvalidInput)
}

func TestDraftDeletedOnSurvivorReturnsOnUnmerge(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := recognize(t, s, memory.Email("a@example.com")).Customer
	b := recognize(t, s, memory.Email("b@example.com")).Customer
	require.NoError(t, s.SaveDraft(ctx, b, "form", []byte("b's form")))
	_, err := s.Merge(ctx, a, b, "")
	require.NoError(t, err)
	require.NoError(t, s.DeleteDraft(ctx, a, "form"))
	_, err = s.LoadDraft(ctx, a, "form")
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.NoError(t, s.Unmerge(ctx, b))
	d, err := s.LoadDraft(ctx, b, "form")
	require.NoError(t, err, "restored as it was before the merge")
	require.Equal(t, "b's form", string(d.Data))
}
