//go:build !wasip1

package memory

import "github.com/herken/herken/memory/internal/codec"

// AppendMsgpack appends the event's encoding (see profile_codec.go).
func (e *Event) AppendMsgpack(b []byte) ([]byte, error) {
	n := 3
	for _, set := range [...]bool{e.Identifier != nil, e.Name != "", e.Key != "", e.Value != "", e.Reason != "",
		e.Fact != nil, e.Consent != nil, e.Issue != nil, e.Contact != nil, e.Draft != nil, e.Signal != nil,
		e.Merge != nil, e.Compaction != nil, !e.Erased.IsZero(), e.Moved != nil} {
		if set {
			n++
		}
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendUint(codec.AppendString(b, "q"), e.Seq)
	b = codec.AppendString(codec.AppendString(b, "k"), string(e.Kind))
	b = codec.AppendTime(codec.AppendString(b, "t"), e.At)
	if e.Identifier != nil {
		b = e.Identifier.appendMsgpack(codec.AppendString(b, "id"))
	}
	for _, f := range [...]struct{ name, v string }{{"nm", e.Name}, {"ky", e.Key}, {"vl", e.Value}, {"rs", e.Reason}} {
		if f.v != "" {
			b = codec.AppendString(codec.AppendString(b, f.name), f.v)
		}
	}
	if e.Fact != nil {
		b = e.Fact.appendMsgpack(codec.AppendString(b, "fa"))
	}
	var err error
	if e.Consent != nil {
		if b, err = codec.AppendValue(codec.AppendString(b, "co"), e.Consent); err != nil {
			return nil, err
		}
	}
	if e.Issue != nil {
		b = e.Issue.appendMsgpack(codec.AppendString(b, "is"))
	}
	if e.Contact != nil {
		b = e.Contact.appendMsgpack(codec.AppendString(b, "ct"))
	}
	for _, f := range [...]struct {
		name string
		v    any
		set  bool
	}{{"dr", e.Draft, e.Draft != nil}, {"sg", e.Signal, e.Signal != nil}, {"mg", e.Merge, e.Merge != nil}, {"cp", e.Compaction, e.Compaction != nil}} {
		if f.set {
			if b, err = codec.AppendValue(codec.AppendString(b, f.name), f.v); err != nil {
				return nil, err
			}
		}
	}
	if !e.Erased.IsZero() {
		b = codec.AppendTime(codec.AppendString(b, "er"), e.Erased)
	}
	if e.Moved != nil {
		if b, err = codec.AppendValue(codec.AppendString(b, "mv"), e.Moved); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// LoadMsgpack decodes what AppendMsgpack writes (codec.Loader).
func (e *Event) LoadMsgpack(r *codec.Reader) bool {
	if e.load(r) && r.Done() {
		return true
	}
	*e = Event{}
	return false
}

func (e *Event) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "q":
			e.Seq = r.Uint()
		case "k":
			e.Kind = EventKind(r.String())
		case "t":
			e.At = r.Time()
		case "id":
			e.Identifier = new(Identifier)
			if !e.Identifier.load(r) {
				return false
			}
		case "nm":
			e.Name = r.String()
		case "ky":
			e.Key = r.String()
		case "vl":
			e.Value = r.String()
		case "rs":
			e.Reason = r.String()
		case "fa":
			e.Fact = new(Fact)
			if !e.Fact.load(r) {
				return false
			}
		case "co":
			r.Value(&e.Consent)
		case "is":
			e.Issue = new(Issue)
			if !e.Issue.load(r) {
				return false
			}
		case "ct":
			e.Contact = new(Contact)
			if !e.Contact.load(r) {
				return false
			}
		case "dr":
			r.Value(&e.Draft)
		case "sg":
			r.Value(&e.Signal)
		case "mg":
			r.Value(&e.Merge)
		case "cp":
			r.Value(&e.Compaction)
		case "er":
			e.Erased = r.Time()
		case "mv":
			r.Value(&e.Moved)
		default:
			return false
		}
	}
	return !r.Failed()
}
