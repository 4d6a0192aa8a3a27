package codec

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// The pieces a hand-written encoder appends are what msgpack's encoder
// writes, at every boundary between encodings.
func TestAppendWritesAsMsgpack(t *testing.T) {
	enc := func(f func(e *msgpack.Encoder) error) []byte {
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		e.UseCompactInts(true)
		require.NoError(t, f(e))
		return buf.Bytes()
	}
	for _, n := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 1<<64 - 1} {
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(n) }), AppendUint(nil, n), "%d", n)
	}
	for _, n := range []int64{0, 1, 127, 128, -1, -32, -33, -128, -129, -1 << 15, -1<<15 - 1, -1 << 31, -1<<31 - 1, -1 << 63, 1<<63 - 1} {
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(int(n)) }), AppendInt(nil, n), "%d", n)
	}
	for _, l := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("a", l)
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(s) }), AppendString(nil, s), "%d", l)
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.EncodeMapLen(l) }), AppendMapLen(nil, l), "%d", l)
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.EncodeArrayLen(l) }), AppendArrayLen(nil, l), "%d", l)
	}
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Unix(1<<32-1, 0), time.Unix(1<<32, 0), time.Unix(1<<34-1, 999999999),
		time.Unix(1<<34, 0), time.Unix(-1, 5), time.Unix(1_700_000_000, 123).In(time.FixedZone("x", 3600))} {
		require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(tm) }), AppendTime(nil, tm), "%v", tm)
	}
	require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(true) }), AppendBool(nil, true))
	require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.Encode(false) }), AppendBool(nil, false))
	require.Equal(t, enc(func(e *msgpack.Encoder) error { return e.EncodeNil() }), AppendNil(nil))
}
