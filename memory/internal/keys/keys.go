// Package keys lays out the store's keys.
//
// All keys of one customer share a prefix, so that a customer is read,
// listed and erased with prefix scans. No key holds personal data: a key
// names a customer by its random ID, and what the customer chose or told
// (an identifier, a draft's name) only as a keyed hash, under a secret kept
// in the key file and never with the data. Each key, and what its value
// holds (sealed: with the customer's key):
//
//	c/<id>/p          the profile, sealed: the projection a brief reads
//	c/<id>/w/<h>      a draft's data, sealed (h: a keyed hash of the customer and the draft's name; the name is in the profile)
//	c/<id>/h          the state the history's compacted events left, sealed
//	e/<id>/<seq>      events of the customer's history from seq on, sealed: a pack of those of one block of sequence numbers (store format 5), or one event (format 4 and before); seq is big-endian
//	i/<kind>\x00<h>   an identifier (kind: email, phone, account, device or a kind the application named; h: a keyed hash of its value): the customer it points at, whether verified, the last change a device synced
//	s/<id>            where the customer's keys are kept in the key file: slots and generations
//	r/<receipt>       a forget receipt: the customer ID, when, and counts of what was erased
//	x/<id>            a forget that has started and not finished: its receipt and the slots to destroy
//	y/<id>            a customer whose key is to be replaced (values of theirs were erased)
//	z/<slot>          a key of the key file to destroy; slot is big-endian
//	t/<when><id>      a fact of the customer expires then; when is Unix seconds, big-endian
//	T/<id>            when the customer's one entry under t/ is
//	q/<when><id>      the work queue: a customer with an open issue or with two negative outcomes; when is the newest contact's Unix nanoseconds, inverted and big-endian, so that the newest sort first; the value: how many issues are open, whether one is escalated, when the newest negative outcomes were
//	Q/<id>            the customer's one entry under q/: its value again, with its time
//	m/wrap            the key that pads the keys in the key file (opens nothing without that file)
//	u/<h>             a nonce used once (h: a keyed hash of it), until it expires; see Store.UseOnce
//	m/format          the store's format version, alone
//	m/manifest        the store's layout: format version, layout, key hash
//	m/compact         a migration deleted old keys that the files still hold: Open compacts them
//	\xff<key><n>      part n of the value of key, when it is longer than a part (internal/kv)
//	\xfec             empty: a key Compact writes and drops at once (internal/kv)
//
// and, in older formats only, which their migrations take out:
//
//	c/<id>/d/<name>   a draft under its name in plain text (store format 2 and before)
//	m/secret          the key of the identifier hashes (store format 2 and before)
//	k/<id>            the customer's key itself (store format 1)
//
// Customer identifiers are fixed-length, so no prefix of one customer is the
// prefix of another.
package keys

import "encoding/binary"

// Format is the key of the store's format version, alone: what releases
// before the manifest read.
var Format = []byte("m/format")

// Manifest is the key of the store's manifest.
var Manifest = []byte("m/manifest")

// Customer is the prefix of every key under c/ of customer id.
func Customer(id string) []byte { return join("c/", id, "/") }

// Profile is the key of a customer's profile.
func Profile(id string) []byte { return join("c/", id, "/p") }

// Drafts is the prefix of a customer's drafts.
func Drafts(id string) []byte { return join("c/", id, "/w/") }

// Checkpoint is the key of the state that customer id's compacted events
// left: the start of a replay of its history.
func Checkpoint(id string) []byte { return join("c/", id, "/h") }

// Draft is the key of one draft, whose name hashes to hash.
func Draft(id string, hash []byte) []byte { return join("c/", id, "/w/", string(hash)) }

// NamedDrafts is the prefix of a customer's drafts in store format 2 and
// before, which kept them under their names.
func NamedDrafts(id string) []byte { return join("c/", id, "/d/") }

// NamedDraft is the key of a draft in store format 2 and before.
func NamedDraft(id, name string) []byte { return join("c/", id, "/d/", name) }

// Events is the prefix of a customer's history.
func Events(id string) []byte { return join("e/", id, "/") }

// Event is the key of the pack of a customer's events whose first is seq
// (in store format 4 and before, of event seq alone).
func Event(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(Events(id), seq)
}

// EventSeq returns the sequence number of an event key.
func EventSeq(key []byte) uint64 {
	if len(key) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(key[len(key)-8:])
}

// Identifier is the key of an identifier of kind whose value hashes to hash.
func Identifier(kind string, hash []byte) []byte { return join("i/", kind, "\x00", string(hash)) }

// Identifiers is the prefix of all identifiers.
var Identifiers = []byte("i/")

// CustomerKey is the key of a customer's key in store format 1.
func CustomerKey(id string) []byte { return join("k/", id) }

// CustomerKeys is the prefix of all customer keys in store format 1.
var CustomerKeys = []byte("k/")

// KeyRef is the key of where a customer's keys are kept.
func KeyRef(id string) []byte { return join("s/", id) }

// KeyRefs is the prefix of every customer's KeyRef.
var KeyRefs = []byte("s/")

// Wrap is the key of the key that pads the keys in the key file.
var Wrap = []byte("m/wrap")

// Secret is the key of the secret that keys the identifier hashes in store
// format 2 and before; format 3 keeps it in the key file.
var Secret = []byte("m/secret")

// CompactDue is the key that marks a compaction a migration owes: it
// deleted keys that must leave the files.
var CompactDue = []byte("m/compact")

// Receipts is the prefix of forget receipts.
var Receipts = []byte("r/")

// Receipt is the key of one forget receipt.
func Receipt(id string) []byte { return join("r/", id) }

// Pending is the prefix of unfinished forgets.
var Pending = []byte("x/")

// PendingForget is the key marking an unfinished forget of a customer.
func PendingForget(id string) []byte { return join("x/", id) }

// Rekeys is the prefix of the customers whose key is to be replaced.
var Rekeys = []byte("y/")

// Rekey is the key marking that customer id's key is to be replaced.
func Rekey(id string) []byte { return join("y/", id) }

// Destroys is the prefix of the keys of the key file to destroy.
var Destroys = []byte("z/")

// Destroy is the key marking that slot of the key file is to be destroyed.
func Destroy(slot uint32) []byte { return binary.BigEndian.AppendUint32(join("z/"), slot) }

// DestroySlot returns the slot a Destroy key names.
func DestroySlot(key []byte) uint32 {
	if len(key) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(key[len(key)-4:])
}

// Used is the key of a nonce used once, whose keyed hash is hash.
func Used(hash []byte) []byte { return join("u/", string(hash)) }

// Expiries is the prefix of the expiry index.
var Expiries = []byte("t/")

// Expiry is the key noting that a fact of customer id expires at unix
// seconds: the index sorts by time.
func Expiry(unix int64, id string) []byte {
	return append(binary.BigEndian.AppendUint64(join("t/"), uint64(max(unix, 0))), id...)
}

// NextExpiry is the key of when customer id's one entry in the expiry index
// is.
func NextExpiry(id string) []byte { return join("T/", id) }

// ExpiryUpTo is the first key past every expiry at or before unix seconds.
func ExpiryUpTo(unix int64) []byte {
	return binary.BigEndian.AppendUint64(join("t/"), uint64(max(unix, 0))+1)
}

// ExpiryOf returns the time and customer an Expiry key names.
func ExpiryOf(key []byte) (int64, string) {
	if len(key) < len("t/")+8 {
		return 0, ""
	}
	return int64(binary.BigEndian.Uint64(key[2:10])), string(key[10:])
}

// Queue is the prefix of the work queue.
var Queue = []byte("q/")

// QueueEntry is the key of customer id in the work queue, whose newest
// contact was at unix nanoseconds: the index sorts newest first.
func QueueEntry(unixNano int64, id string) []byte {
	return append(QueueAt(unixNano), id...)
}

// QueueAt is the first key of the work queue at or before unix nanoseconds:
// every entry from it on is of that time or older.
func QueueAt(unixNano int64) []byte {
	return binary.BigEndian.AppendUint64(join("q/"), ^uint64(max(unixNano, 0)))
}

// QueueOf returns the time and customer a QueueEntry key names.
func QueueOf(key []byte) (int64, string) {
	if len(key) < len("q/")+8 {
		return 0, ""
	}
	return int64(^binary.BigEndian.Uint64(key[2:10])), string(key[10:])
}

// Queued is the key of customer id's one entry in the work queue.
func Queued(id string) []byte { return join("Q/", id) }

// QueuedAll is the prefix of every Queued key.
var QueuedAll = []byte("Q/")

func join(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n+8)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
