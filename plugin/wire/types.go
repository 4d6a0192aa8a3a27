package wire

import (
	"github.com/herken/herken/memory"
)

// Identifiers.

func appendIdentifier(w *Writer, id memory.Identifier) {
	w.BeginObject()
	w.Str("kind", string(id.Kind))
	w.Str("value", id.Value)
	w.BoolOmit("verified", id.Verified)
	w.EndObject()
}

func (d *dec) identifier(v *Value, field string) memory.Identifier {
	o := d.obj(v, field)
	return memory.Identifier{Kind: memory.Kind(d.str(o, "kind")), Value: d.str(o, "value"), Verified: d.boolean(o, "verified")}
}

// Facts.

func appendFact(w *Writer, f memory.Fact) {
	w.BeginObject()
	w.Str("key", f.Key)
	w.Str("value", f.Value)
	w.StrOmit("channel", string(f.Channel))
	w.TimeMember("at", f.At)
	w.Str("purpose", string(f.Purpose))
	w.TimeOmit("expires", f.Expires)
	w.EndObject()
}

func (d *dec) fact(v *Value, field string) memory.Fact {
	o := d.obj(v, field)
	return memory.Fact{
		Key: d.str(o, "key"), Value: d.str(o, "value"), Channel: memory.Channel(d.str(o, "channel")),
		At: d.time(o, "at"), Purpose: memory.Purpose(d.str(o, "purpose")), Expires: d.time(o, "expires"),
	}
}

// Preferences.

func appendPreference(w *Writer, p memory.Preference) {
	w.BeginObject()
	w.Str("key", p.Key)
	w.Str("value", p.Value)
	w.TimeMember("at", p.At)
	w.EndObject()
}

func (d *dec) preference(v *Value, field string) memory.Preference {
	o := d.obj(v, field)
	return memory.Preference{Key: d.str(o, "key"), Value: d.str(o, "value"), At: d.time(o, "at")}
}

// Consent.

func appendConsent(w *Writer, c memory.Consent) {
	w.BeginObject()
	w.Str("purpose", string(c.Purpose))
	w.StrOmit("channel", string(c.Channel))
	w.BoolMember("granted", c.Granted)
	w.TimeMember("at", c.At)
	w.StrOmit("source", c.Source)
	w.EndObject()
}

func (d *dec) consent(v *Value, field string) memory.Consent {
	o := d.obj(v, field)
	return memory.Consent{
		Purpose: memory.Purpose(d.str(o, "purpose")), Channel: memory.Channel(d.str(o, "channel")),
		Granted: d.boolean(o, "granted"), At: d.time(o, "at"), Source: d.str(o, "source"),
	}
}

// Issues.

func appendIssue(w *Writer, is memory.Issue) {
	w.BeginObject()
	w.Str("id", string(is.ID))
	w.Str("subject", is.Subject)
	w.Str("channel", string(is.Channel))
	w.TimeMember("opened", is.Opened)
	w.Str("status", string(is.Status))
	w.IntMember("contacts", int64(is.Contacts))
	w.BoolOmit("escalated", is.Escalated)
	w.TimeMember("last_contact", is.LastContact)
	w.Str("last_channel", string(is.LastChannel))
	w.TimeOmit("resolved", is.Resolved)
	w.StrOmit("resolution", is.Resolution)
	w.EndObject()
}

func (d *dec) issue(v *Value, field string) memory.Issue {
	o := d.obj(v, field)
	return memory.Issue{
		ID: memory.IssueID(d.str(o, "id")), Subject: d.str(o, "subject"), Channel: memory.Channel(d.str(o, "channel")),
		Opened: d.time(o, "opened"), Status: memory.IssueStatus(d.str(o, "status")), Contacts: int(d.int(o, "contacts")),
		Escalated: d.boolean(o, "escalated"), LastContact: d.time(o, "last_contact"),
		LastChannel: memory.Channel(d.str(o, "last_channel")), Resolved: d.time(o, "resolved"), Resolution: d.str(o, "resolution"),
	}
}

// Contacts.

func appendContact(w *Writer, c memory.Contact) {
	w.BeginObject()
	w.Str("channel", string(c.Channel))
	w.TimeMember("at", c.At)
	w.StrOmit("issue", string(c.Issue))
	w.Str("outcome", string(c.Outcome))
	w.StrOmit("summary", c.Summary)
	w.EndObject()
}

func (d *dec) contact(v *Value, field string) memory.Contact {
	o := d.obj(v, field)
	return memory.Contact{
		Channel: memory.Channel(d.str(o, "channel")), At: d.time(o, "at"), Issue: memory.IssueID(d.str(o, "issue")),
		Outcome: memory.Outcome(d.str(o, "outcome")), Summary: d.str(o, "summary"),
	}
}

// Drafts.

func appendDraftInfo(w *Writer, di memory.DraftInfo) {
	w.BeginObject()
	w.Str("name", di.Name)
	w.IntMember("size", int64(di.Size))
	w.TimeMember("saved", di.Saved)
	w.EndObject()
}

func (d *dec) draftInfo(v *Value, field string) memory.DraftInfo {
	o := d.obj(v, field)
	return memory.DraftInfo{Name: d.str(o, "name"), Size: int(d.int(o, "size")), Saved: d.time(o, "saved")}
}

// list writes a slice as encoding/json does: null when nil.
func list[T any](w *Writer, k string, items []T, each func(*Writer, T)) {
	w.Key(k)
	if items == nil {
		w.Null()
		return
	}
	w.BeginArray()
	for _, it := range items {
		each(w, it)
	}
	w.EndArray()
}

// items decodes a list.
func items[T any](d *dec, v *Value, field string, each func(*Value, string) T) []T {
	var out []T
	for _, it := range d.arr(v, field) {
		out = append(out, each(it, field))
	}
	return out
}
