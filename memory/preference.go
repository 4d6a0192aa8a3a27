package memory

import (
	"strconv"
	"strings"
	"time"
)

// Preference is one of the customer's preferences. The store knows the
// keys below and checks their values; any other lowercase key is free.
type Preference struct {
	Key   string    `json:"key" msgpack:"k"`
	Value string    `json:"value" msgpack:"v"`
	At    time.Time `json:"at" msgpack:"t"`
}

// Preference keys the store understands.
const (
	// PrefChannel is the channel the customer prefers to be reached on,
	// such as "email". Contact on another channel is refused by MayContact.
	PrefChannel = "channel"
	// PrefLanguage is a language tag such as "nl" or "en-GB".
	PrefLanguage = "language"
	// PrefHours is when contact is welcome: "[days ]HH:MM-HH:MM[ zone]",
	// such as "mon-fri 09:00-17:30 Europe/Amsterdam". Days are a range or a
	// comma list of mon..sun; the zone is an IANA name and defaults to UTC.
	PrefHours = "hours"
	// PrefPauseUntil is a date (2006-01-02) or time (RFC 3339) before which
	// the customer asked not to be contacted.
	PrefPauseUntil = "pause_until"
)

const maxPrefValue = 256

func checkPreference(key, value string) (string, error) {
	if err := checkToken("preference key", key, 64); err != nil {
		return "", err
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return "", nil // clears the preference
	}
	if err := checkText("preference "+key, value, maxPrefValue); err != nil {
		return "", err
	}
	switch key {
	case PrefChannel:
		if err := Channel(value).check("preferred channel"); err != nil {
			return "", err
		}
	case PrefLanguage:
		tag, ok := normalizeLanguage(value)
		if !ok {
			return "", invalid("preferred language", quote(value)+" is not a language tag such as \"nl\" or \"en-GB\"")
		}
		value = tag
	case PrefHours:
		h, err := parseHours(value)
		if err != nil {
			return "", err
		}
		if _, err := loadZone(h.zone); err != nil {
			return "", invalid("contact hours", "unknown time zone "+quote(h.zone))
		}
		value = h.String()
	case PrefPauseUntil:
		if _, ok := parsePause(value); !ok {
			return "", invalid("pause_until", quote(value)+" is not a date (2006-01-02) or an RFC 3339 time")
		}
	}
	return value, nil
}

func normalizeLanguage(v string) (string, bool) {
	parts := strings.Split(v, "-")
	if len(parts) == 1 {
		parts = strings.Split(v, "_")
	}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 8 {
			return "", false
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
				return "", false
			}
		}
		switch {
		case i == 0:
			if len(p) < 2 || len(p) > 3 {
				return "", false
			}
			parts[i] = strings.ToLower(p)
		case len(p) == 2:
			parts[i] = strings.ToUpper(p)
		case len(p) == 4:
			parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		default:
			parts[i] = strings.ToLower(p)
		}
	}
	return strings.Join(parts, "-"), true
}

func parsePause(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// hours is a parsed PrefHours value.
type hours struct {
	days     uint8 // bit 0 is Sunday, as time.Weekday; all set for every day
	from, to int   // minutes after midnight; to <= from spans midnight
	zone     string
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseHours(v string) (hours, error) {
	bad := func(why string) (hours, error) {
		return hours{}, invalid("contact hours", quote(v)+": "+why+"; use \"[mon-fri ]09:00-17:30[ Europe/Amsterdam]\"")
	}
	h := hours{days: 0x7f, zone: "UTC"}
	fields := strings.Fields(strings.ToLower(v))
	if len(fields) == 0 || len(fields) > 3 {
		return bad("expected days, a time range and a zone")
	}
	i := 0
	if !strings.Contains(fields[0], ":") {
		d, ok := parseDays(fields[0])
		if !ok {
			return bad("unknown days " + quote(fields[0]))
		}
		h.days = d
		i++
	}
	if i >= len(fields) {
		return bad("no time range")
	}
	from, to, ok := strings.Cut(fields[i], "-")
	if !ok {
		return bad("no time range")
	}
	var okf, okt bool
	h.from, okf = parseClock(from)
	h.to, okt = parseClock(to)
	if !okf || !okt || h.from == h.to {
		return bad("the time range is not HH:MM-HH:MM")
	}
	i++
	if i < len(fields) {
		// Zone names are case-sensitive; take it from the original.
		orig := strings.Fields(v)
		h.zone = orig[i]
	}
	return h, nil
}

func parseDays(s string) (uint8, bool) {
	var mask uint8
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, ok := dayIndex(a)
		if !ok {
			return 0, false
		}
		if !isRange {
			mask |= 1 << da
			continue
		}
		db, ok := dayIndex(b)
		if !ok {
			return 0, false
		}
		for d := da; ; d = (d + 1) % 7 {
			mask |= 1 << d
			if d == db {
				break
			}
		}
	}
	return mask, mask != 0
}

func dayIndex(s string) (int, bool) {
	for i, n := range dayNames {
		if s == n {
			return i, true
		}
	}
	return 0, false
}

func parseClock(s string) (int, bool) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(mm) != 2 || len(hh) < 1 || len(hh) > 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

// String returns the canonical form, as parseHours reads it.
func (h hours) String() string {
	var b strings.Builder
	if h.days != 0x7f {
		first := true
		for d := range 7 {
			if h.days&(1<<d) != 0 {
				if !first {
					b.WriteByte(',')
				}
				b.WriteString(dayNames[d])
				first = false
			}
		}
		b.WriteByte(' ')
	}
	clock := func(m int) {
		b.WriteString(strconv.Itoa(m/60/10) + strconv.Itoa(m/60%10) + ":" + strconv.Itoa(m%60/10) + strconv.Itoa(m%10))
	}
	clock(h.from)
	b.WriteByte('-')
	clock(h.to)
	if h.zone != "UTC" {
		b.WriteByte(' ')
		b.WriteString(h.zone)
	}
	return b.String()
}

// contains reports whether t falls within the hours.
func (h hours) contains(t time.Time) bool {
	if loc, err := loadZone(h.zone); err == nil {
		t = t.In(loc)
	} else {
		t = t.UTC()
	}
	m := t.Hour()*60 + t.Minute()
	day := int(t.Weekday())
	if h.from < h.to {
		return h.days&(1<<day) != 0 && m >= h.from && m < h.to
	}
	// Spans midnight: the evening part belongs to today, the morning part to
	// the day before.
	if m >= h.from {
		return h.days&(1<<day) != 0
	}
	if m < h.to {
		return h.days&(1<<((day+6)%7)) != 0
	}
	return false
}

// nextMinute returns the next start of a minute after t on the clock of the
// hours' zone, or the next change of the zone's offset when that comes
// first: whether the hours contain a time changes only there.
func (h hours) nextMinute(t time.Time) time.Time {
	loc, err := loadZone(h.zone)
	if err != nil {
		loc = time.UTC
	}
	local := t.In(loc)
	next := local.Add(time.Minute - time.Duration(local.Second())*time.Second - time.Duration(local.Nanosecond()))
	if _, end := local.ZoneBounds(); !end.IsZero() && end.Before(next) {
		next = end
	}
	return next
}

func findPref(ps []Preference, key string) (string, bool) {
	for i := range ps {
		if ps[i].Key == key {
			return ps[i].Value, true
		}
	}
	return "", false
}

// upsertPref keeps one value per key, the newest; an empty value removes it.
func upsertPref(ps []Preference, p Preference) []Preference {
	for i := range ps {
		if ps[i].Key == p.Key {
			if p.At.Before(ps[i].At) {
				return ps
			}
			if p.Value == "" {
				return append(ps[:i], ps[i+1:]...)
			}
			ps[i] = p
			return ps
		}
	}
	if p.Value == "" {
		return ps
	}
	return append(ps, p)
}
