package codec

import (
	"encoding/binary"
	"fmt"
)

// Check reports whether b holds exactly one well-formed MessagePack value
// whose arrays and maps nest at most maxDepth deep and whose every declared
// length fits in the bytes that remain. It allocates nothing, so it is safe
// on bytes from anywhere, and a value that passes it cannot make the decoder
// allocate much more than len(b).
func Check(b []byte, maxDepth int) error {
	i, err := valueLen(b, maxDepth)
	if err != nil {
		return err
	}
	if i != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-i)
	}
	return nil
}

// valueLen returns the bytes of the first value in b, checked as Check
// checks a value.
func valueLen(b []byte, maxDepth int) (int, error) {
	// pending[d] is how many values are still expected at depth d.
	var stack [MaxDepth + 1]uint64
	if maxDepth > MaxDepth {
		maxDepth = MaxDepth
	}
	depth := 0
	stack[0] = 1
	i := 0
	for {
		for depth > 0 && stack[depth] == 0 {
			depth--
		}
		if stack[depth] == 0 {
			break
		}
		stack[depth]--
		if i >= len(b) {
			return 0, fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, i)
		}
		c := b[i]
		i++
		var n uint64     // bytes of payload to skip
		var items uint64 // values inside a container
		container := false
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items, container = uint64(c&0x0f)*2, true
		case c >= 0x90 && c <= 0x9f:
			items, container = uint64(c&0x0f), true
		case c >= 0xa0 && c <= 0xbf:
			n = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9:
			l, err := readLen(b, &i, 1)
			if err != nil {
				return 0, err
			}
			n = l
		case c == 0xc5 || c == 0xda:
			l, err := readLen(b, &i, 2)
			if err != nil {
				return 0, err
			}
			n = l
		case c == 0xc6 || c == 0xdb:
			l, err := readLen(b, &i, 4)
			if err != nil {
				return 0, err
			}
			n = l
		case c == 0xc7, c == 0xc8, c == 0xc9:
			l, err := readLen(b, &i, 1<<(c-0xc7))
			if err != nil {
				return 0, err
			}
			n = l + 1 // the ext type byte
		case c == 0xca:
			n = 4
		case c == 0xcb:
			n = 8
		case c >= 0xcc && c <= 0xcf:
			n = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3:
			n = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8:
			n = 1 + 1<<(c-0xd4)
		case c == 0xdc:
			l, err := readLen(b, &i, 2)
			if err != nil {
				return 0, err
			}
			items, container = l, true
		case c == 0xdd:
			l, err := readLen(b, &i, 4)
			if err != nil {
				return 0, err
			}
			items, container = l, true
		case c == 0xde:
			l, err := readLen(b, &i, 2)
			if err != nil {
				return 0, err
			}
			items, container = l*2, true
		case c == 0xdf:
			l, err := readLen(b, &i, 4)
			if err != nil {
				return 0, err
			}
			items, container = l*2, true
		default: // 0xc1 is never used
			return 0, fmt.Errorf("%w: reserved byte 0x%02x at %d", ErrCorrupt, c, i-1)
		}
		if container {
			// Every item takes at least one byte.
			if items > uint64(len(b)-i) {
				return 0, fmt.Errorf("%w: container at %d declares %d items, %d bytes remain", ErrCorrupt, i-1, items, len(b)-i)
			}
			if items == 0 {
				continue
			}
			if depth+1 > maxDepth {
				return 0, fmt.Errorf("%w: nested deeper than %d", ErrCorrupt, maxDepth)
			}
			depth++
			stack[depth] = items
			continue
		}
		if n > uint64(len(b)-i) {
			return 0, fmt.Errorf("%w: value at %d declares %d bytes, %d remain", ErrCorrupt, i-1, n, len(b)-i)
		}
		i += int(n)
	}
	return i, nil
}

func readLen(b []byte, i *int, size int) (uint64, error) {
	if len(b)-*i < size {
		return 0, fmt.Errorf("%w: truncated length at byte %d", ErrCorrupt, *i)
	}
	var l uint64
	switch size {
	case 1:
		l = uint64(b[*i])
	case 2:
		l = uint64(binary.BigEndian.Uint16(b[*i:]))
	case 4:
		l = uint64(binary.BigEndian.Uint32(b[*i:]))
	}
	*i += size
	return l, nil
}
