// Package wire encodes what the browser plugin, its wasm module and its
// server exchange: the memory package's snapshots, changes and briefs as
// JSON, in the same form encoding/json gives them.
//
// It uses no reflection and no fmt, so that the wasm module stays small, and
// it parses untrusted bytes within bounds: at most MaxDepth levels of
// nesting and MaxItems values in all, each of them no longer than its input.
package wire

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Bounds on parsed input.
const (
	MaxDepth = 16
	MaxItems = 1 << 16
)

// ErrSyntax is returned for input that is not JSON the parser accepts.
var ErrSyntax = errors.New("wire: malformed JSON")

// Kind is the kind of a parsed JSON value.
type Kind uint8

// Kinds of values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is a parsed JSON value. Numbers are kept as their text.
type Value struct {
	Kind  Kind
	Str   string // the text of a String or Number
	Bool  bool
	Items []*Value // of an Array
	Keys  []string // of an Object, with Items holding the values
}

// Get returns the member of an object named key, or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != Object {
		return nil
	}
	for i, k := range v.Keys {
		if k == key {
			return v.Items[i]
		}
	}
	return nil
}

// Parse parses one JSON value that fills b.
func Parse(b []byte) (*Value, error) {
	p := parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, p.fail("trailing bytes")
	}
	return v, nil
}

type parser struct {
	b     []byte
	i     int
	items int
}

func (p *parser) fail(why string) error {
	return &wireError{base: ErrSyntax, msg: why + " at byte " + strconv.Itoa(p.i)}
}

// wireError adds detail to ErrSyntax or ErrShape, without fmt.
type wireError struct {
	base error
	msg  string
}

func (e *wireError) Error() string { return e.base.Error() + ": " + e.msg }
func (e *wireError) Unwrap() error { return e.base }

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*Value, error) {
	if depth > MaxDepth {
		return nil, p.fail("nested too deeply")
	}
	p.items++
	if p.items > MaxItems {
		return nil, p.fail("too many values")
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return &Value{Kind: String, Str: s}, err
	case c == 't':
		return &Value{Kind: Bool, Bool: true}, p.word("true")
	case c == 'f':
		return &Value{Kind: Bool}, p.word("false")
	case c == 'n':
		return &Value{Kind: Null}, p.word("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.fail("unexpected character")
}

func (p *parser) word(w string) error {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return p.fail("bad literal")
	}
	p.i += len(w)
	return nil
}

func (p *parser) number() (*Value, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			p.i++
			continue
		}
		break
	}
	text := string(p.b[start:p.i])
	if p.i == digits || !validNumber(text) {
		return nil, p.fail("bad number")
	}
	return &Value{Kind: Number, Str: text}, nil
}

func (p *parser) array(depth int) (*Value, error) {
	p.i++ // [
	v := &Value{Kind: Array}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		item, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, item)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected , or ]")
		}
	}
}

func (p *parser) object(depth int) (*Value, error) {
	p.i++ // {
	v := &Value{Kind: Object}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a member name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected :")
		}
		p.i++
		item, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.Keys = append(v.Keys, k)
		v.Items = append(v.Items, item)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected , or }")
		}
	}
}

func (p *parser) str() (string, error) {
	p.i++ // "
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", p.fail("invalid UTF-8")
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(out) {
				return "", p.fail("invalid UTF-8")
			}
			return string(out), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// As encoding/json: a pair makes one rune; anything else
				// makes U+FFFD and is read on its own.
				pair := rune(utf8.RuneError)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					lo, ok := p.hex4()
					if ok {
						pair = utf16.DecodeRune(r, lo)
					}
					if pair == utf8.RuneError {
						p.i = save
					}
				}
				r = pair
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.fail("bad escape")
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// validNumber reports whether s follows JSON's number grammar.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}
