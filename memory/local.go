package memory

import (
	"slices"
	"strconv"
	"time"
)

// Local is one visitor's memory as a browser keeps it: the last Snapshot
// the server sent, and the changes the visitor made since that the server
// has not yet acknowledged. It applies the same rules as the Store, so a
// page can prefill a form and greet a returning customer offline, and it
// never holds more than a Snapshot does.
//
// Its pending changes are numbered after a SyncBase (Synced): send both
// with Store.Sync, and take the answer with ApplySnapshot, or, when the
// store refused the base with a *ConflictError, Renumber after the store's
// base and send again. Two Local memories restored from one saved state
// number their changes alike; the store keeps them apart by their base, and
// Renumber lets the second one through.
//
// Local is not safe for concurrent use. The plugin's wasm module keeps one.
type Local struct {
	base    Snapshot
	synced  SyncBase // the base pending follows: the store's, after the last acknowledged sync
	pending []Event  // Seq numbers the device's changes, increasing, after synced.Applied
	next    uint64   // the Seq of the next change
	p       *profile
	lim     Limits
	now     func() time.Time
	region  string
}

// MaxPending bounds the changes a Local memory keeps while it cannot reach
// the server.
const MaxPending = 1000

// LocalState is what a Local memory persists between page loads.
type LocalState struct {
	Base    Snapshot `json:"base"`
	Synced  SyncBase `json:"synced"`
	Pending []Event  `json:"pending"`
	Next    uint64   `json:"next"`
}

// NewLocal returns an empty Local memory that takes the time from now (nil
// means time.Now) and reads phone numbers without a country code in region.
func NewLocal(now func() time.Time, region string) *Local {
	if now == nil {
		now = time.Now
	}
	l := &Local{lim: DefaultLimits(), now: now, region: region, next: 1}
	l.p = l.base.profile()
	l.p.memo = new(briefMemo)
	return l
}

// State returns what to persist.
func (l *Local) State() LocalState {
	return LocalState{Base: l.base, Synced: l.synced, Pending: slices.Clone(l.pending), Next: l.next}
}

// Restore replaces the memory with a persisted state.
func (l *Local) Restore(st LocalState) error {
	if len(st.Pending) > MaxPending {
		return &LimitError{What: "pending changes", Limit: MaxPending}
	}
	if err := st.Synced.check(); err != nil {
		return err
	}
	next := st.Next
	for i, e := range st.Pending {
		if err := checkChange(&e, true); err != nil {
			return err
		}
		if i > 0 && e.Seq <= st.Pending[i-1].Seq || i == 0 && e.Seq <= st.Synced.Applied {
			return invalid("pending changes", "not in order after the synced base")
		}
		next = max(next, e.Seq+1)
	}
	l.base, l.synced, l.pending = st.Base, st.Synced, slices.Clone(st.Pending)
	l.next = max(next, st.Synced.Applied+1)
	l.rebuild()
	return nil
}

// Pending returns the changes to send to the server, in order: those it
// has not acknowledged, without what the rules derived from them (such as an
// escalation), which the server derives itself.
func (l *Local) Pending() []Event {
	var out []Event
	for _, e := range l.pending {
		if isChangeKind(e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

// Synced returns the base the pending changes are numbered after: send it
// with them.
func (l *Local) Synced() SyncBase { return l.synced }

// ApplySnapshot takes the server's answer to a Sync of the pending
// changes, which acknowledged those up to and including applied: its
// snapshot becomes the base, the acknowledged changes are dropped, and the
// others are applied again on top of it. The next changes go on the base
// the acknowledged ones lead to, which the memory follows itself, as the
// store does; after an answer that also acknowledged changes it did not
// send (another copy's), the store refuses that base once, with its own to
// Renumber after. A snapshot that answers no Sync of these changes (a new
// session's) is applied with applied 0: the pending changes keep their
// base.
func (l *Local) ApplySnapshot(s Snapshot, applied uint64) {
	l.base = s
	if applied > l.synced.Applied && applied < ^uint64(0) {
		b := l.synced
		for i := range l.pending {
			e := &l.pending[i]
			if e.Seq > applied {
				break
			}
			if isChangeKind(e.Kind) { // derived ones are never sent
				b = b.after(e)
			}
		}
		b.Applied = applied
		l.synced = b
		l.pending = slices.DeleteFunc(l.pending, func(e Event) bool { return e.Seq <= applied })
		l.next = max(l.next, applied+1)
	}
	l.rebuild()
}

// Renumber numbers the pending changes after store, the base a
// *ConflictError carries, keeping their order, and makes it the base to send
// them on. The next changes are numbered after them; the IDs of issues
// opened here stay as they are. A base no store gives is refused, and
// changes nothing.
func (l *Local) Renumber(store SyncBase) error {
	if err := store.check(); err != nil {
		return err
	}
	if store.Applied > ^uint64(0)-uint64(len(l.pending))-1 {
		return invalid("sync base", "no room to number the pending changes after it")
	}
	seq := store.Applied
	for i := range l.pending {
		seq++
		l.pending[i].Seq = seq
	}
	l.synced = store
	l.next = max(l.next, seq+1) // never lower: local issue IDs are taken from it
	l.rebuild()
	return nil
}

// Drop removes the pending change numbered seq, one the server refused
// (a *ChangeError names it), so that the others can be sent; ErrNotFound if
// there is none.
func (l *Local) Drop(seq uint64) error {
	i := slices.IndexFunc(l.pending, func(e Event) bool { return e.Seq == seq })
	if i < 0 {
		return notFound("pending change " + strconv.FormatUint(seq, 10))
	}
	l.pending = slices.Delete(l.pending, i, i+1)
	l.rebuild()
	return nil
}

func (l *Local) rebuild() {
	l.p = l.base.profile()
	for i := range l.pending {
		l.p.apply(&l.pending[i], nil)
	}
	l.p.memo = new(briefMemo)
}

// Snapshot returns what the memory holds now, local changes included: the
// identifiers the visitor typed are shown until the server answers.
func (l *Local) Snapshot() Snapshot {
	s := l.p.snapshot(l.clock())
	for _, e := range l.pending {
		if e.Kind == EventIdentifierLinked && e.Identifier != nil {
			s.Identifiers = append(s.Identifiers, *e.Identifier)
		}
	}
	return s
}

// Brief returns the visitor's brief.
func (l *Local) Brief(q BriefQuery) Brief {
	b, _ := l.SharedBrief(q)
	b.OpenIssues = slices.Clone(b.OpenIssues)
	b.LastContacts = slices.Clone(b.LastContacts)
	b.Facts = slices.Clone(b.Facts)
	b.Preferences = slices.Clone(b.Preferences)
	return b
}

// BriefKey names a brief a Local memory keeps (see SharedBrief); the zero
// key names none.
type BriefKey struct{ e *memoEntry }

// SharedBrief returns the visitor's brief as Brief does, with its slices
// shared with the memory: they must not be changed, and they hold only
// until the memory's next change. When q.Now is zero the memory keeps the
// brief, a repeated one is a lookup, and key names it (see Holds).
func (l *Local) SharedBrief(q BriefQuery) (b Brief, key BriefKey) {
	keep := q.Now.IsZero()
	if keep {
		q.Now = l.clock()
	}
	b, e := l.p.memoBrief(q, keep, DefaultAtRiskWindow)
	return b, BriefKey{e}
}

// Holds reports whether the brief key names is still the brief of its
// query: the memory has not changed since, and time has not changed the
// brief (a fact's expiry, a pause's end, the contact hours). The wasm
// module keeps the answers it encoded from a brief while it holds.
func (l *Local) Holds(key BriefKey) bool {
	e := key.e
	return e != nil && e.memo == l.p.memo && e.holds(e.purpose, e.channel, unixNano(l.clock()))
}

// Prefill returns the values of the facts named by keys that may be used to
// fill a form: kept now, and allowed for service by the visitor's consent.
// Keys without such a fact are left out.
func (l *Local) Prefill(keys []string) map[string]string {
	out := map[string]string{}
	b, _ := l.SharedBrief(BriefQuery{})
	for _, k := range keys {
		if v, ok := b.Fact(k); ok {
			out[k] = v
		}
	}
	return out
}

// Remember records answers the visitor gave.
func (l *Local) Remember(facts ...Fact) error {
	fs, err := prepareFacts(l.clock(), facts)
	if err != nil {
		return err
	}
	return rememberFacts(l, fs)
}

// ForgetFact removes one of the visitor's facts.
func (l *Local) ForgetFact(key string) error {
	if err := checkToken("fact key", key, maxFactKey); err != nil {
		return err
	}
	return forgetFact(l, key)
}

// SetName sets the visitor's name directly (see FactName).
func (l *Local) SetName(name string) error {
	if err := checkText("name", name, 256); err != nil {
		return err
	}
	return setName(l, name)
}

// SetPreference sets one of the visitor's preferences.
func (l *Local) SetPreference(key, value string) error {
	v, err := checkPreference(key, value)
	if err != nil {
		return err
	}
	return setPreference(l, key, v)
}

// RecordConsent records the visitor's answer for a purpose.
func (l *Local) RecordConsent(c Consent) error {
	c, err := prepareConsent(l.clock(), c)
	if err != nil {
		return err
	}
	return recordConsent(l, c)
}

// Claim records identifiers the visitor typed. They are claims: the server
// links them to the visitor only if they belong to nobody else.
func (l *Local) Claim(ids ...Identifier) error {
	norm := make([]Identifier, 0, len(ids))
	for _, id := range ids {
		n, err := Normalize(id, l.region)
		if err != nil {
			return err
		}
		if n.Kind == KindDevice {
			return invalid("claim", "a device is not claimed")
		}
		n.Verified = false
		norm = append(norm, n)
	}
	for i := range norm {
		if _, ok := l.p.linked(norm[i]); ok {
			continue
		}
		if len(l.p.Idents) >= l.lim.Identifiers {
			return &LimitError{What: "identifiers", Limit: l.lim.Identifiers}
		}
		if err := l.record(Event{Kind: EventIdentifierLinked, Identifier: &norm[i]}); err != nil {
			return err
		}
	}
	return nil
}

// OpenIssue opens an issue the visitor came with. Until the server has it,
// its ID is a local one, which the server replaces. As Store.OpenIssue
// does, a question that matches an open issue of the visitor (typed again
// instead of added to) is a contact on that issue, which escalates it, and
// that issue is returned.
func (l *Local) OpenIssue(subject string, ch Channel) (Issue, error) {
	if err := checkIssue(subject, ch); err != nil {
		return Issue{}, err
	}
	return openIssue(l, IssueID(localIssuePrefix+strconv.FormatUint(l.next, 10)), subject, ch)
}

// localIssuePrefix marks the IDs of issues opened in a browser and not yet
// known to the server.
const localIssuePrefix = "local-"

// RecordContact records the visitor's contact, such as a message in the help
// widget. Its outcome is for the organization to judge: it must be empty or
// neutral. Without an Issue, its Subject attaches it to the open issue it
// matches, as the store's rule does.
func (l *Local) RecordContact(ct Contact) (ContactResult, error) {
	if ct.Outcome != "" && ct.Outcome != OutcomeNeutral {
		return ContactResult{}, invalid("contact outcome", "a visitor's contact is neutral")
	}
	ct, err := prepareContact(l.clock(), ct)
	if err != nil {
		return ContactResult{}, err
	}
	return recordContact(l, ct, DefaultAtRiskWindow, func(id IssueID) (Issue, error) {
		return Issue{}, notFound("issue " + string(id))
	})
}

func (l *Local) clock() time.Time { return l.now().UTC() }

// recorder, for the shared change functions.

func (l *Local) current() *profile { return l.p }
func (l *Local) limits() Limits    { return l.lim }

func (l *Local) record(e Event) error {
	if len(l.pending) >= MaxPending {
		return &LimitError{What: "pending changes", Limit: MaxPending}
	}
	if err := checkChange(&e, true); err != nil {
		return err
	}
	e.Seq = l.next
	if e.At.IsZero() {
		e.At = l.clock()
	}
	l.next++
	l.p.apply(&e, nil)
	l.p.memo = new(briefMemo) // the briefs kept share the slices apply changed
	l.pending = append(l.pending, e)
	return nil
}
