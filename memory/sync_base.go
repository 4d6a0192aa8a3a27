package memory

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"time"
)

// SyncBase is where a device's changes stand in the store: Applied is the
// Seq of the last change from the device that the store holds, and Head a
// digest chained over every change the store applied from the device, in
// order. A device sends with each Sync the base its pending changes were
// numbered after, and the store applies them only on that base: two copies
// of one device's memory (two tabs, two processes restored from one saved
// state) that numbered different changes alike can never pass one off as
// the other. The zero SyncBase is that of a device that has sent nothing.
//
// The device can follow the chain itself, from the changes it sent (a
// Local memory does): the store's answers need not carry the head.
type SyncBase struct {
	Applied uint64 `json:"applied"`
	// Head is the digest: 22 characters of unpadded base64url, or empty
	// before the device's first change, and for a device whose changes a
	// release without digests applied.
	Head string `json:"head,omitempty"`
}

// The chain is FNV-1a of 128 bits, over the head before and the change:
// small enough for the wasm module (crypto/sha256 would add 70 KB to it,
// and an import of os), and enough to tell changes apart by chance. It
// need not stand up to a forger: a device's chain is kept under the
// device's own identifier, so a device that forged a collision would only
// have its own change skipped.
const (
	headBytes = 16
	headChars = 22 // headBytes in unpadded base64url
)

func (b SyncBase) check() error {
	if b.Applied == ^uint64(0) {
		return invalid("sync base", "no change can follow it")
	}
	if b.Head == "" {
		return nil
	}
	if _, err := decodeHead(b.Head); err != nil {
		return err
	}
	return nil
}

// after returns the base after change e, sent on b.
func (b SyncBase) after(e *Event) SyncBase {
	prev, _ := decodeHead(b.Head) // checked before
	h := fnv.New128a()
	h.Write([]byte("herken sync chain 1\x00"))
	h.Write(prev)
	h.Write(appendChangeDigest(nil, e))
	return SyncBase{Applied: e.Seq, Head: base64.RawURLEncoding.EncodeToString(h.Sum(nil))}
}

func decodeHead(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != headBytes || len(s) != headChars {
		return nil, invalid("sync head", "not a head the store gave")
	}
	return b, nil
}

// appendChangeDigest appends what the chain takes of a change: every field
// a change of a customer's carries, and no other (see isChangeKind and
// checkChange), each length-prefixed, so that two changes that differ in
// what the store applies never give the same bytes. A whitebox test keeps
// the list whole.
func appendChangeDigest(b []byte, e *Event) []byte {
	b = binary.AppendUvarint(b, e.Seq)
	b = digestStr(b, string(e.Kind))
	b = digestTime(b, e.At)
	b = digestStr(b, e.Name)
	b = digestStr(b, e.Key)
	b = digestStr(b, e.Value)
	if id := e.Identifier; digestHas(&b, id != nil) {
		b = digestStr(b, string(id.Kind))
		b = digestStr(b, id.Value)
		b = digestBool(b, id.Verified)
	}
	if f := e.Fact; digestHas(&b, f != nil) {
		b = digestStr(b, f.Key)
		b = digestStr(b, f.Value)
		b = digestStr(b, string(f.Channel))
		b = digestTime(b, f.At)
		b = digestStr(b, string(f.Purpose))
		b = binary.AppendVarint(b, int64(f.Retention))
		b = digestTime(b, f.Expires)
	}
	if c := e.Consent; digestHas(&b, c != nil) {
		b = digestStr(b, string(c.Purpose))
		b = digestStr(b, string(c.Channel))
		b = digestBool(b, c.Granted)
		b = digestTime(b, c.At)
		b = digestStr(b, c.Source)
	}
	if is := e.Issue; digestHas(&b, is != nil) {
		b = digestStr(b, string(is.ID))
		b = digestStr(b, is.Subject)
		b = digestStr(b, string(is.Channel))
		b = digestTime(b, is.Opened)
		b = digestStr(b, string(is.Status))
		b = binary.AppendVarint(b, int64(is.Contacts))
		b = digestBool(b, is.Escalated)
		b = digestTime(b, is.LastContact)
		b = digestStr(b, string(is.LastChannel))
		b = digestTime(b, is.Resolved)
		b = digestStr(b, is.Resolution)
	}
	if c := e.Contact; digestHas(&b, c != nil) {
		b = digestStr(b, string(c.Channel))
		b = digestTime(b, c.At)
		b = digestStr(b, string(c.Issue))
		b = digestStr(b, string(c.Outcome))
		b = digestStr(b, c.Summary)
		// Not Subject and Matched: what the rules read of a contact, which
		// a device's wire may not carry (the plugin's did not when they
		// came); a device and the store must chain alike either way.
	}
	return b
}

func digestStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func digestBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// digestTime takes the instant only: the zero time, or seconds and
// nanoseconds, whatever the location.
func digestTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// digestHas appends whether a part is there, and reports it.
func digestHas(b *[]byte, ok bool) bool {
	*b = digestBool(*b, ok)
	return ok
}
