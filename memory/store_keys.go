//go:build !wasip1

package memory

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/seal"
)

// Every value of a customer (profile, history, drafts) is sealed with the
// customer's own key. The keys are kept apart from the data, in the key
// file (internal/keyfile), where destroying one overwrites it in place:
// Forget destroys the key at once, and whatever is left of the customer
// anywhere, in Badger's files until they are compacted or in backups, no
// longer opens. Badger keeps only where each key is (keyRef, under s/<id>).
// Identifiers and draft names are kept under a keyed hash, never in plain
// text, and the secret that keys the hashes is in the key file too, not
// with the data: a copy of the data alone hashes nothing. See RATIONALE.md.

// hashLen is how many bytes of the identifier hash a key keeps.
const hashLen = 20

// keyFileName is the name of the key file in the store's directory.
const keyFileName = "herken.keys"

// keyRef is the stored value of keys.KeyRef(id): which slots of the key
// file hold the customer's keys, and their generations. While the key is
// replaced (see rekey), the one before is kept too, to open what it sealed.
type keyRef struct {
	Slot   uint32 `msgpack:"s"`
	Gen    byte   `msgpack:"g,omitempty"`
	Old    uint32 `msgpack:"o,omitempty"`
	OldGen byte   `msgpack:"og,omitempty"`
}

// slots returns the slots the reference names.
func (r keyRef) slots() []uint32 {
	if r.Old != 0 {
		return []uint32{r.Slot, r.Old}
	}
	return []uint32{r.Slot}
}

// identifierKey returns the store key of a normalized identifier.
func (s *Store) identifierKey(id Identifier) []byte {
	var h identHash
	s.identHash(id.Kind, id.Value, &h)
	return keys.Identifier(string(id.Kind), h[:])
}

// identHash sets h to the keyed hash of the normalized identifier of kind
// and value that its store key ends in, without allocating.
func (s *Store) identHash(kind Kind, value string, h *identHash) {
	x := s.hashers.Get().(*identHasher)
	x.h.Reset()
	x.buf = append(append(append(x.buf[:0], kind...), 0), value...)
	x.h.Write(x.buf)
	copy(h[:], x.h.Sum(x.sum[:0]))
	if cap(x.buf) <= 1024 {
		s.hashers.Put(x)
	}
}

// identHasher is an HMAC of the store's secret with its buffers, reused
// through Store.hashers: made anew, an HMAC costs more than hashing.
type identHasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newHashers(secret []byte) *sync.Pool {
	return &sync.Pool{New: func() any { return &identHasher{h: hmac.New(sha256.New, secret)} }}
}

// draftKey returns the store key of the draft owner saved under name. The
// hash starts with a zero byte, which no identifier kind does.
func (s *Store) draftKey(owner CustomerID, name string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("\x00draft\x00"))
	m.Write([]byte(owner))
	m.Write([]byte{0})
	m.Write([]byte(name))
	return keys.Draft(string(owner), m.Sum(nil)[:hashLen])
}

// ownerOf returns the owner of a customer's keys in the key file: the 16
// bytes its ID encodes.
func ownerOf(id CustomerID) ([]byte, error) {
	b, err := idEncoding.DecodeString(string(id))
	if err != nil || len(b) != keyfile.OwnerSize || idEncoding.EncodeToString(b) != string(id) {
		return nil, invalid("customer id", "not a customer id")
	}
	return b, nil
}

// readKeyRef reads where customer id's keys are.
func readKeyRef(t kv.Txn, id CustomerID) (keyRef, error) {
	var r keyRef
	err := t.Get(keys.KeyRef(string(id)), func(b []byte) error { return codec.Unmarshal(b, &r) })
	if errors.Is(err, kv.ErrNotFound) {
		return r, fmt.Errorf("%w: customer %s", ErrNotFound, id)
	}
	return r, storeErr(err)
}

func putKeyRef(t kv.Txn, id CustomerID, r keyRef) error {
	b, err := codec.Marshal(r)
	if err != nil {
		return err
	}
	return t.Set(keys.KeyRef(string(id)), b)
}

// loadKeys reads the keys a reference names from the key file.
func (s *Store) loadKeys(id CustomerID, r keyRef) (*seal.Keys, error) {
	owner, err := ownerOf(id)
	if err != nil {
		return nil, err
	}
	cur, err := s.keyfile.Get(keyfile.Slot(r.Slot), owner)
	if err != nil {
		return nil, keyErr(id, err)
	}
	var old []byte
	if r.Old != 0 {
		if old, err = s.keyfile.Get(keyfile.Slot(r.Old), owner); err != nil {
			return nil, keyErr(id, err)
		}
	}
	k, err := seal.NewKeys(cur, r.Gen, old, r.OldGen)
	if err != nil {
		return nil, fmt.Errorf("%w: the key of customer %s: %v", ErrFormat, id, err)
	}
	return k, nil
}

func keyErr(id CustomerID, err error) error {
	switch {
	case errors.Is(err, keyfile.ErrClosed):
		return ErrClosed
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: the key file: %v", ErrDiskFull, err)
	case errors.Is(err, keyfile.ErrNoKey):
		// Seen from a transaction older than a rekey that destroyed the
		// key: a newer transaction names the new one.
		return &staleKeyError{fmt.Errorf("%w: the key of customer %s: %v", ErrFormat, id, err)}
	}
	return fmt.Errorf("%w: the key of customer %s: %v", ErrFormat, id, err)
}

// staleKeyError is a key that a transaction names and that is gone from
// the key file: destroyed after a rekey the transaction began before, or
// lost. Reads and writes try once more in a new transaction; when that fails
// too, it is ErrFormat.
type staleKeyError struct{ err error }

func (e *staleKeyError) Error() string { return e.err.Error() }
func (e *staleKeyError) Unwrap() error { return e.err }

// maxStaleRetries bounds how often a call tries again after staleKeyError.
const maxStaleRetries = 8

// keyed is the keys of one customer and the reference they were read from.
type keyed struct {
	ref  keyRef
	keys *seal.Keys
}

// keysOf returns the keys of customer id to read with in t, from the cache
// or read in t; start is the cache epoch taken before t began. Cached keys
// may be older than t, when the customer's key was replaced since: open them
// with an unsealer, which then reads the keys t names.
func (s *Store) keysOf(t kv.Txn, start uint64, id CustomerID) (*seal.Keys, error) {
	if e, ok := s.ciphers.Get(id); ok {
		return e.keys, nil
	}
	return s.keysIn(t, start, id)
}

// keysIn returns the keys that t names for customer id.
func (s *Store) keysIn(t kv.Txn, start uint64, id CustomerID) (*seal.Keys, error) {
	r, err := readKeyRef(t, id)
	if err != nil {
		return nil, err
	}
	if e, ok := s.ciphers.Get(id); ok && e.ref == r {
		return e.keys, nil
	}
	k, err := s.loadKeys(id, r)
	if err != nil {
		return nil, err
	}
	s.ciphers.Fill(id, keyed{r, k}, start)
	return k, nil
}

// unsealer opens the values of one customer in one transaction.
type unsealer struct {
	s     *Store
	t     kv.Txn
	start uint64
	id    CustomerID
	keys  *seal.Keys
	fresh bool // keys are those t names
}

func (s *Store) unsealer(t kv.Txn, start uint64, id CustomerID) (*unsealer, error) {
	k, err := s.keysOf(t, start, id)
	if err != nil {
		return nil, err
	}
	return &unsealer{s: s, t: t, start: start, id: id, keys: k}, nil
}

// open opens a value sealed for storage under where.
func (u *unsealer) open(where, sealed []byte) ([]byte, error) {
	plain, err := u.keys.Open(where, sealed)
	if err != nil && !u.fresh {
		// Cached keys, older than the value's: read those t names.
		if u.keys, err = u.s.keysIn(u.t, u.start, u.id); err != nil {
			return nil, err
		}
		u.fresh = true
		plain, err = u.keys.Open(where, sealed)
	}
	if err != nil {
		err = fmt.Errorf("%w: %s of %s: %v", ErrFormat, where, u.id, err)
		if u.fresh {
			// The keys t names do not open a value t holds: t is older
			// than a rekey that destroyed its key, and the key file gave
			// that slot out since to a later key of the same customer.
			// A newer transaction names that key; a value that still does
			// not open then is unreadable (ErrFormat).
			err = &staleKeyError{err}
		}
		return nil, err
	}
	return plain, nil
}

// open reads the value kept under where for customer id and opens it.
func (s *Store) open(t kv.Txn, start uint64, id CustomerID, where []byte, fn func(plain []byte) error) error {
	u, err := s.unsealer(t, start, id)
	if err != nil {
		return err
	}
	return t.Get(where, func(sealed []byte) error {
		plain, err := u.open(where, sealed)
		if err != nil {
			return err
		}
		return fn(plain)
	})
}

// keysFor returns the keys of customer id for a write. They are those the
// write's transaction names, so that a write that began before the key was
// replaced conflicts with the replacement, and is tried again with the new
// key.
func (w *wtx) keysFor(id CustomerID) (*seal.Keys, error) {
	if k, ok := w.ciphers[id]; ok {
		return k, nil
	}
	k, err := w.s.keysIn(w.txn, w.start, id)
	if err != nil {
		return nil, err
	}
	w.ciphers[id] = k
	return k, nil
}

// put seals plain with customer id's key and writes it under where.
func (w *wtx) put(id CustomerID, where, plain []byte) ([]byte, error) {
	k, err := w.keysFor(id)
	if err != nil {
		return nil, err
	}
	sealed := k.Seal(where, plain)
	return sealed, w.txn.Set(where, sealed)
}

// putNew is put for a key that holds nothing: the engine need not look
// for an old value to replace.
func (w *wtx) putNew(id CustomerID, where, plain []byte) error {
	k, err := w.keysFor(id)
	if err != nil {
		return err
	}
	sealed := k.Seal(where, plain)
	if len(sealed) > kv.PartSize {
		return w.txn.Set(where, sealed)
	}
	return w.txn.SetNew(where, sealed)
}

// newCustomer makes the ID and key of a new customer: a fresh key from the
// key file, already on disk, whose owner is the ID.
func (w *wtx) newCustomer() (CustomerID, error) {
	f, err := w.s.keyfile.Fresh(w.txn)
	if err != nil {
		return "", keyErr("", err)
	}
	id := CustomerID(idEncoding.EncodeToString(f.Owner))
	k, err := seal.NewKeys(f.Key, 0, nil, 0)
	if err != nil {
		return "", err
	}
	w.fresh = append(w.fresh, f)
	w.ciphers[id] = k
	return id, putKeyRef(w.txn, id, keyRef{Slot: uint32(f.Slot)})
}

// loadWrap reads the key file's wrap key, making it when the store has
// none.
func loadWrap(t kv.Txn) (wrap []byte, made bool, err error) {
	err = t.Get(keys.Wrap, func(b []byte) error {
		body, err := codec.Body(b)
		wrap = bytes.Clone(body)
		return err
	})
	switch {
	case errors.Is(err, kv.ErrNotFound):
		wrap = seal.NewKey()
		if err := t.Set(keys.Wrap, append([]byte{codec.Version}, wrap...)); err != nil {
			return nil, false, storeErr(err)
		}
		return wrap, true, nil
	case err != nil:
		return nil, false, storeErr(err)
	case len(wrap) != seal.KeySize:
		return nil, false, fmt.Errorf("%w: the key under %s has %d bytes", ErrFormat, keys.Wrap, len(wrap))
	}
	return wrap, false, nil
}

// findSecret returns the key of the identifier hashes. Store format 3 keeps
// it in the key file; format 2 and before kept it in the data (m/secret),
// where it stays until the migration to 3 has put it into the key file.
// A new store (fresh) makes it, and a restore puts the one of its keys
// backup into the new key file. Anything else without it is refused: a
// store that hashed identifiers with another secret would find nobody, and
// make everyone again.
func (s *Store) findSecret(t kv.Txn, format int, fresh bool) ([]byte, error) {
	var inData []byte
	err := t.Get(keys.Secret, func(b []byte) error {
		body, err := codec.Body(b)
		inData = bytes.Clone(body)
		return err
	})
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, storeErr(err)
	}
	if err == nil && len(inData) != seal.KeySize {
		return nil, fmt.Errorf("%w: the secret under %s has %d bytes", ErrFormat, keys.Secret, len(inData))
	}
	inFile, ok := s.keyfile.Secret()
	switch {
	case ok && inData != nil && !bytes.Equal(inFile, inData):
		return nil, fmt.Errorf("%w: the key file and the data hold different identifier secrets", ErrFormat)
	case ok:
		return inFile, nil
	case inData != nil && format < 3:
		return inData, nil
	case inData != nil:
		return nil, fmt.Errorf("%w: store format %d keeps the identifier secret in the key file, and the data holds one", ErrFormat, format)
	}
	var secret []byte
	switch {
	case s.restored != nil && s.restored.secret != nil:
		secret = s.restored.secret
	case fresh:
		secret = seal.NewKey()
	case s.opts.inMemory:
		return nil, fmt.Errorf("%w: the store lacks its identifier secret", ErrFormat)
	case s.pg != nil:
		return nil, fmt.Errorf("%w: the table herken_keys holds no identifier secret: without it no identifier finds its customer; restore the keys backup of this store", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: the key file %s holds no identifier secret: without it no identifier finds its customer; restore the key file with the directory it belongs to", ErrFormat, filepath.Join(s.opts.dir, keyFileName))
	}
	if err := s.keyfile.PutSecret(secret); err != nil {
		return nil, keyErr("", err)
	}
	return secret, nil
}

// settleKeys settles the keys that the key file holds unconfirmed, as a
// crash or the last Close left them: each is confirmed when a customer's key
// reference names it, taken back to be given out again when it is a fresh
// key that nothing names, and destroyed otherwise. Keys a purge mark names
// are left to the eraser.
func (s *Store) settleKeys() error {
	un := s.keyfile.Unconfirmed()
	if len(un) == 0 {
		return nil
	}
	t := s.db.Begin(false)
	defer t.Discard()
	marked, err := markedSlots(t)
	if err != nil {
		return err
	}
	var confirm, destroy []keyfile.Slot
	for _, u := range un {
		if marked[u.Slot] {
			continue
		}
		id := CustomerID(idEncoding.EncodeToString(u.Owner))
		ref, err := readKeyRef(t, id)
		switch {
		case err == nil && (ref.Slot == uint32(u.Slot) || ref.Old == uint32(u.Slot)):
			confirm = append(confirm, u.Slot)
		case errors.Is(err, ErrNotFound) && u.IsFresh:
			if has, err := t.Has(keys.Profile(string(id))); err != nil {
				return storeErr(err)
			} else if !has {
				s.keyfile.Adopt(u.Fresh)
				continue
			}
			destroy = append(destroy, u.Slot)
		case err == nil || errors.Is(err, ErrNotFound):
			destroy = append(destroy, u.Slot)
		default:
			return err
		}
	}
	if err := s.keyfile.Confirm(confirm...); err != nil {
		return keyErr("", err)
	}
	if err := s.keyfile.Destroy(destroy...); err != nil {
		return keyErr("", err)
	}
	s.keyfile.Release(destroy...)
	return nil
}

// collectKeys destroys the confirmed keys that no customer's key reference
// and no purge mark names: what a power loss with sync writes off can leave,
// when the key file's confirmation reached the disk and the write that named
// the key did not. It holds the lock of every destruction of keys, so that
// no slot it lists is freed and given to a new key before it decides.
func (s *Store) collectKeys() error {
	s.eraser.destroyMu.Lock()
	defer s.eraser.destroyMu.Unlock()
	type held struct {
		slot  keyfile.Slot
		owner CustomerID
	}
	var all []held
	err := s.keyfile.Each(func(sl keyfile.Slot, owner []byte, confirmed bool) error {
		if confirmed {
			all = append(all, held{sl, CustomerID(idEncoding.EncodeToString(owner))})
		}
		return nil
	})
	if err != nil {
		return keyErr("", err)
	}
	// Read after listing: a key confirmed before the listing is named by a
	// write committed before it.
	t := s.db.Begin(false)
	defer t.Discard()
	marked, err := markedSlots(t)
	if err != nil {
		return err
	}
	var lost []keyfile.Slot
	for _, h := range all {
		ref, err := readKeyRef(t, h.owner)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case ref.Slot == uint32(h.slot) || ref.Old == uint32(h.slot):
			continue
		}
		if !marked[h.slot] {
			lost = append(lost, h.slot)
		}
	}
	if err := s.keyfile.Destroy(lost...); err != nil {
		return keyErr("", err)
	}
	s.keyfile.Release(lost...)
	return nil
}

// markedSlots returns the slots that marks name to destroy: those of
// forgotten customers and those a rekey left.
func markedSlots(t kv.Txn) (map[keyfile.Slot]bool, error) {
	marks, err := readPurges(t)
	if err != nil {
		return nil, err
	}
	marked := map[keyfile.Slot]bool{}
	for _, p := range marks {
		for _, sl := range p.Slots {
			marked[keyfile.Slot(sl)] = true
		}
	}
	err = t.Scan(keys.Destroys, true, func(k, _ []byte) error {
		marked[keyfile.Slot(keys.DestroySlot(k))] = true
		return nil
	})
	return marked, storeErr(err)
}

// named is a customer and where its keys are.
type named struct {
	id  CustomerID
	ref keyRef
}

// nameKeys writes where the keys of many customers are, put in the key
// file before, in transactions of a few thousand (last, if not nil, adds
// to the last one), then confirms the keys once that is on disk.
func (s *Store) nameKeys(refs []named, last func(t kv.Txn) error) error {
	if err := s.keyfile.Sync(); err != nil {
		return keyErr("", err)
	}
	var slots []keyfile.Slot
	for _, r := range refs {
		for _, sl := range r.ref.slots() {
			slots = append(slots, keyfile.Slot(sl))
		}
	}
	for first := true; first || len(refs) > 0; first = false {
		t := s.db.Begin(true)
		n := min(len(refs), 4096)
		err := func() error {
			for _, r := range refs[:n] {
				if err := putKeyRef(t, r.id, r.ref); err != nil {
					return storeErr(err)
				}
			}
			if n == len(refs) && last != nil {
				if err := last(t); err != nil {
					return err
				}
			}
			return storeErr(t.Commit())
		}()
		t.Discard()
		if err != nil {
			return err
		}
		refs = refs[n:]
	}
	if err := s.db.Durable(); err != nil {
		return err
	}
	if err := s.keyfile.Confirm(slots...); err != nil {
		return keyErr("", err)
	}
	return nil
}
