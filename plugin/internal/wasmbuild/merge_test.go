package wasmbuild

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// module returns a module of a data section alone, with the segments given.
func module(segs ...segment) []byte {
	body := appendUleb(nil, uint64(len(segs)))
	for _, s := range segs {
		body = append(body, 0, 0x41)
		body = appendSleb(body, int64(s.off))
		body = append(body, 0x0b)
		body = appendUleb(body, uint64(len(s.data)))
		body = append(body, s.data...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 1, 1, 0) // an empty type section, kept as it is
	m = append(m, 11)
	m = appendUleb(m, uint64(len(body)))
	return append(m, body...)
}

// memoryOf returns the memory a module of data segments initializes.
func memoryOf(t *testing.T, m []byte) []byte {
	t.Helper()
	var mem []byte
	i := 8
	for i < len(m) {
		id := m[i]
		n, j, ok := uleb(m, i+1)
		require.True(t, ok)
		if id == 11 {
			body := m[j : j+int(n)]
			count, k, _ := uleb(body, 0)
			for range count {
				off, k2, _ := sleb32(body, k+2)
				size, k3, _ := uleb(body, k2+1)
				end := int(off) + int(size)
				if end > len(mem) {
					mem = append(mem, make([]byte, end-len(mem))...)
				}
				copy(mem[off:], body[k3:k3+int(size)])
				k = k3 + int(size)
			}
		}
		i = j + int(n)
	}
	return mem
}

func TestMergeDataKeepsTheMemory(t *testing.T) {
	m := module(
		segment{300, []byte("late")}, // out of order, as the linker sometimes writes them
		segment{8, []byte("abc")},
		segment{12, []byte("de")},       // a gap of 1
		segment{14 + 64, []byte("fg")},  // a gap of 64: merged
		segment{80 + 65, []byte("far")}, // a gap of 65: apart
		segment{1 << 20, bytes.Repeat([]byte{7}, 300)},
	)
	got, err := MergeData(m, 64)
	require.NoError(t, err)
	require.Equal(t, memoryOf(t, m), memoryOf(t, got))
	count, _, _ := uleb(got, 8+3+1+2) // past the type section, the id and a 2-byte size
	require.EqualValues(t, 4, count, "abc…fg, far, late, the run of 7s")
	require.Equal(t, m[8:11], got[8:11], "other sections as they were")
}

func TestMergeDataRefusesWhatItCannotRead(t *testing.T) {
	overlapping := module(segment{8, []byte("abc")}, segment{10, []byte("overlaps")})
	_, err := MergeData(overlapping, 64)
	require.ErrorIs(t, err, errShape, "overlapping segments")
	for _, bad := range [][]byte{
		nil,
		[]byte("not wasm at all"),
		append([]byte("\x00asm\x01\x00\x00\x00"), 11, 0x80),                // a size cut off
		append([]byte("\x00asm\x01\x00\x00\x00"), 11, 5, 1, 1, 0, 0x0b, 0), // a passive segment
		append([]byte("\x00asm\x01\x00\x00\x00"), 11, 4, 9, 0, 0x41, 0),    // more segments than bytes
		append([]byte("\x00asm\x01\x00\x00\x00"), 12, 1, 0),                // a data-count section
	} {
		_, err := MergeData(bad, 64)
		require.Error(t, err, "%q", bad)
	}
	for cut := 12; cut < len(overlapping); cut++ { // cut inside the data section
		_, err := MergeData(overlapping[:cut], 64) // never panics
		require.Error(t, err)
	}
}

func FuzzMergeData(f *testing.F) {
	f.Add(module(segment{8, []byte("abc")}, segment{20, []byte("de")}), uint8(16))
	f.Fuzz(func(t *testing.T, m []byte, gap uint8) {
		got, err := MergeData(m, int(gap))
		if err != nil {
			return
		}
		require.Equal(t, memoryOf(t, m), memoryOf(t, got))
	})
}
