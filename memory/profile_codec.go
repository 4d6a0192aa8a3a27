//go:build !wasip1

package memory

import (
	"bytes"
	"time"

	"github.com/herken/herken/memory/internal/codec"
)

// The stored profile and event are encoded by hand (codec.Appender): the
// reflection encoder took most of a write's encoding time. What these
// write is byte for byte what the reflection encoder writes (the tests
// compare them on random values), so the format is unchanged; the rarer
// parts (preferences, consents, signals, drafts, merges, and the like on
// events) are left to the reflection encoder.

// AppendMsgpack appends the profile's encoding.
func (p *profile) AppendMsgpack(b []byte) ([]byte, error) {
	n := 3
	for _, set := range [...]bool{p.Base != 0, p.MergedInto != "", p.Name != "", !p.NameAt.IsZero(),
		len(p.Idents) > 0, len(p.Facts) > 0, len(p.Prefs) > 0, len(p.Consents) > 0, len(p.Open) > 0,
		len(p.Last) > 0, len(p.Negatives) > 0, len(p.Signals) > 0, len(p.Drafts) > 0, len(p.Merges) > 0} {
		if set {
			n++
		}
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "id"), string(p.ID))
	b = codec.AppendTime(codec.AppendString(b, "cr"), p.Created)
	b = codec.AppendUint(codec.AppendString(b, "sq"), p.Seq)
	if p.Base != 0 {
		b = codec.AppendUint(codec.AppendString(b, "bs"), p.Base)
	}
	if p.MergedInto != "" {
		b = codec.AppendString(codec.AppendString(b, "mi"), string(p.MergedInto))
	}
	if p.Name != "" {
		b = codec.AppendString(codec.AppendString(b, "nm"), p.Name)
	}
	if !p.NameAt.IsZero() {
		b = codec.AppendTime(codec.AppendString(b, "na"), p.NameAt)
	}
	if len(p.Idents) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "ids"), len(p.Idents))
		for i := range p.Idents {
			b = p.Idents[i].appendMsgpack(b)
		}
	}
	if len(p.Facts) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "fa"), len(p.Facts))
		for i := range p.Facts {
			b = p.Facts[i].appendMsgpack(b)
		}
	}
	var err error
	if len(p.Prefs) > 0 {
		if b, err = codec.AppendValue(codec.AppendString(b, "pr"), p.Prefs); err != nil {
			return nil, err
		}
	}
	if len(p.Consents) > 0 {
		if b, err = codec.AppendValue(codec.AppendString(b, "co"), p.Consents); err != nil {
			return nil, err
		}
	}
	if len(p.Open) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "oi"), len(p.Open))
		for i := range p.Open {
			b = p.Open[i].appendMsgpack(b)
		}
	}
	if len(p.Last) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "lc"), len(p.Last))
		for i := range p.Last {
			b = p.Last[i].appendMsgpack(b)
		}
	}
	if len(p.Negatives) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "ng"), len(p.Negatives))
		for _, t := range p.Negatives {
			b = codec.AppendTime(b, t)
		}
	}
	if len(p.Signals) > 0 {
		if b, err = codec.AppendValue(codec.AppendString(b, "sg"), p.Signals); err != nil {
			return nil, err
		}
	}
	if len(p.Drafts) > 0 {
		if b, err = codec.AppendValue(codec.AppendString(b, "dr"), p.Drafts); err != nil {
			return nil, err
		}
	}
	if len(p.Merges) > 0 {
		if b, err = codec.AppendValue(codec.AppendString(b, "mg"), p.Merges); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (l *link) appendMsgpack(b []byte) []byte {
	n := 3
	if l.Verified {
		n++
	}
	if l.Typed {
		n++
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "k"), string(l.Kind))
	b = codec.AppendString(codec.AppendString(b, "v"), l.Value)
	if l.Verified {
		b = codec.AppendBool(codec.AppendString(b, "vf"), true)
	}
	b = codec.AppendTime(codec.AppendString(b, "t"), l.At)
	if l.Typed {
		b = codec.AppendBool(codec.AppendString(b, "ty"), true)
	}
	return b
}

func (id *Identifier) appendMsgpack(b []byte) []byte {
	n := 2
	if id.Verified {
		n++
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "k"), string(id.Kind))
	b = codec.AppendString(codec.AppendString(b, "v"), id.Value)
	if id.Verified {
		b = codec.AppendBool(codec.AppendString(b, "vf"), true)
	}
	return b
}

func (f *Fact) appendMsgpack(b []byte) []byte {
	n := 4
	if f.Channel != "" {
		n++
	}
	if !f.Expires.IsZero() {
		n++
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "k"), f.Key)
	b = codec.AppendString(codec.AppendString(b, "v"), f.Value)
	if f.Channel != "" {
		b = codec.AppendString(codec.AppendString(b, "c"), string(f.Channel))
	}
	b = codec.AppendTime(codec.AppendString(b, "t"), f.At)
	b = codec.AppendString(codec.AppendString(b, "p"), string(f.Purpose))
	if !f.Expires.IsZero() {
		b = codec.AppendTime(codec.AppendString(b, "x"), f.Expires)
	}
	return b
}

func (is *Issue) appendMsgpack(b []byte) []byte {
	n := 8
	for _, set := range [...]bool{is.Escalated, !is.Resolved.IsZero(), is.Resolution != ""} {
		if set {
			n++
		}
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "id"), string(is.ID))
	b = codec.AppendString(codec.AppendString(b, "s"), is.Subject)
	b = codec.AppendString(codec.AppendString(b, "c"), string(is.Channel))
	b = codec.AppendTime(codec.AppendString(b, "o"), is.Opened)
	b = codec.AppendString(codec.AppendString(b, "st"), string(is.Status))
	b = codec.AppendInt(codec.AppendString(b, "n"), int64(is.Contacts))
	if is.Escalated {
		b = codec.AppendBool(codec.AppendString(b, "e"), true)
	}
	b = codec.AppendTime(codec.AppendString(b, "lt"), is.LastContact)
	b = codec.AppendString(codec.AppendString(b, "lc"), string(is.LastChannel))
	if !is.Resolved.IsZero() {
		b = codec.AppendTime(codec.AppendString(b, "r"), is.Resolved)
	}
	if is.Resolution != "" {
		b = codec.AppendString(codec.AppendString(b, "rn"), is.Resolution)
	}
	return b
}

func (c *Contact) appendMsgpack(b []byte) []byte {
	n := 3
	for _, set := range [...]bool{c.Issue != "", c.Summary != "", c.Subject != "", c.Matched != ""} {
		if set {
			n++
		}
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendString(codec.AppendString(b, "c"), string(c.Channel))
	b = codec.AppendTime(codec.AppendString(b, "t"), c.At)
	if c.Issue != "" {
		b = codec.AppendString(codec.AppendString(b, "i"), string(c.Issue))
	}
	b = codec.AppendString(codec.AppendString(b, "o"), string(c.Outcome))
	if c.Summary != "" {
		b = codec.AppendString(codec.AppendString(b, "s"), c.Summary)
	}
	if c.Subject != "" {
		b = codec.AppendString(codec.AppendString(b, "sj"), c.Subject)
	}
	if c.Matched != "" {
		b = codec.AppendString(codec.AppendString(b, "mt"), string(c.Matched))
	}
	return b
}

// LoadMsgpack decodes what AppendMsgpack writes (codec.Loader).
func (p *profile) LoadMsgpack(r *codec.Reader) bool {
	if p.load(r) && r.Done() {
		return true
	}
	*p = profile{}
	return false
}

func (p *profile) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "id":
			p.ID = CustomerID(r.String())
		case "cr":
			p.Created = r.Time()
		case "sq":
			p.Seq = r.Uint()
		case "bs":
			p.Base = r.Uint()
		case "mi":
			p.MergedInto = CustomerID(r.String())
		case "nm":
			p.Name = r.String()
		case "na":
			p.NameAt = r.Time()
		case "ids":
			p.Idents = loadSlice(r, (*link).load)
		case "fa":
			p.Facts = loadSlice(r, (*Fact).load)
		case "pr":
			r.Value(&p.Prefs)
		case "co":
			r.Value(&p.Consents)
		case "oi":
			p.Open = loadSlice(r, (*Issue).load)
		case "lc":
			p.Last = loadSlice(r, (*Contact).load)
		case "ng":
			p.Negatives = loadSlice(r, loadTime)
		case "sg":
			r.Value(&p.Signals)
		case "dr":
			r.Value(&p.Drafts)
		case "mg":
			r.Value(&p.Merges)
		default:
			return false
		}
	}
	return !r.Failed()
}

// fieldSet tells a decoder that a field came twice, which the encoder
// never writes: the reflection decoder, which merges the two, takes it.
type fieldSet struct {
	names [24][]byte
	n     int
}

// add records a field's name; it reports false on a repeat.
func (s *fieldSet) add(k []byte) bool {
	for _, name := range s.names[:s.n] {
		if bytes.Equal(name, k) {
			return false
		}
	}
	if s.n == len(s.names) {
		return false
	}
	s.names[s.n] = k
	s.n++
	return true
}

// loadSlice reads an array of T, none empty: an empty one is left to the
// reflection decoder, which makes it empty rather than nil.
func loadSlice[T any](r *codec.Reader, load func(*T, *codec.Reader) bool) []T {
	n := r.ArrayLen()
	if n == 0 || r.Failed() {
		r.Fail()
		return nil
	}
	s := make([]T, n)
	for i := range s {
		if !load(&s[i], r) {
			r.Fail()
			return nil
		}
	}
	return s
}

func loadTime(t *time.Time, r *codec.Reader) bool {
	*t = r.Time()
	return !r.Failed()
}

func (l *link) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "k":
			l.Kind = Kind(r.String())
		case "v":
			l.Value = r.String()
		case "vf":
			l.Verified = r.Bool()
		case "t":
			l.At = r.Time()
		case "ty":
			l.Typed = r.Bool()
		default:
			return false
		}
	}
	return !r.Failed()
}

func (id *Identifier) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "k":
			id.Kind = Kind(r.String())
		case "v":
			id.Value = r.String()
		case "vf":
			id.Verified = r.Bool()
		default:
			return false
		}
	}
	return !r.Failed()
}

func (f *Fact) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "k":
			f.Key = r.String()
		case "v":
			f.Value = r.String()
		case "c":
			f.Channel = Channel(r.String())
		case "t":
			f.At = r.Time()
		case "p":
			f.Purpose = Purpose(r.String())
		case "x":
			f.Expires = r.Time()
		default:
			return false
		}
	}
	return !r.Failed()
}

func (is *Issue) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "id":
			is.ID = IssueID(r.String())
		case "s":
			is.Subject = r.String()
		case "c":
			is.Channel = Channel(r.String())
		case "o":
			is.Opened = r.Time()
		case "st":
			is.Status = IssueStatus(r.String())
		case "n":
			is.Contacts = r.Int()
		case "e":
			is.Escalated = r.Bool()
		case "lt":
			is.LastContact = r.Time()
		case "lc":
			is.LastChannel = Channel(r.String())
		case "r":
			is.Resolved = r.Time()
		case "rn":
			is.Resolution = r.String()
		default:
			return false
		}
	}
	return !r.Failed()
}

func (c *Contact) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "c":
			c.Channel = Channel(r.String())
		case "t":
			c.At = r.Time()
		case "i":
			c.Issue = IssueID(r.String())
		case "o":
			c.Outcome = Outcome(r.String())
		case "s":
			c.Summary = r.String()
		case "sj":
			c.Subject = r.String()
		case "mt":
			c.Matched = Match(r.String())
		default:
			return false
		}
	}
	return !r.Failed()
}

// AppendMsgpack appends the work-queue entry's encoding.
func (q *queued) AppendMsgpack(b []byte) ([]byte, error) {
	n := 1
	for _, set := range [...]bool{q.Open != 0, q.Escalated, len(q.Negatives) > 0} {
		if set {
			n++
		}
	}
	b = codec.AppendMapLen(b, n)
	b = codec.AppendInt(codec.AppendString(b, "t"), q.At)
	if q.Open != 0 {
		b = codec.AppendInt(codec.AppendString(b, "o"), int64(q.Open))
	}
	if q.Escalated {
		b = codec.AppendBool(codec.AppendString(b, "e"), true)
	}
	if len(q.Negatives) > 0 {
		b = codec.AppendArrayLen(codec.AppendString(b, "n"), len(q.Negatives))
		for _, t := range q.Negatives {
			b = codec.AppendTime(b, t)
		}
	}
	return b, nil
}

// LoadMsgpack decodes what AppendMsgpack writes (codec.Loader).
func (q *queued) LoadMsgpack(r *codec.Reader) bool {
	if q.load(r) && r.Done() {
		return true
	}
	*q = queued{}
	return false
}

func (q *queued) load(r *codec.Reader) bool {
	var seen fieldSet
	for range r.MapLen() {
		k := r.Bytes()
		if !seen.add(k) {
			return false
		}
		switch string(k) {
		case "t":
			q.At = int64(r.Int())
		case "o":
			q.Open = r.Int()
		case "e":
			q.Escalated = r.Bool()
		case "n":
			q.Negatives = loadSlice(r, loadTime)
		default:
			return false
		}
	}
	return !r.Failed()
}
