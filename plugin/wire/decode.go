package wire

import (
	"errors"
	"strconv"
	"time"
)

// ErrShape is returned for JSON whose values do not have the expected types.
var ErrShape = errors.New("wire: unexpected JSON")

// dec reads fields of parsed values, keeping the first error.
type dec struct{ err error }

func (d *dec) fail(field, want string) {
	if d.err == nil {
		d.err = &wireError{base: ErrShape, msg: field + " is not " + want}
	}
}

// obj returns v if it is an object; null and absent give nil.
func (d *dec) obj(v *Value, field string) *Value {
	if v == nil || v.Kind == Null {
		return nil
	}
	if v.Kind != Object {
		d.fail(field, "an object")
		return nil
	}
	return v
}

// arr returns the items of an array; null and absent give none.
func (d *dec) arr(v *Value, field string) []*Value {
	if v == nil || v.Kind == Null {
		return nil
	}
	if v.Kind != Array {
		d.fail(field, "an array")
		return nil
	}
	return v.Items
}

func (d *dec) str(o *Value, key string) string {
	v := o.Get(key)
	if v == nil || v.Kind == Null {
		return ""
	}
	if v.Kind != String {
		d.fail(key, "a string")
		return ""
	}
	return v.Str
}

func (d *dec) boolean(o *Value, key string) bool {
	v := o.Get(key)
	if v == nil || v.Kind == Null {
		return false
	}
	if v.Kind != Bool {
		d.fail(key, "true or false")
		return false
	}
	return v.Bool
}

func (d *dec) uint(o *Value, key string) uint64 {
	v := o.Get(key)
	if v == nil || v.Kind == Null {
		return 0
	}
	if v.Kind != Number {
		d.fail(key, "a number")
		return 0
	}
	n, err := strconv.ParseUint(v.Str, 10, 64)
	if err != nil {
		d.fail(key, "a whole number from 0")
	}
	return n
}

func (d *dec) int(o *Value, key string) int64 {
	v := o.Get(key)
	if v == nil || v.Kind == Null {
		return 0
	}
	if v.Kind != Number {
		d.fail(key, "a number")
		return 0
	}
	n, err := strconv.ParseInt(v.Str, 10, 64)
	if err != nil {
		d.fail(key, "a whole number")
	}
	return n
}

func (d *dec) time(o *Value, key string) time.Time {
	s := d.str(o, key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(key, "an RFC 3339 time")
		return time.Time{}
	}
	if t.Year() == 1 && t.Equal(time.Time{}) {
		return time.Time{}
	}
	return t.UTC()
}

func (d *dec) strings(v *Value, field string) []string {
	var out []string
	for _, it := range d.arr(v, field) {
		if it.Kind != String {
			d.fail(field, "a list of strings")
			return nil
		}
		out = append(out, it.Str)
	}
	return out
}
