package codec

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

type sample struct {
	Name  string            `msgpack:"n"`
	Count int               `msgpack:"c"`
	At    time.Time         `msgpack:"t"`
	Tags  []string          `msgpack:"g"`
	Attrs map[string]string `msgpack:"a"`
	Blob  []byte            `msgpack:"b"`
	F     float64           `msgpack:"f"`
}

func TestRoundTrip(t *testing.T) {
	in := sample{Name: "ada", Count: -7, At: time.Unix(1700000000, 5).UTC(), Tags: []string{"a", "b"},
		Attrs: map[string]string{"k": "v"}, Blob: []byte{1, 2, 3}, F: 1.5}
	b, err := Marshal(in)
	require.NoError(t, err)
	require.Equal(t, byte(Version), b[0])
	var out sample
	require.NoError(t, Unmarshal(b, &out))
	require.True(t, in.At.Equal(out.At))
	out.At = in.At
	require.Equal(t, in, out)
}

func TestVersion(t *testing.T) {
	b, err := Marshal(sample{Name: "x"})
	require.NoError(t, err)
	b[0] = Version + 1
	var out sample
	err = Unmarshal(b, &out)
	require.ErrorIs(t, err, ErrVersion)
	require.Contains(t, err.Error(), "version 2")
	require.ErrorIs(t, Unmarshal(nil, &out), ErrCorrupt)
	require.ErrorIs(t, Unmarshal([]byte{0, 0x80}, &out), ErrCorrupt)
}

func TestCheckRejectsHugeDeclaredLengths(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"array32 of 2^32-1", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}},
		{"map32", []byte{0xdf, 0x0f, 0xff, 0xff, 0xff, 0x01}},
		{"str32", []byte{0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}},
		{"bin32", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff}},
		{"ext32", []byte{0xc9, 0x7f, 0xff, 0xff, 0xff, 1}},
		{"truncated uint64", []byte{0xcf, 1, 2}},
		{"reserved", []byte{0xc1}},
		{"trailing", []byte{0x01, 0x02}},
		{"empty", nil},
		{"truncated length", []byte{0xda, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, Check(tt.b, MaxDepth), ErrCorrupt)
			var v any
			require.ErrorIs(t, Decode(tt.b, &v), ErrCorrupt)
		})
	}
}

func TestCheckDepth(t *testing.T) {
	deep := make([]byte, 0, 100)
	for range 40 {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0x01)
	err := Check(deep, MaxDepth)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "nested deeper")
	require.NoError(t, Check(deep[len(deep)-10:], MaxDepth))
}

func TestCheckAcceptsWhatMsgpackWrites(t *testing.T) {
	values := []any{
		nil, true, false, 0, -1, 127, 128, -33, 1 << 40, -1 << 40, 1.5, float32(2.5),
		"", "short", string(make([]byte, 300)), string(make([]byte, 70000)),
		[]byte{}, make([]byte, 300), make([]byte, 70000),
		[]int{}, make([]int, 20), make([]int, 70000),
		map[string]int{}, map[string]int{"a": 1},
		time.Unix(1, 0), time.Unix(1<<34, 0), time.Unix(1, 5),
		sample{Name: "n", Tags: []string{"x"}},
		[]any{map[string]any{"a": []any{1, "b", nil}}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, Check(b, MaxDepth), "%T %v", v, b[:min(len(b), 8)])
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range []any{sample{Name: "a", Tags: []string{"b"}}, []any{1, "x"}, map[string]any{"k": nil}} {
		b, _ := msgpack.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s sample
		_ = Decode(b, &s)
		var v any
		if Decode(b, &v) == nil {
			// What passed the check re-encodes without error.
			_, err := msgpack.Marshal(v)
			require.NoError(t, err)
		}
	})
}

// The MessagePack library panics on nil where some types are expected;
// Decode answers ErrCorrupt instead.
func TestDecodeNeverPanics(t *testing.T) {
	var s sample
	err := Decode([]byte("\x97\xa500000\x05\xc00000"), &s)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestDecodeAllocatesNoMoreThanItsInput: lengths that claim gigabytes in a
// few bytes must not make the decoder allocate them, whatever it decodes
// into.
func TestDecodeAllocatesNoMoreThanItsInput(t *testing.T) {
	inputs := [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},            // array32 of 2^32-1
		{0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a', 0xc0}, // map32
		{0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},             // str32
		{0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00},            // bin32
		{0x91, 0xdd, 0x0f, 0xff, 0xff, 0xff, 0x01},      // nested
	}
	targets := []func() any{
		func() any { return new(any) }, func() any { return new([]sample) }, func() any { return new(map[string]string) },
		func() any { return new(string) }, func() any { return new([]byte) }, func() any { return new(sample) },
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, in := range inputs {
		for _, target := range targets {
			require.Error(t, Decode(in, target()))
		}
	}
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated decoding %d tiny inputs", len(inputs)*len(targets))
}
