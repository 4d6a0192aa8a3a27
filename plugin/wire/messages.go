package wire

import (
	"github.com/herken/herken/memory"
)

// AppendSnapshot appends the JSON of a snapshot.
func AppendSnapshot(b []byte, s *memory.Snapshot) []byte {
	w := &Writer{B: b}
	writeSnapshot(w, s)
	return w.B
}

func writeSnapshot(w *Writer, s *memory.Snapshot) {
	w.BeginObject()
	w.StrOmit("name", s.Name)
	list(w, "identifiers", s.Identifiers, appendIdentifier)
	list(w, "facts", s.Facts, appendFact)
	list(w, "preferences", s.Preferences, appendPreference)
	list(w, "consents", s.Consents, appendConsent)
	list(w, "open_issues", s.OpenIssues, appendIssue)
	list(w, "last_contacts", s.LastContacts, appendContact)
	list(w, "drafts", s.Drafts, appendDraftInfo)
	w.EndObject()
}

// DecodeSnapshot decodes a snapshot.
func DecodeSnapshot(v *Value) (memory.Snapshot, error) {
	d := &dec{}
	s := d.snapshot(v, "snapshot")
	return s, d.err
}

func (d *dec) snapshot(v *Value, field string) memory.Snapshot {
	o := d.obj(v, field)
	return memory.Snapshot{
		Name:         d.str(o, "name"),
		Identifiers:  items(d, o.Get("identifiers"), "identifiers", d.identifier),
		Facts:        items(d, o.Get("facts"), "facts", d.fact),
		Preferences:  items(d, o.Get("preferences"), "preferences", d.preference),
		Consents:     items(d, o.Get("consents"), "consents", d.consent),
		OpenIssues:   items(d, o.Get("open_issues"), "open_issues", d.issue),
		LastContacts: items(d, o.Get("last_contacts"), "last_contacts", d.contact),
		Drafts:       items(d, o.Get("drafts"), "drafts", d.draftInfo),
	}
}

// AppendChanges appends the JSON list of changes a customer made.
func AppendChanges(b []byte, es []memory.Event) []byte {
	w := &Writer{B: b}
	writeChanges(w, es)
	return w.B
}

func writeChanges(w *Writer, es []memory.Event) {
	w.BeginArray()
	for _, e := range es {
		writeChange(w, e)
	}
	w.EndArray()
}

// writeChange writes the members of an event a customer may make, and the
// escalations a Local memory derives.
func writeChange(w *Writer, e memory.Event) {
	w.BeginObject()
	w.UintMember("seq", e.Seq)
	w.Str("kind", string(e.Kind))
	w.TimeMember("at", e.At)
	if e.Identifier != nil {
		w.Key("identifier")
		appendIdentifier(w, *e.Identifier)
	}
	w.StrOmit("name", e.Name)
	w.StrOmit("key", e.Key)
	w.StrOmit("value", e.Value)
	if e.Fact != nil {
		w.Key("fact")
		appendFact(w, *e.Fact)
	}
	if e.Consent != nil {
		w.Key("consent")
		appendConsent(w, *e.Consent)
	}
	if e.Issue != nil {
		w.Key("issue")
		appendIssue(w, *e.Issue)
	}
	if e.Contact != nil {
		w.Key("contact")
		appendContact(w, *e.Contact)
	}
	w.EndObject()
}

// DecodeChanges decodes a list of changes. Members other than those of the
// kinds a customer may make are not read.
func DecodeChanges(v *Value) ([]memory.Event, error) {
	d := &dec{}
	es := items(d, v, "changes", d.change)
	return es, d.err
}

func (d *dec) change(v *Value, field string) memory.Event {
	o := d.obj(v, field)
	e := memory.Event{Seq: d.uint(o, "seq"), Kind: memory.EventKind(d.str(o, "kind")), At: d.time(o, "at"),
		Name: d.str(o, "name"), Key: d.str(o, "key"), Value: d.str(o, "value")}
	if x := d.obj(o.Get("identifier"), "identifier"); x != nil {
		id := d.identifier(x, "identifier")
		e.Identifier = &id
	}
	if x := d.obj(o.Get("fact"), "fact"); x != nil {
		f := d.fact(x, "fact")
		e.Fact = &f
	}
	if x := d.obj(o.Get("consent"), "consent"); x != nil {
		c := d.consent(x, "consent")
		e.Consent = &c
	}
	if x := d.obj(o.Get("issue"), "issue"); x != nil {
		is := d.issue(x, "issue")
		e.Issue = &is
	}
	if x := d.obj(o.Get("contact"), "contact"); x != nil {
		c := d.contact(x, "contact")
		e.Contact = &c
	}
	return e
}

// AppendSyncBase appends the JSON of a sync base: {"applied":N,"head":"…"},
// without the head when it is empty.
func AppendSyncBase(b []byte, base memory.SyncBase) []byte {
	w := &Writer{B: b}
	writeSyncBase(w, base)
	return w.B
}

func writeSyncBase(w *Writer, base memory.SyncBase) {
	w.BeginObject()
	w.UintMember("applied", base.Applied)
	w.StrOmit("head", base.Head)
	w.EndObject()
}

// DecodeSyncBase decodes a sync base; null or absent is the zero base.
func DecodeSyncBase(v *Value) (memory.SyncBase, error) {
	d := &dec{}
	base := d.syncBase(v, "base")
	return base, d.err
}

func (d *dec) syncBase(v *Value, field string) memory.SyncBase {
	o := d.obj(v, field)
	return memory.SyncBase{Applied: d.uint(o, "applied"), Head: d.str(o, "head")}
}

// AppendLocalState appends the JSON of what a Local memory persists.
func AppendLocalState(b []byte, st *memory.LocalState) []byte {
	w := &Writer{B: b}
	w.BeginObject()
	w.Key("base")
	writeSnapshot(w, &st.Base)
	w.Key("synced")
	writeSyncBase(w, st.Synced)
	w.Key("pending")
	writeChanges(w, st.Pending)
	w.UintMember("next", st.Next)
	w.EndObject()
	return w.B
}

// DecodeLocalState decodes what a Local memory persisted.
func DecodeLocalState(v *Value) (memory.LocalState, error) {
	d := &dec{}
	o := d.obj(v, "state")
	st := memory.LocalState{
		Base:    d.snapshot(o.Get("base"), "base"),
		Synced:  d.syncBase(o.Get("synced"), "synced"),
		Pending: items(d, o.Get("pending"), "pending", d.change),
		Next:    d.uint(o, "next"),
	}
	return st, d.err
}

// AppendBrief appends the customer-facing JSON of a brief: without the
// customer's ID and the internal at-risk flag.
func AppendBrief(b []byte, br *memory.Brief) []byte {
	w := &Writer{B: b}
	w.BeginObject()
	w.StrOmit("name", br.Name)
	list(w, "open_issues", br.OpenIssues, appendIssue)
	list(w, "last_contacts", br.LastContacts, appendContact)
	list(w, "facts", br.Facts, appendFact)
	list(w, "preferences", br.Preferences, appendPreference)
	w.BoolMember("escalate", br.Escalate)
	w.BoolMember("do_not_contact", br.DoNotContact)
	w.StrOmit("do_not_contact_reason", br.DoNotContactReason)
	w.EndObject()
	return w.B
}

// AppendStrings appends a JSON object of string members, in the order of keys.
func AppendStrings(b []byte, keys []string, m map[string]string) []byte {
	w := &Writer{B: b}
	w.BeginObject()
	for _, k := range keys {
		if v, ok := m[k]; ok {
			w.Str(k, v)
		}
	}
	w.EndObject()
	return w.B
}

// Fields of requests.

// Str returns the string member key of an object, or "" with ok false.
func Str(o *Value, key string) (string, error) {
	d := &dec{}
	s := d.str(d.obj(o, "request"), key)
	return s, d.err
}

// Uint returns the number member key of an object.
func Uint(o *Value, key string) (uint64, error) {
	d := &dec{}
	n := d.uint(d.obj(o, "request"), key)
	return n, d.err
}

// Strings returns the list of strings member key of an object.
func Strings(o *Value, key string) ([]string, error) {
	d := &dec{}
	s := d.strings(d.obj(o, "request").Get(key), key)
	return s, d.err
}

// Facts returns the list of facts member key of an object.
func Facts(o *Value, key string) ([]memory.Fact, error) {
	d := &dec{}
	fs := items(d, d.obj(o, "request").Get(key), key, d.fact)
	return fs, d.err
}

// Identifiers returns the list of identifiers member key of an object.
func Identifiers(o *Value, key string) ([]memory.Identifier, error) {
	d := &dec{}
	ids := items(d, d.obj(o, "request").Get(key), key, d.identifier)
	return ids, d.err
}

// Contact returns the contact member key of an object.
func Contact(o *Value, key string) (memory.Contact, error) {
	d := &dec{}
	c := d.contact(d.obj(d.obj(o, "request").Get(key), key), key)
	return c, d.err
}

// Consent returns the consent member key of an object.
func Consent(o *Value, key string) (memory.Consent, error) {
	d := &dec{}
	c := d.consent(d.obj(d.obj(o, "request").Get(key), key), key)
	return c, d.err
}
