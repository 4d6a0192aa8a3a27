package codec

import (
	"encoding/binary"
	"fmt"
)

// A log is a value that holds a bounded list of entries, oldest first: the
// version byte, then each entry as a uvarint length and its MessagePack bytes.
// Appending to a log and dropping its oldest entries never decodes an entry.

// AppendEntry appends v to the log in dst, starting a new log when dst is
// empty, and drops the oldest entries so that at most keep remain. It returns
// the new log and how many entries it holds.
func AppendEntry(dst []byte, v any, keep int) ([]byte, int, error) {
	if len(dst) == 0 {
		dst = []byte{Version}
	} else if _, err := Body(dst); err != nil {
		return nil, 0, err
	}
	entry, err := Append(nil, v)
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, 0, len(dst)+len(entry)+binary.MaxVarintLen32)
	out = append(out, dst...)
	out = binary.AppendUvarint(out, uint64(len(entry)))
	out = append(out, entry...)
	return Trim(out, keep)
}

// Trim drops the oldest entries of the log so that at most keep remain.
func Trim(log []byte, keep int) ([]byte, int, error) {
	var offsets []int
	if err := scan(log, func(off int, _ []byte) error {
		offsets = append(offsets, off)
		return nil
	}); err != nil {
		return nil, 0, err
	}
	if len(offsets) <= keep {
		return log, len(offsets), nil
	}
	cut := offsets[len(offsets)-keep]
	out := make([]byte, 0, 1+len(log)-cut)
	out = append(out, log[0])
	out = append(out, log[cut:]...)
	return out, keep, nil
}

// Entries calls fn with each entry of the log, oldest first, decoded into a
// fresh value by decode.
func Entries(log []byte, fn func(entry []byte) error) error {
	return scan(log, func(_ int, e []byte) error { return fn(e) })
}

func scan(log []byte, fn func(off int, entry []byte) error) error {
	body, err := Body(log)
	if err != nil {
		return err
	}
	off := 1
	for len(body) > 0 {
		n, w := binary.Uvarint(body)
		if w <= 0 || n > uint64(len(body)-w) {
			return fmt.Errorf("%w: log entry at byte %d", ErrCorrupt, off)
		}
		if err := fn(off, body[w:w+int(n)]); err != nil {
			return err
		}
		off += w + int(n)
		body = body[w+int(n):]
	}
	return nil
}
