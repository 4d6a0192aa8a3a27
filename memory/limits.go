package memory

import (
	"strconv"
	"time"
)

// Limits bound what one customer holds, so that no customer grows without
// bound. A change that would pass a limit fails with a *LimitError and
// changes nothing. The contact and resolved-issue timelines, which the
// history holds, show their newest entries up to their limits.
//
// The history is bounded by compaction instead: once it holds more than
// History events, its oldest events, all but the newest History/2, are
// folded into one history.compacted event and the state they left (see
// Compaction). What a brief, a Customer view, an export or a replay needs
// is kept; the folded events themselves are not. A merge still in force
// stops the fold, so that Unmerge can undo it, until the history has grown
// to twice History: then it is folded too and becomes final
// (ErrMergeFinal).
//
// Every field of a change has its own bound (a fact value 4 KiB, a contact
// summary or a resolution 1 KiB, a subject, a preference value, an
// identifier 256 bytes, a key 64 bytes), so that one event is never more
// than MaxEventSize bytes. Consent names at most MaxChannels channels, and
// the last contact is kept for the newest MaxChannels channels.
//
// A merge that would take the survivor past a limit fails the same way, so
// that a customer never holds more than one customer may. A Store refuses
// limits under which a customer at every limit would not fit in one write
// of its storage engine (see Open).
type Limits struct {
	Identifiers int // linked identifiers; default 32
	Merges      int // customers merged into one; default 32
	Facts       int // facts; default 256
	Preferences int // preferences; default 64
	OpenIssues  int // open issues; default 64
	Issues      int // resolved issues shown in the timeline; default 256
	Contacts    int // contacts shown in the timeline; default 256
	Drafts      int // drafts; default 32
	DraftSize   int // bytes in one draft; default 1 MiB, at most MaxDraftSize
	History     int // events in the history before it is compacted; default (and 0) 4096
}

// MaxEventSize bounds the bytes one event of a customer's history takes,
// encoded: more than the sum of its fields' bounds.
const MaxEventSize = 8 << 10

// MaxDraftSize is the largest Limits.DraftSize.
const MaxDraftSize = 4 << 20

// MaxChannels bounds how many channels a customer's consent names, and how
// many channels the last contacts are kept for (the newest).
const MaxChannels = 32

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		Identifiers: 32,
		Merges:      32,
		Facts:       256,
		Preferences: 64,
		OpenIssues:  64,
		Issues:      256,
		Contacts:    256,
		Drafts:      32,
		DraftSize:   1 << 20,
		History:     4096,
	}
}

func (l Limits) check() error {
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{
		{"Identifiers", l.Identifiers, 1}, {"Merges", l.Merges, 0}, {"Facts", l.Facts, 1},
		{"Preferences", l.Preferences, 1}, {"OpenIssues", l.OpenIssues, 1}, {"Issues", l.Issues, 1},
		{"Contacts", l.Contacts, 1}, {"Drafts", l.Drafts, 0}, {"DraftSize", l.DraftSize, 256 << 10},
		{"History", l.History, 64},
	} {
		if f.v < f.min {
			return invalid("limit "+f.name, "at least "+strconv.Itoa(f.min))
		}
	}
	if l.DraftSize > MaxDraftSize {
		return invalid("limit DraftSize", "at most "+strconv.Itoa(MaxDraftSize))
	}
	return nil
}

// DefaultAtRiskWindow is how recent two negative outcomes must be to mark a
// customer at risk, unless the store's options say otherwise.
const DefaultAtRiskWindow = 90 * 24 * time.Hour
