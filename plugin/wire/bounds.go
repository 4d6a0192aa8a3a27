package wire

import (
	"errors"
	"strconv"

	"github.com/herken/herken/memory"
)

// What the plugin's wasm module takes. Its largest input is a saved state
// (memory.LocalState): the server's snapshot and the changes the visitor
// made since. A browser re-encodes what it passes on (JSON.stringify), in
// fewer bytes than this package writes, never more.
const (
	// MaxSnapshot bounds the JSON of a snapshot the module takes from the
	// server, and so what the handler sends: more than twice what a
	// customer at the default limits needs (memory.Limits.SnapshotJSON),
	// for stores with higher limits.
	MaxSnapshot = 16 << 20
	// MaxSnapshotValues bounds the JSON values of a snapshot the module
	// takes: what MaxItems leaves once memory.MaxPending changes are parsed
	// with it.
	MaxSnapshotValues = MaxItems - memory.MaxPending*memory.MaxChangeValues - 16
	// MaxInput bounds one input of the module: a saved state of a snapshot
	// of MaxSnapshot bytes and memory.MaxPending changes.
	MaxInput = MaxSnapshot + memory.MaxPending*(memory.MaxChangeJSON+1) + 1<<10
)

// CheckLimits returns an error when a customer at limits l could have a
// snapshot larger than the module takes.
func CheckLimits(l memory.Limits) error {
	bytes, values := l.SnapshotJSON()
	if bytes > MaxSnapshot || values > MaxSnapshotValues {
		return errors.New("wire: a customer at these limits may have a snapshot of " + strconv.Itoa(bytes) +
			" bytes and " + strconv.Itoa(values) + " values, and the browser module takes " + strconv.Itoa(MaxSnapshot) +
			" and " + strconv.Itoa(MaxSnapshotValues) + "; lower Facts, Identifiers, Preferences, OpenIssues, Drafts or Merges")
	}
	return nil
}

// SnapshotFits reports whether the module takes snapshot s, whose JSON is n
// bytes long.
func SnapshotFits(s *memory.Snapshot, n int) bool {
	values := 9 + 4*len(s.Identifiers) + 7*len(s.Facts) + 4*len(s.Preferences) + 6*len(s.Consents) +
		12*len(s.OpenIssues) + 6*len(s.LastContacts) + 4*len(s.Drafts)
	return n <= MaxSnapshot && values <= MaxSnapshotValues
}
