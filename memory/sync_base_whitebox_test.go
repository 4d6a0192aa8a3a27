package memory

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// TestChangeDigestTakesEveryField: two changes that differ in any field a
// change of a customer's carries must chain to different heads, or the
// store would skip one as the other. The fields no change carries are
// listed here; a field added to the model must go into
// appendChangeDigest, or into this list with a reason.
func TestChangeDigestTakesEveryField(t *testing.T) {
	notInChanges := map[string]bool{
		"Event.Customer":   true, // the store's, not the device's
		"Event.Reason":     true, // unlinking and merges only
		"Event.Draft":      true, // drafts have their own endpoint
		"Event.Signal":     true, // the organization's
		"Event.Merge":      true,
		"Event.Receipt":    true,
		"Event.Compaction": true,
		"Event.Erased":     true, // the store's, after retention
		"Event.Moved":      true, // the store's, at an unmerge
		// What the rules read of a contact, which a device's wire need
		// not carry: the store applies the rule again (applyChange).
		"Event.Contact.Subject": true,
		"Event.Contact.Matched": true,
	}
	at := time.Date(2026, 11, 2, 10, 0, 0, 5, time.UTC)
	full := func() Event {
		return Event{
			Seq: 7, Kind: EventContactRecorded, At: at, Name: "n", Key: "k", Value: "v",
			Identifier: &Identifier{Kind: KindEmail, Value: "a@example.com", Verified: true},
			Fact:       &Fact{Key: "k", Value: "v", Channel: ChannelWeb, At: at, Purpose: PurposeService, Retention: time.Hour, Expires: at},
			Consent:    &Consent{Purpose: PurposeMarketing, Channel: ChannelEmail, Granted: true, At: at, Source: "s"},
			Issue: &Issue{ID: "i", Subject: "s", Channel: ChannelChat, Opened: at, Status: IssueOpen, Contacts: 1,
				Escalated: true, LastContact: at, LastChannel: ChannelChat, Resolved: at, Resolution: "r"},
			Contact: &Contact{Channel: ChannelWeb, At: at, Issue: "i", Outcome: OutcomeNeutral, Summary: "s",
				Subject: "s", Matched: MatchSubject},
		}
	}
	base := full()
	want := appendChangeDigest(nil, &base)
	fields := 0
	var walk func(path string, v reflect.Value, mutate func(func(reflect.Value)))
	walk = func(path string, v reflect.Value, mutate func(func(reflect.Value))) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := path + "." + f.Name
			if !f.IsExported() || notInChanges[name] {
				continue
			}
			at := func(fn func(reflect.Value)) { mutate(func(s reflect.Value) { fn(s.Field(i)) }) }
			fv := v.Field(i)
			switch {
			case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
				walk(name, fv.Elem(), func(fn func(reflect.Value)) { at(func(p reflect.Value) { fn(p.Elem()) }) })
				at(func(p reflect.Value) { p.SetZero() }) // the part left out
			case fv.Type() == reflect.TypeOf(time.Time{}):
				at(func(x reflect.Value) { x.Set(reflect.ValueOf(x.Interface().(time.Time).Add(time.Nanosecond))) })
			case fv.Kind() == reflect.String:
				at(func(x reflect.Value) { x.SetString(x.String() + "x") })
			case fv.Kind() == reflect.Bool:
				at(func(x reflect.Value) { x.SetBool(!x.Bool()) })
			case fv.CanInt():
				at(func(x reflect.Value) { x.SetInt(x.Int() + 1) })
			case fv.CanUint():
				at(func(x reflect.Value) { x.SetUint(x.Uint() + 1) })
			default:
				t.Fatalf("%s: a %s; say how the digest takes it", name, fv.Type())
			}
			fields++
		}
	}
	walk("Event", reflect.ValueOf(&base).Elem(), func(fn func(reflect.Value)) {
		e := full()
		fn(reflect.ValueOf(&e).Elem())
		if bytes.Equal(appendChangeDigest(nil, &e), want) {
			t.Errorf("a change that differs in one field has the same digest: %+v", e)
		}
	})
	if fields < 40 {
		t.Fatalf("walked only %d fields", fields)
	}
}
