//go:build !wasip1

package memory

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
)

// randomFill sets every exported field of v, recursively, to a random value
// that crosses the boundaries of MessagePack's encodings: empty and long
// strings, times before 1970 and after 2514, integers of every width,
// slices of up to 20 items, nil and set pointers.
func randomFill(r *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(randomTime(r)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randomString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(randomInt(r) >> (64 - v.Type().Bits()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(randomInt(r)) >> (64 - v.Type().Bits()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64())
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 3 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomFill(r, v.Elem(), depth+1)
	case reflect.Slice:
		if r.IntN(3) == 0 || depth > 3 {
			return
		}
		n := r.IntN(21)
		if r.IntN(4) == 0 {
			n = r.IntN(3)
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randomFill(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		if r.IntN(2) == 0 || depth > 3 {
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		for range r.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			randomFill(r, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			randomFill(r, e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomFill(r, v.Field(i), depth)
			}
		}
	}
}

// randomString returns an empty string, one of a length where msgpack's
// string header grows, or short random bytes. The longest (str32 from
// 65,536 bytes) come once in 512 strings, still in about a third of the
// random profiles (162 strings each): more made every profile megabytes,
// and the two tests of the codecs took a minute under the race detector.
func randomString(r *rand.Rand) string {
	if r.IntN(512) == 0 {
		return strings.Repeat("x", []int{65535, 65536}[r.IntN(2)])
	}
	switch r.IntN(8) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("x", []int{31, 32, 255, 256}[r.IntN(4)])
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randomInt(r *rand.Rand) int64 {
	n := r.Int64()
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return n >> r.IntN(64) // small
	case 2:
		return -(n >> r.IntN(64))
	}
	return n
}

func randomTime(r *rand.Rand) time.Time {
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(r.Int64N(1<<40)-1<<39, 0) // before 1970, after 2514
	case 2:
		return time.Unix(r.Int64N(1<<34), 0).UTC()
	}
	return time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).UTC()
}

// The hand-written encoders write what the reflection encoder writes.
func TestAppendersEncodeAsReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var p profile
		randomFill(r, reflect.ValueOf(&p).Elem(), 0)
		var e Event
		randomFill(r, reflect.ValueOf(&e).Elem(), 0)
		var q queued
		randomFill(r, reflect.ValueOf(&q).Elem(), 0)
		for _, v := range []codec.Appender{&p, &e, &q} {
			want, err := codec.AppendValue([]byte{codec.Version}, v)
			require.NoError(t, err)
			got, err := codec.Marshal(v)
			require.NoError(t, err)
			require.Equal(t, want, got, "value %d: %T %+v", i, v, v)
		}
	}
}

func BenchmarkProfileCodec(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	p := typicalProfile(r)
	b.Run("encode=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode=reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.AppendValue([]byte{codec.Version}, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	enc, err := codec.Marshal(p)
	require.NoError(b, err)
	b.Run("decode=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var q profile
			if err := codec.Unmarshal(enc, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode=reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReflection[profile](enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// typicalProfile is a customer as the bench makes them: identifiers, a few
// facts, an open issue, last contacts.
func typicalProfile(r *rand.Rand) *profile {
	at := time.Unix(1_700_000_000, 123456789).UTC()
	p := &profile{ID: "ys3s5wzire5h54u4nppaairsym", Created: at, Seq: 40, Name: "Ada Lovelace", NameAt: at}
	p.Idents = []link{{Identifier: Email("ada@example.com").AsVerified(), At: at}, {Identifier: Device("device-00000001"), At: at}}
	for i := range 5 {
		p.Facts = append(p.Facts, Fact{Key: "k" + string(rune('a'+i)), Value: "value of the fact", Channel: ChannelWeb, At: at, Purpose: "service"})
	}
	p.Open = []Issue{{ID: "is1", Subject: "parcel late", Channel: ChannelEmail, Opened: at, Status: "open", Contacts: 3, LastContact: at, LastChannel: ChannelPhone}}
	for _, ch := range []Channel{ChannelChat, ChannelPhone, ChannelEmail} {
		p.Last = append(p.Last, Contact{Channel: ch, At: at, Outcome: OutcomePositive, Summary: "asked about sizes"})
	}
	_ = r
	return p
}

// decodeReflection decodes b as the reflection decoder does, bypassing a
// Loader.
func decodeReflection[T any](b []byte) (*T, error) {
	v := new(T)
	body, err := codec.Body(b)
	if err != nil {
		return nil, err
	}
	err = codec.DecodeReflection(body, v)
	return v, err
}

// The hand-written decoders read what the reflection decoder reads.
func TestLoadersDecodeAsReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var p profile
		randomFill(r, reflect.ValueOf(&p).Elem(), 0)
		var e Event
		randomFill(r, reflect.ValueOf(&e).Elem(), 0)
		e.Customer, e.Receipt = "", nil
		pb, err := codec.Marshal(&p)
		require.NoError(t, err)
		eb, err := codec.Marshal(&e)
		require.NoError(t, err)
		compareDecoders[profile](t, pb)
		compareDecoders[Event](t, eb)
		var q queued
		randomFill(r, reflect.ValueOf(&q).Elem(), 0)
		qb, err := codec.Marshal(&q)
		require.NoError(t, err)
		compareDecoders[queued](t, qb)
	}
}

// compareDecoders decodes b both ways and requires the same value or both
// errors.
func compareDecoders[T any](t testing.TB, b []byte) {
	t.Helper()
	want, werr := decodeReflection[T](b)
	got := new(T)
	gerr := codec.Unmarshal(b, any(got))
	if werr != nil {
		require.Error(t, gerr, "%x", b)
		return
	}
	require.NoError(t, gerr, "%x", b)
	require.Equal(t, want, got, "%x", b)
}

func FuzzProfileDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		var p profile
		randomFill(r, reflect.ValueOf(&p).Elem(), 0)
		b, err := codec.Marshal(&p)
		require.NoError(f, err)
		f.Add(b)
	}
	b, _ := codec.Marshal(typicalProfile(r))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { compareDecoders[profile](t, b) })
}

func FuzzEventDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		var e Event
		randomFill(r, reflect.ValueOf(&e).Elem(), 0)
		e.Customer, e.Receipt = "", nil
		b, err := codec.Marshal(&e)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { compareDecoders[Event](t, b) })
}

func BenchmarkEventCodec(b *testing.B) {
	at := time.Unix(1_700_000_000, 123456789).UTC()
	e := &Event{Seq: 41, Kind: EventContactRecorded, At: at,
		Contact: &Contact{Channel: ChannelChat, At: at, Outcome: OutcomePositive, Summary: "asked about sizes"}}
	b.Run("encode=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode=reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.AppendValue([]byte{codec.Version}, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	enc, err := codec.Marshal(e)
	require.NoError(b, err)
	b.Run("decode=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var q Event
			if err := codec.Unmarshal(enc, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode=reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReflection[Event](enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
