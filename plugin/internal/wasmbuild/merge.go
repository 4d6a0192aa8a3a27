package wasmbuild

import (
	"errors"
	"slices"
)

// The Go linker writes a module's data as one active segment per run of
// non-zero bytes, leaving out runs of zeros longer than a segment's header:
// the smallest module raw, but some 50,000 segments, each with an offset
// that compresses badly. MergeData joins segments whose gap is at most
// maxGap bytes, writing the gap's zeros, which compress to almost nothing:
// memory holds the same bytes once the module is instantiated (the bytes
// between segments were zero, as all of memory starts).

// errShape is returned for a module MergeData does not know how to read:
// anything but the Go linker's output (active segments in memory 0 with a
// constant offset, no data-count section).
var errShape = errors.New("wasmbuild: the module's data is not as the Go linker writes it")

// MergeData returns module with its data segments merged where they lie at
// most maxGap bytes apart. It changes nothing else.
func MergeData(module []byte, maxGap int) ([]byte, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, errShape
	}
	out := append([]byte(nil), module[:8]...)
	for i := 8; i < len(module); {
		id := module[i]
		n, j, ok := uleb(module, i+1)
		if !ok || n > uint64(len(module)-j) {
			return nil, errShape
		}
		body := module[j : j+int(n)]
		i = j + int(n)
		switch id {
		case 12: // data count: the Go linker writes none
			return nil, errShape
		case 11:
			merged, err := mergeSegments(body, maxGap)
			if err != nil {
				return nil, err
			}
			body = merged
		}
		out = append(out, id)
		out = appendUleb(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

type segment struct {
	off  uint64
	data []byte
}

func mergeSegments(b []byte, maxGap int) ([]byte, error) {
	count, i, ok := uleb(b, 0)
	if !ok || count > uint64(len(b)) {
		return nil, errShape
	}
	segs := make([]segment, 0, count)
	for range count {
		// flags 0 (active, memory 0), i32.const offset, end, size, bytes.
		if i+2 > len(b) || b[i] != 0 || b[i+1] != 0x41 {
			return nil, errShape
		}
		off, j, ok := sleb32(b, i+2)
		if !ok || j >= len(b) || b[j] != 0x0b || off < 0 {
			return nil, errShape
		}
		size, j, ok := uleb(b, j+1)
		if !ok || size > uint64(len(b)-j) {
			return nil, errShape
		}
		segs = append(segs, segment{uint64(off), b[j : j+int(size)]})
		i = j + int(size)
	}
	if i != len(b) {
		return nil, errShape
	}
	slices.SortStableFunc(segs, func(x, y segment) int {
		switch {
		case x.off < y.off:
			return -1
		case x.off > y.off:
			return 1
		}
		return 0
	})
	var merged []segment
	for _, s := range segs {
		if k := len(merged) - 1; k >= 0 {
			last := &merged[k]
			end := last.off + uint64(len(last.data))
			if s.off < end {
				return nil, errShape // overlapping segments: leave them to the linker
			}
			if s.off-end <= uint64(maxGap) {
				last.data = append(last.data, make([]byte, s.off-end)...)
				last.data = append(last.data, s.data...)
				continue
			}
		}
		merged = append(merged, segment{s.off, append([]byte(nil), s.data...)})
	}
	out := appendUleb(nil, uint64(len(merged)))
	for _, s := range merged {
		if s.off > 1<<31-1 {
			return nil, errShape
		}
		out = append(out, 0, 0x41)
		out = appendSleb(out, int64(s.off))
		out = append(out, 0x0b)
		out = appendUleb(out, uint64(len(s.data)))
		out = append(out, s.data...)
	}
	return out, nil
}

func uleb(b []byte, i int) (v uint64, next int, ok bool) {
	for shift := uint(0); i < len(b) && shift < 64; shift += 7 {
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, true
		}
	}
	return 0, i, false
}

func sleb32(b []byte, i int) (v int64, next int, ok bool) {
	shift := uint(0)
	for ; i < len(b) && shift < 35; shift += 7 {
		c := b[i]
		i++
		v |= int64(c&0x7f) << shift
		if c < 0x80 {
			if c&0x40 != 0 {
				v -= 1 << (shift + 7)
			}
			return v, i, true
		}
	}
	return 0, i, false
}

func appendUleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
