package wire_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

func TestBoundsOfWhatTheModuleTakes(t *testing.T) {
	lim := memory.DefaultLimits()
	require.NoError(t, wire.CheckLimits(lim))
	bytes, values := lim.SnapshotJSON()
	require.LessOrEqual(t, 2*bytes, wire.MaxSnapshot, "room for limits twice the default")
	require.LessOrEqual(t, 2*values, wire.MaxSnapshotValues)
	require.Greater(t, wire.MaxInput, wire.MaxSnapshot+memory.MaxPending*memory.MaxChangeJSON)

	for _, raise := range []func(*memory.Limits){
		func(l *memory.Limits) { l.Facts = 700 },
		func(l *memory.Limits) { l.Drafts = 20_000 },
	} {
		l := memory.DefaultLimits()
		raise(&l)
		require.Error(t, wire.CheckLimits(l))
	}

	s := &memory.Snapshot{Drafts: make([]memory.DraftInfo, wire.MaxSnapshotValues/4)}
	require.False(t, wire.SnapshotFits(s, 100), "too many values")
	require.True(t, wire.SnapshotFits(&memory.Snapshot{}, wire.MaxSnapshot))
	require.False(t, wire.SnapshotFits(&memory.Snapshot{}, wire.MaxSnapshot+1))
}
