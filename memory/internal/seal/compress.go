//go:build !wasip1

package seal

import (
	"bytes"
	"errors"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Values are compressed before they are sealed, since sealed bytes do not
// compress: with zstd, against a dictionary of what a store typically
// holds (dictionary.go), so that even a value of a few hundred bytes
// shrinks. A compressed value is stored without zstd's magic number and
// checksum (the seal authenticates it); its frame names its dictionary,
// so that every dictionary a release ever shipped keeps opening what it
// compressed.

// maxPlain bounds what a sealed value opens to: a value is at most a few
// MiB (a profile, a pack of events; see kv.PartSize for the parts of a long
// one), and nothing that decompresses beyond this is one of ours.
const maxPlain = 64 << 20

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	zOnce sync.Once
	zEnc  *zstd.Encoder
	zDec  *zstd.Decoder
	zErr  error
)

func zstdCodec() (*zstd.Encoder, *zstd.Decoder, error) {
	zOnce.Do(func() {
		eopts := []zstd.EOption{
			// The fastest level: with a dictionary, a stronger one
			// spends more on setting up its tables for each value than
			// on the value (SpeedDefault took a write from 80 to 290 µs).
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false),
			zstd.WithLowerEncoderMem(true),
			zstd.WithSingleSegment(true),
		}
		dopts := []zstd.DOption{
			zstd.WithDecoderMaxMemory(maxPlain),
			zstd.WithDecoderConcurrency(0),
		}
		var usable [][]byte
		for _, d := range dictionaries {
			if len(d) > 0 {
				usable = append(usable, d)
			}
		}
		if len(usable) > 0 {
			dopts = append(dopts, zstd.WithDecoderDicts(usable...))
			eopts = append(eopts, zstd.WithEncoderDict(usable[len(usable)-1]))
		}
		if zEnc, zErr = zstd.NewWriter(nil, eopts...); zErr != nil {
			return
		}
		zDec, zErr = zstd.NewReader(nil, dopts...)
	})
	return zEnc, zDec, zErr
}

// compress appends plain, compressed, to dst, and reports whether that is
// shorter than plain.
func compress(dst, plain []byte) ([]byte, bool) {
	enc, _, err := zstdCodec()
	if err != nil {
		return dst, false
	}
	n := len(dst)
	out := enc.EncodeAll(plain, dst)
	if !bytes.HasPrefix(out[n:], zstdMagic) || len(out)-n-len(zstdMagic) >= len(plain) {
		return dst, false
	}
	// Without its magic number.
	copy(out[n:], out[n+len(zstdMagic):])
	return out[:len(out)-len(zstdMagic)], true
}

var errDecompress = errors.New("seal: a compressed value does not decompress")

// decompress returns what compress compressed.
func decompress(body []byte) ([]byte, error) {
	_, dec, err := zstdCodec()
	if err != nil {
		return nil, err
	}
	frame := make([]byte, 0, len(zstdMagic)+len(body))
	frame = append(append(frame, zstdMagic...), body...)
	plain, err := dec.DecodeAll(frame, nil)
	if err != nil || len(plain) > maxPlain {
		return nil, errDecompress
	}
	return plain, nil
}
