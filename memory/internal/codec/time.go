package codec

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Times come back in UTC, as the store writes them. msgpack's own decoder
// gives them in the machine's local zone, so that a value read from the
// store differed from the same value kept in memory (a brief built from a
// cached profile and one built from the stored profile were not equal).
// This decoder reads msgpack's timestamp extension as msgpack's does, and
// writes nothing differently: the encoder is msgpack's own.
func init() {
	msgpack.RegisterExtDecoder(-1, time.Time{}, decodeTime)
}

func decodeTime(d *msgpack.Decoder, v reflect.Value, extLen int) error {
	var buf [12]byte
	if extLen != 4 && extLen != 8 && extLen != 12 {
		return fmt.Errorf("msgpack: invalid ext len=%d decoding time", extLen)
	}
	b := buf[:extLen]
	if err := d.ReadFull(b); err != nil {
		return err
	}
	var tm time.Time
	switch extLen {
	case 4:
		tm = time.Unix(int64(binary.BigEndian.Uint32(b)), 0)
	case 8:
		n := binary.BigEndian.Uint64(b)
		tm = time.Unix(int64(n&0x00000003ffffffff), int64(n>>34))
	case 12:
		tm = time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(binary.BigEndian.Uint32(b)))
	}
	v.Set(reflect.ValueOf(tm.UTC()))
	return nil
}
