package codec

import (
	"bytes"
	"encoding/binary"
	"sync"
	"time"
)

// Appender is a value that writes its own MessagePack encoding: Marshal
// calls AppendMsgpack instead of the reflection encoder. It must write
// byte for byte what the reflection encoder writes for the value (a map of
// the fields that are not omitted, in declaration order, with compact
// integers), so that a type that gains one changes no stored byte; its
// tests compare the two on random values. The functions below write the
// pieces as the reflection encoder does.
type Appender interface {
	AppendMsgpack(b []byte) ([]byte, error)
}

var appendPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// marshalAppender is Marshal for an Appender.
func marshalAppender(a Appender) ([]byte, error) {
	p := appendPool.Get().(*[]byte)
	b, err := a.AppendMsgpack(append((*p)[:0], Version))
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(b)
	if cap(b) <= 64<<10 {
		*p = b[:0]
		appendPool.Put(p)
	}
	return out, nil
}

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return append(b, 0xc0) }

// AppendBool appends a bool.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// AppendUint appends an unsigned integer in the fewest bytes.
func AppendUint(b []byte, n uint64) []byte {
	switch {
	case n <= 0x7f:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0xcc, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

// AppendInt appends a signed integer in the fewest bytes: a non-negative
// one as AppendUint does.
func AppendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return AppendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= -1<<7:
		return append(b, 0xd0, byte(n))
	case n >= -1<<15:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= -1<<31:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// AppendString appends a string.
func AppendString(b []byte, s string) []byte {
	switch l := len(s); {
	case l < 32:
		b = append(b, 0xa0|byte(l))
	case l < 256:
		b = append(b, 0xd9, byte(l))
	case l <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(l))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(l))
	}
	return append(b, s...)
}

// AppendMapLen appends the header of a map of n entries.
func AppendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendArrayLen appends the header of an array of n items.
func AppendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendTime appends a time as MessagePack's timestamp extension, in 4, 8
// or 12 bytes as msgpack's encoder picks them.
func AppendTime(b []byte, t time.Time) []byte {
	secs := uint64(t.Unix())
	if secs>>34 == 0 {
		data := uint64(t.Nanosecond())<<34 | secs
		if data&0xffffffff00000000 == 0 {
			return binary.BigEndian.AppendUint32(append(b, 0xd6, 0xff), uint32(data))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xd7, 0xff), data)
	}
	b = binary.BigEndian.AppendUint32(append(b, 0xc7, 12, 0xff), uint32(t.Nanosecond()))
	return binary.BigEndian.AppendUint64(b, secs)
}

// AppendValue appends v as the reflection encoder writes it: for the parts
// of an Appender that are rare enough to leave to it.
func AppendValue(b []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	if err := encodeTo(buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
