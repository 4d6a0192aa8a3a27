// Package codec encodes the values the store keeps: a one-byte format
// version followed by MessagePack.
//
// Every stored value starts with its format version, so that a later release
// can read what this one wrote and refuses, with ErrVersion, what a newer
// release wrote. Decoding first checks the bytes with Check, so that a
// declared length can never make the decoder allocate more than the input
// could hold (msgpack v5 preallocates from declared lengths).
package codec

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Version is the format version this build writes. It reads every version
// from 1 up to Version.
const Version = 1

// MaxDepth is how deeply arrays and maps may nest in a decoded value.
const MaxDepth = 32

var (
	// ErrVersion is returned when a value was written by a newer format
	// version than this build reads.
	ErrVersion = errors.New("codec: value written by a newer format version")
	// ErrCorrupt is returned when a value is not a well-formed encoding.
	ErrCorrupt = errors.New("codec: malformed value")
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Marshal returns the encoding of v: the version byte, then MessagePack.
func Marshal(v any) ([]byte, error) {
	if a, ok := v.(Appender); ok {
		return marshalAppender(a)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	buf.WriteByte(Version)
	if err := encodeTo(buf, v); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func encodeTo(buf *bytes.Buffer, v any) error {
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("codec: encode %T: %w", v, err)
	}
	return nil
}

// Unmarshal decodes a value written by Marshal into v.
func Unmarshal(b []byte, v any) error {
	body, err := Body(b)
	if err != nil {
		return err
	}
	return Decode(body, v)
}

// Body checks the version byte of b and returns what follows it.
func Body(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	switch ver := b[0]; {
	case ver == 0:
		return nil, fmt.Errorf("%w: format version 0", ErrCorrupt)
	case ver > Version:
		return nil, fmt.Errorf("%w: version %d, this build reads up to %d", ErrVersion, ver, Version)
	}
	return b[1:], nil
}

// Decode decodes exactly one MessagePack value (no version byte) into v,
// after checking that its declared lengths fit in b. Bytes the decoder
// cannot take are ErrCorrupt, even those on which the MessagePack library
// panics (it does on some, such as nil where a struct is expected).
func Decode(b []byte, v any) error {
	if err := Check(b, MaxDepth); err != nil {
		return err
	}
	if l, ok := v.(Loader); ok {
		r := Reader{b: b}
		if l.LoadMsgpack(&r) {
			return nil
		}
	}
	return decodeReflection(b, v)
}

// DecodeReflection is Decode with the reflection decoder even for a
// Loader: for tests that compare the two.
func DecodeReflection(b []byte, v any) error {
	if err := Check(b, MaxDepth); err != nil {
		return err
	}
	return decodeReflection(b, v)
}

func decodeReflection(b []byte, v any) (err error) {
	dec := msgpack.GetDecoder()
	defer func() {
		if r := recover(); r != nil {
			// The decoder may be left in any state: not reused.
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
			return
		}
		msgpack.PutDecoder(dec)
	}()
	dec.Reset(bytes.NewReader(b))
	dec.UsePreallocateValues(false)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}
