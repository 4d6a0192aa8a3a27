package codec

import (
	"encoding/binary"
	"time"
)

// Loader is a value that decodes its own encoding: Decode calls
// LoadMsgpack, after Check, instead of the reflection decoder. It takes
// what its Appender writes, and reports true once it read the whole value
// (Reader.Done); on anything else (a field it does not know, an encoding
// its writer never picks) it reports false, leaving the value zero, and
// Decode falls back to the reflection decoder. So what it decodes
// is what the reflection decoder would; its tests compare the two.
type Loader interface {
	LoadMsgpack(r *Reader) bool
}

// Reader reads the pieces of a checked value as the Appender functions
// write them. Once a read finds something else, Failed reports true and
// every later read returns a zero value.
type Reader struct {
	b      []byte
	failed bool
}

// Failed reports whether a read found what it did not expect.
func (r *Reader) Failed() bool { return r.failed }

// Done reports whether every byte was read and nothing failed.
func (r *Reader) Done() bool { return !r.failed && len(r.b) == 0 }

// Fail marks the read failed.
func (r *Reader) Fail() { r.failed = true }

func (r *Reader) take(n int) []byte {
	if r.failed || len(r.b) < n {
		r.failed = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *Reader) code() byte {
	if r.failed || len(r.b) == 0 {
		r.failed = true
		return 0
	}
	return r.b[0]
}

// length reads the length of a header whose short form holds it in the
// low bits under mask from fix, and whose long forms are codes c16, c32
// (and c8, when nonzero).
func (r *Reader) length(fix, mask, c8, c16, c32 byte) int {
	c := r.code()
	switch {
	case r.failed:
		return 0
	case c&^mask == fix:
		r.b = r.b[1:]
		return int(c & mask)
	case c8 != 0 && c == c8:
		if b := r.take(2); b != nil {
			return int(b[1])
		}
	case c == c16:
		if b := r.take(3); b != nil {
			return int(binary.BigEndian.Uint16(b[1:]))
		}
	case c == c32:
		if b := r.take(5); b != nil {
			return int(binary.BigEndian.Uint32(b[1:]))
		}
	default:
		r.failed = true
	}
	return 0
}

// MapLen reads a map's header.
func (r *Reader) MapLen() int { return r.length(0x80, 0x0f, 0, 0xde, 0xdf) }

// ArrayLen reads an array's header.
func (r *Reader) ArrayLen() int { return r.length(0x90, 0x0f, 0, 0xdc, 0xdd) }

// Bytes reads a string, valid as long as the bytes read are.
func (r *Reader) Bytes() []byte { return r.take(r.length(0xa0, 0x1f, 0xd9, 0xda, 0xdb)) }

// String reads a string.
func (r *Reader) String() string { return string(r.Bytes()) }

// Bool reads a bool.
func (r *Reader) Bool() bool {
	switch r.code() {
	case 0xc3:
		r.b = r.b[1:]
		return true
	case 0xc2:
		r.b = r.b[1:]
		return false
	}
	r.failed = true
	return false
}

// Uint reads a non-negative integer.
func (r *Reader) Uint() uint64 {
	c := r.code()
	switch {
	case r.failed:
	case c <= 0x7f:
		r.b = r.b[1:]
		return uint64(c)
	case c == 0xcc:
		if b := r.take(2); b != nil {
			return uint64(b[1])
		}
	case c == 0xcd:
		if b := r.take(3); b != nil {
			return uint64(binary.BigEndian.Uint16(b[1:]))
		}
	case c == 0xce:
		if b := r.take(5); b != nil {
			return uint64(binary.BigEndian.Uint32(b[1:]))
		}
	case c == 0xcf:
		if b := r.take(9); b != nil {
			return binary.BigEndian.Uint64(b[1:])
		}
	default:
		r.failed = true
	}
	return 0
}

// Int reads an integer that fits an int, as AppendInt writes it.
func (r *Reader) Int() int {
	c := r.code()
	var n int64
	switch {
	case r.failed:
		return 0
	case c >= 0xe0:
		r.b = r.b[1:]
		return int(int8(c))
	case c == 0xd0:
		if b := r.take(2); b != nil {
			n = int64(int8(b[1]))
		}
	case c == 0xd1:
		if b := r.take(3); b != nil {
			n = int64(int16(binary.BigEndian.Uint16(b[1:])))
		}
	case c == 0xd2:
		if b := r.take(5); b != nil {
			n = int64(int32(binary.BigEndian.Uint32(b[1:])))
		}
	case c == 0xd3:
		if b := r.take(9); b != nil {
			n = int64(binary.BigEndian.Uint64(b[1:]))
		}
	default:
		u := r.Uint()
		if u > 1<<63-1 {
			r.failed = true
			return 0
		}
		n = int64(u)
	}
	if int64(int(n)) != n {
		r.failed = true
		return 0
	}
	return int(n)
}

// Time reads a timestamp, in UTC.
func (r *Reader) Time() time.Time {
	c := r.code()
	switch {
	case r.failed:
	case c == 0xd6:
		if b := r.take(6); b != nil && b[1] == 0xff {
			return time.Unix(int64(binary.BigEndian.Uint32(b[2:])), 0).UTC()
		}
	case c == 0xd7:
		if b := r.take(10); b != nil && b[1] == 0xff {
			n := binary.BigEndian.Uint64(b[2:])
			return time.Unix(int64(n&0x00000003ffffffff), int64(n>>34)).UTC()
		}
	case c == 0xc7:
		if b := r.take(15); b != nil && b[1] == 12 && b[2] == 0xff {
			return time.Unix(int64(binary.BigEndian.Uint64(b[7:])), int64(binary.BigEndian.Uint32(b[3:]))).UTC()
		}
	}
	r.failed = true
	return time.Time{}
}

// IsNil reports whether nil comes next, and reads it if so.
func (r *Reader) IsNil() bool {
	if r.code() == 0xc0 && !r.failed {
		r.b = r.b[1:]
		return true
	}
	return false
}

// Value decodes the next value into v with the reflection decoder: for the
// parts of a Loader that its Appender leaves to the reflection encoder.
func (r *Reader) Value(v any) {
	if r.failed {
		return
	}
	n, err := valueLen(r.b, MaxDepth)
	if err != nil {
		r.failed = true
		return
	}
	if err := Decode(r.b[:n], v); err != nil {
		r.failed = true
		return
	}
	r.b = r.b[n:]
}
