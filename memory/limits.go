package memory

import (
	"strconv"
	"time"
)

// Limits bound what one customer holds, so that no customer grows without
// bound. A change that would pass a limit fails with a *LimitError and
// changes nothing. The contact and resolved-issue timelines, which the
// history holds, show their newest entries up to their limits.
type Limits struct {
	Identifiers int // linked identifiers; default 32
	Merges      int // customers merged into one; default 32
	Facts       int // facts; default 256
	Preferences int // preferences; default 64
	OpenIssues  int // open issues; default 64
	Issues      int // resolved issues shown in the timeline; default 256
	Contacts    int // contacts shown in the timeline; default 256
	Drafts      int // drafts; default 32
	DraftSize   int // bytes in one draft; default 1 MiB
}

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
	} {
		if f.v < f.min {
			return invalid("limit "+f.name, "at least "+strconv.Itoa(f.min))
		}
	}
	return nil
}

// DefaultAtRiskWindow is how recent two negative outcomes must be to mark a
// customer at risk, unless the store's options say otherwise.
const DefaultAtRiskWindow = 90 * 24 * time.Hour
