package memory

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of an identifier. Besides the four below, any lowercase
// name of letters, digits, '_', '-' and '.' up to 32 bytes is a custom kind
// ("loyalty_card", "zendesk.user").
type Kind string

// The identifier kinds the store normalizes itself.
const (
	KindEmail   Kind = "email"   // trimmed and case-folded
	KindPhone   Kind = "phone"   // E.164, such as +31612345678
	KindAccount Kind = "account" // the application's own account id, case-sensitive
	KindDevice  Kind = "device"  // a device token, such as the plugin's cookie
)

// Identifier is one way to tell who a customer is. Verified says that the
// application proved the customer controls it (a login, a confirmed email
// link, a one-time code); otherwise it is a claim. Only verified identifiers
// merge customers, and a claim never takes an identifier from another
// customer.
type Identifier struct {
	Kind     Kind   `json:"kind" msgpack:"k"`
	Value    string `json:"value" msgpack:"v"`
	Verified bool   `json:"verified,omitempty" msgpack:"vf,omitempty"`
}

// Email returns a claimed email identifier.
func Email(address string) Identifier { return Identifier{Kind: KindEmail, Value: address} }

// Phone returns a claimed phone identifier. Numbers without a country code
// are read in the store's default region.
func Phone(number string) Identifier { return Identifier{Kind: KindPhone, Value: number} }

// Account returns a claimed account identifier.
func Account(id string) Identifier { return Identifier{Kind: KindAccount, Value: id} }

// Device returns a claimed device identifier.
func Device(token string) Identifier { return Identifier{Kind: KindDevice, Value: token} }

// Custom returns a claimed identifier of a custom kind.
func Custom(kind, value string) Identifier { return Identifier{Kind: Kind(kind), Value: value} }

// AsVerified returns a copy of id marked verified.
func (id Identifier) AsVerified() Identifier {
	id.Verified = true
	return id
}

// String returns "kind:value".
func (id Identifier) String() string { return string(id.Kind) + ":" + id.Value }

// Limits on identifier values, in bytes.
const (
	maxEmailLen  = 254
	maxValueLen  = 256
	maxKindLen   = 32
	minDeviceLen = 8
)

// identRef is the cache key of a normalized identifier: comparable, and
// made without allocating.
type identRef struct {
	kind  Kind
	value string
}

func identKey(id Identifier) identRef { return identRef{id.Kind, id.Value} }

// own returns k with strings of its own, for a cache to keep: a value
// normalized from a caller's string may share that string's memory, which
// may be much larger (the spaces Normalize trimmed, a body it was cut from).
func (k identRef) own() identRef {
	switch k.kind {
	case KindEmail:
		k.kind = KindEmail
	case KindPhone:
		k.kind = KindPhone
	case KindAccount:
		k.kind = KindAccount
	case KindDevice:
		k.kind = KindDevice
	default:
		k.kind = Kind(strings.Clone(string(k.kind)))
	}
	k.value = strings.Clone(k.value)
	return k
}

// Normalize returns id in the form the store keeps: emails trimmed and
// case-folded, phone numbers in E.164 (numbers without a country code are
// read in region, an ISO 3166 code such as "NL"), other values trimmed. It
// refuses values that cannot be normalized and placeholders ("null",
// "anonymous", "0", "-", …) with an *IdentifierError.
func Normalize(id Identifier, region string) (Identifier, error) {
	fail := func(reason string) (Identifier, error) {
		return Identifier{}, &IdentifierError{Kind: id.Kind, Value: id.Value, Reason: reason}
	}
	if id.Kind == KindEmail && plainEmail(id.Value) {
		return id, nil
	}
	if err := checkKind(id.Kind); err != "" {
		return fail(err)
	}
	v := strings.TrimSpace(id.Value)
	if v == "" {
		return fail("empty")
	}
	if !utf8.ValidString(v) {
		return fail("not valid UTF-8")
	}
	if isPlaceholder(v) {
		return fail("a placeholder, not a real value")
	}
	switch id.Kind {
	case KindEmail:
		e, reason := normalizeEmail(v)
		if reason != "" {
			return fail(reason)
		}
		v = e
	case KindPhone:
		p, reason := normalizePhone(v, region)
		if reason != "" {
			return fail(reason)
		}
		v = p
	case KindDevice:
		if len(v) < minDeviceLen || len(v) > maxValueLen {
			return fail("a device token has 8 to 256 characters")
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c >= 0x7f {
				return fail("a device token is printable ASCII without spaces")
			}
		}
	default:
		if len(v) > maxValueLen {
			return fail("longer than 256 bytes")
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				return fail("contains a control character")
			}
		}
	}
	return Identifier{Kind: id.Kind, Value: v, Verified: id.Verified}, nil
}

func checkKind(k Kind) string {
	if k == "" {
		return "no kind"
	}
	if len(k) > maxKindLen {
		return "kind longer than 32 bytes"
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			continue
		}
		return "kind is lowercase letters, digits, '_', '-' and '.', starting with a letter"
	}
	return ""
}

// placeholders are values that systems put where they know nothing; linking
// them would glue every customer who has them into one.
var placeholders = map[string]bool{
	"null": true, "nil": true, "none": true, "undefined": true, "unknown": true,
	"anonymous": true, "anon": true, "n/a": true, "na": true, "nan": true,
	"0": true, "-1": true, "false": true, "true": true, "test": true, "xxx": true,
	"noemail": true, "no-email": true, "no_email": true, "noreply": true,
	"no-reply": true, "donotreply": true, "do-not-reply": true, "invalid": true,
	"guest": true, "user": true, "customer": true, "example": true, "email": true,
	"[object object]": true, "{}": true, "[]": true, "\"\"": true, "''": true,
}

// maxPlaceholder is the length of the longest placeholder.
const maxPlaceholder = len("[object object]")

func isPlaceholder(v string) bool {
	if len(v) <= maxPlaceholder && placeholders[strings.ToLower(v)] {
		return true
	}
	// Only punctuation and spaces ("-", "--", "n.v.t." aside), or one digit
	// repeated ("0000000", "11111111").
	punct, same := true, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '-' && c != '_' && c != '.' && c != ' ' && c != '*' && c != '?' && c != '/' && c != '+' {
			punct = false
		}
		if c != v[0] {
			same = false
		}
	}
	return punct || same && v[0] >= '0' && v[0] <= '9' && len(v) > 1
}

// plainEmail reports whether v is an email address that is normalized
// already and valid, in lowercase ASCII: the form nearly every address
// takes once normalized, which normalizeEmail would give back unchanged.
// It is the brief's fast path, one pass over the bytes; false says only
// that normalizeEmail must decide.
func plainEmail(v string) bool {
	if len(v) <= maxPlaceholder || len(v) > maxEmailLen {
		return false
	}
	at := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '@':
			if at >= 0 {
				return false
			}
			at = i
		case c <= ' ' || c >= 0x7f || c >= 'A' && c <= 'Z':
			return false
		case at < 0 && (c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '\\' || c == '[' || c == ']' || c == '"'):
			return false
		case at >= 0 && c != '.' && c != '-' && (c < 'a' || c > 'z') && (c < '0' || c > '9'):
			return false
		}
	}
	if at <= 0 || at > 64 || at <= maxPlaceholder && placeholders[v[:at]] {
		return false
	}
	// The domain: labels of 1 to 63 bytes that neither start nor end with
	// '-', at least two, with no dot at the end (normalizeEmail allows one).
	start, labels := at+1, 0
	for i := at + 1; i <= len(v); i++ {
		if i < len(v) && v[i] != '.' {
			continue
		}
		if n := i - start; n == 0 || n > 63 || v[start] == '-' || v[i-1] == '-' {
			return false
		}
		start, labels = i+1, labels+1
	}
	return labels >= 2
}

func normalizeEmail(v string) (string, string) {
	if len(v) > maxEmailLen {
		return "", "longer than 254 bytes"
	}
	v = strings.ToLower(v)
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return "", "no @"
	}
	local, domain := v[:at], v[at+1:]
	switch {
	case local == "":
		return "", "nothing before the @"
	case len(local) > 64:
		return "", "more than 64 bytes before the @"
	case strings.ContainsRune(local, '@'):
		return "", "more than one @"
	case len(local) <= maxPlaceholder && placeholders[local]:
		return "", "a placeholder address"
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == ':' || r == '\\' || r == '[' || r == ']' || r == '"' {
			return "", "the part before the @ has a character an address cannot have"
		}
	}
	if reason := checkDomain(domain); reason != "" {
		return "", reason
	}
	return v, ""
}

func checkDomain(d string) string {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "no domain after the @"
	}
	if !strings.Contains(d, ".") {
		return "the domain has no dot"
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 {
			return "the domain has an empty or overlong part"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a part of the domain starts or ends with '-'"
		}
		for _, r := range label {
			if r < 0x80 {
				if r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					continue
				}
				return "the domain has a character a domain cannot have"
			}
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) {
				return "the domain has a character a domain cannot have"
			}
		}
	}
	return ""
}

// stripPhone removes the separators people type in phone numbers and
// returns the digits, with a leading '+' for "+" or "00".
func stripPhone(v string) (string, bool) {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0:
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "", false
		}
	}
	s := b.String()
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	return s, true
}
