package memory

import (
	"slices"
	"strings"
	"time"
)

// FactName is the key of the fact that holds the name a customer gave in a
// form, such as a checkout's name field marked
// data-herken-fact="contact.name".
//
// The customer's name is one notion, the same in a Brief, a Customer view,
// an Export, a Snapshot and a browser's Local memory: the newer of the name
// set directly (Store.SetName, Tx.SetName, Local.SetName) and the value of
// the FactName fact while it is kept; on a tie, the name set directly. An
// empty name set directly is no name, so the fact shows through it: to
// remove a name the customer gave, forget the fact (Store.ForgetFact). A
// brief for a purpose that may not use the fact (see Fact.Purpose) leaves a
// name that is only the fact out. The name is computed where it is read:
// histories project as they always did.
const FactName = "contact.name"

// name returns the customer's name as of now (see FactName). usable, when
// not nil, says whether the fact may be used where the name is read: a
// brief for a purpose the fact's consent does not allow leaves a name that
// is only such a fact out.
func (p *profile) name(now time.Time, usable func(*Fact) bool) string {
	i, ok := slices.BinarySearchFunc(p.Facts, FactName, func(f Fact, k string) int { return strings.Compare(f.Key, k) })
	if !ok {
		return p.Name
	}
	f := &p.Facts[i] // not a copy: a brief's hot path does not allocate
	if f.expired(now) || usable != nil && !usable(f) {
		return p.Name
	}
	if p.Name != "" && !p.NameAt.Before(f.At) {
		return p.Name
	}
	return f.Value
}

// nameFromSnapshot sets on p, a profile rebuilt from a snapshot, the name
// set directly that the snapshot's name implies, so that the name a Local
// memory computes is the snapshot's and follows the visitor's changes as
// the store's would: a snapshot's name that is its FactName fact's value
// was the fact's; another one was set directly, later than the fact.
func (p *profile) nameFromSnapshot(name string) {
	p.Name, p.NameAt = name, time.Time{}
	f, ok := p.fact(FactName)
	switch {
	case !ok || name == "":
	case f.Value == name:
		p.Name = ""
	default:
		p.NameAt = f.At
	}
}
