//go:build !wasip1

// Package keyfile keeps the customers' keys where deletion is final: in
// fixed slots of one file, each overwritten in place. Destroying a key
// writes zeros over its slot and syncs the file, so that the key is gone
// from the directory at once, with no compaction to wait for: every value
// it sealed, wherever a copy of it lies, no longer opens. (A log-structured
// engine such as Badger keeps a deleted value in its files until a
// compaction rewrites them, and a file system that copies on write, or a
// drive that remaps blocks, may keep an overwritten block; the file does
// what a file can.)
//
// A slot is 64 bytes:
//
//	[0]      its state: 0 free, 1 held, 2 fresh (made by Fresh, not yet
//	         confirmed), 3 written (by Put, not yet confirmed), 4 the
//	         store's secret (PutSecret)
//	[1:8]    a random nonce
//	[8:24]   the owner: 16 bytes, the customer's ID (zero for the secret)
//	[24:56]  the key, XORed with a pad made from the wrap key, the slot, the
//	         owner and the nonce (a wrap key kept in the store, so that the
//	         file alone opens nothing where the store is encrypted)
//	[56:60]  CRC-32C of bytes 0 to 56
//	[60:64]  zero
//
// Slot 0 is the header. One slot may hold the store's secret (the key of its
// identifier hashes), kept here rather than with the data so that a copy of
// the data alone hashes nothing: it is never given out, listed or destroyed
// as a customer's key. Writes to slots never straddle a 512-byte sector,
// so a torn write damages only the slot written.
//
// A key is confirmed (Confirm) once whatever refers to it is durable
// elsewhere. A crash may leave keys unconfirmed; Open lists them
// (Unconfirmed), so that the caller settles each: confirms it, takes a fresh
// one back (Adopt), or destroys it. A File kept in memory
// (Open with an empty path) holds its slots in a map.
package keyfile

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// The states of a slot.
const (
	stateFree    = 0
	stateHeld    = 1
	stateFresh   = 2
	stateWritten = 3
	stateSecret  = 4
)

const (
	// SlotSize is the size of one slot.
	SlotSize = 64
	// OwnerSize is the size of an owner.
	OwnerSize = 16
	// KeySize is the size of a key.
	KeySize = 32
)

var magic = []byte("herken keys 1\n")

var (
	// ErrCorrupt is returned for a slot or a file that does not read as
	// written.
	ErrCorrupt = errors.New("keyfile: damaged")
	// ErrNoKey is returned for a slot that holds no key of the owner
	// asked for: it was destroyed, or never held it.
	ErrNoKey = errors.New("keyfile: no such key")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("keyfile: closed")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Slot is the number of a slot.
type Slot uint32

// File is a file of keys. It is safe for concurrent use.
type File struct {
	mu   sync.Mutex // guards the fields below
	f    *os.File   // nil in memory
	mem  map[Slot][SlotSize]byte
	free []Slot // free slots, highest first
	next Slot   // the first slot past the end of the file
	// unconfirmed are the slots that Open found fresh or written
	unconfirmed []Unconfirmed
	dirty       bool // written since the last sync
	closed      bool
	wrap        []byte
	secret      []byte // the store's secret, or nil
	secretSlot  Slot   // the slot that holds secret, or 0

	syncMu sync.Mutex // one sync at a time; holders of a later sync wait

	secretMu sync.Mutex // one PutSecret at a time

	poolMu sync.Mutex // guards pool, and makes one batch at a time
	pool   []Fresh    // keys put and synced, not yet given out
}

// Unconfirmed is a slot that a crash or a Close left unconfirmed.
type Unconfirmed struct {
	Fresh
	// IsFresh is true for a key that Fresh made, with an owner of its own
	// that nobody else has; false for one that Put wrote for its owner.
	IsFresh bool
}

// Fresh is a new key in its own slot, on disk, with a new random owner.
type Fresh struct {
	Slot  Slot
	Owner []byte
	Key   []byte
}

// freshBatch is how many keys Fresh makes at once, with one sync.
const freshBatch = 128

// Open opens or creates the file at path; an empty path keeps the keys in
// memory. wrap is the key that pads the keys in the file.
func Open(path string, wrap []byte) (*File, error) {
	k := &File{wrap: bytes.Clone(wrap), next: 1}
	if path == "" {
		k.mem = map[Slot][SlotSize]byte{}
		return k, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	k.f = f
	if err := k.load(path); err != nil {
		f.Close()
		return nil, err
	}
	return k, nil
}

// load reads the header and finds the free slots, or writes the header of a
// new file.
func (k *File) load(path string) error {
	fi, err := k.f.Stat()
	if err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	if fi.Size() == 0 {
		head := make([]byte, SlotSize)
		copy(head, magic)
		if _, err := k.f.WriteAt(head, 0); err != nil {
			return fmt.Errorf("keyfile: %w", err)
		}
		if err := k.f.Sync(); err != nil {
			return fmt.Errorf("keyfile: %w", err)
		}
		return syncDir(filepath.Dir(path))
	}
	// A crash may leave a slot half written at the end: whole slots count.
	n := Slot(fi.Size() / SlotSize)
	head := make([]byte, SlotSize)
	if _, err := k.f.ReadAt(head, 0); err != nil || !bytes.HasPrefix(head, magic) {
		return fmt.Errorf("%w: %s is not a key file", ErrCorrupt, path)
	}
	buf := make([]byte, 1024*SlotSize)
	for at := Slot(1); at < n; {
		count := min(Slot(len(buf)/SlotSize), n-at)
		b := buf[:int(count)*SlotSize]
		if _, err := k.f.ReadAt(b, int64(at)*SlotSize); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("keyfile: %w", err)
		}
		for i := range count {
			slot := b[int(i)*SlotSize : int(i+1)*SlotSize]
			switch slot[0] {
			case stateFree:
				k.free = append(k.free, at+i)
			case stateSecret:
				secret, err := k.unpad(at+i, slot)
				if err != nil {
					// A torn write of a secret that was never synced:
					// PutSecret had not returned.
					k.free = append(k.free, at+i)
					continue
				}
				if k.secretSlot != 0 {
					return fmt.Errorf("%w: %s holds two secrets, in slots %d and %d", ErrCorrupt, path, k.secretSlot, at+i)
				}
				k.secret, k.secretSlot = secret, at+i
			case stateFresh, stateWritten:
				key, err := k.unpad(at+i, slot)
				if err != nil {
					// A torn write of a key that was never confirmed.
					k.free = append(k.free, at+i)
					continue
				}
				k.unconfirmed = append(k.unconfirmed, Unconfirmed{
					Fresh:   Fresh{Slot: at + i, Owner: bytes.Clone(slot[8:24]), Key: key},
					IsFresh: slot[0] == stateFresh,
				})
			}
		}
		at += count
	}
	slices.Reverse(k.free)
	k.next = n
	return nil
}

// Close closes the file. Keys that Fresh made and did not give out stay
// fresh: the next Open lists them as unconfirmed. It is safe to call more
// than once.
func (k *File) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if k.f == nil {
		return nil
	}
	return k.f.Close()
}

// Put writes key for owner into a free slot and returns the slot. The key
// is on disk once Sync returns; Confirm it once what refers to it is.
func (k *File) Put(owner []byte, key []byte) (Slot, error) {
	return k.put(stateWritten, owner, key)
}

func (k *File) put(state byte, owner, key []byte) (Slot, error) {
	if len(owner) != OwnerSize || len(key) != KeySize {
		return 0, fmt.Errorf("keyfile: an owner has %d bytes and a key %d", OwnerSize, KeySize)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, ErrClosed
	}
	var s Slot
	if n := len(k.free); n > 0 {
		s, k.free = k.free[n-1], k.free[:n-1]
	} else {
		s = k.next
		k.next++
	}
	var b [SlotSize]byte
	b[0] = state
	_, _ = rand.Read(b[1:8])
	copy(b[8:24], owner)
	pad := k.pad(s, b[1:24])
	for i := range KeySize {
		b[24+i] = key[i] ^ pad[i]
	}
	binary.BigEndian.PutUint32(b[56:60], crc32.Checksum(b[:56], castagnoli))
	if err := k.writeLocked(s, b); err != nil {
		k.free = append(k.free, s)
		return 0, err
	}
	return s, nil
}

// Fresh returns a new random key, with a new random owner, in a slot of
// its own and already on disk: the key of a new customer, whose ID is the
// owner. Keys are made and synced in batches, so that a new customer costs
// no sync of its own. Confirm one once it is used, and give one that was
// not used back with Return.
func (k *File) Fresh() (Fresh, error) {
	k.poolMu.Lock()
	defer k.poolMu.Unlock()
	if len(k.pool) == 0 {
		batch := make([]Fresh, 0, freshBatch)
		for range freshBatch {
			f := Fresh{Owner: make([]byte, OwnerSize), Key: make([]byte, KeySize)}
			_, _ = rand.Read(f.Owner)
			_, _ = rand.Read(f.Key)
			var err error
			if f.Slot, err = k.put(stateFresh, f.Owner, f.Key); err != nil {
				return Fresh{}, err
			}
			batch = append(batch, f)
		}
		if err := k.Sync(); err != nil {
			return Fresh{}, err
		}
		slices.Reverse(batch)
		k.pool = batch
	}
	f := k.pool[len(k.pool)-1]
	k.pool = k.pool[:len(k.pool)-1]
	return f, nil
}

// Return gives back a key from Fresh that was not used.
func (k *File) Return(f Fresh) {
	k.poolMu.Lock()
	defer k.poolMu.Unlock()
	k.pool = append(k.pool, f)
}

// Get returns the key in slot s, which must belong to owner.
func (k *File) Get(s Slot, owner []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	b, err := k.readLocked(s)
	if err != nil {
		return nil, err
	}
	if b[0] == stateFree || b[0] == stateSecret || !bytes.Equal(b[8:24], owner) {
		return nil, fmt.Errorf("%w: slot %d", ErrNoKey, s)
	}
	return k.unpad(s, b[:])
}

// Secret returns the secret PutSecret wrote, and whether there is one.
func (k *File) Secret() ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return bytes.Clone(k.secret), k.secret != nil
}

// PutSecret writes the store's secret into a slot of its own and syncs the
// file: when it returns, the secret is on disk. A file holds one secret;
// PutSecret fails on a file that holds one already.
func (k *File) PutSecret(secret []byte) error {
	if len(secret) != KeySize {
		return fmt.Errorf("keyfile: a secret has %d bytes", KeySize)
	}
	k.secretMu.Lock()
	defer k.secretMu.Unlock()
	k.mu.Lock()
	if k.secret != nil {
		k.mu.Unlock()
		return errors.New("keyfile: the file holds a secret already")
	}
	k.mu.Unlock()
	s, err := k.put(stateSecret, make([]byte, OwnerSize), secret)
	if err != nil {
		return err
	}
	if err := k.Sync(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.secret, k.secretSlot = bytes.Clone(secret), s
	return nil
}

// unpad checks slot s, as read, and returns its key.
func (k *File) unpad(s Slot, b []byte) ([]byte, error) {
	if binary.BigEndian.Uint32(b[56:60]) != crc32.Checksum(b[:56], castagnoli) {
		return nil, fmt.Errorf("%w: slot %d", ErrCorrupt, s)
	}
	pad := k.pad(s, b[1:24])
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = b[24+i] ^ pad[i]
	}
	return key, nil
}

// Confirm marks keys as held: what refers to them is durable. A confirmed
// key is never listed by Unconfirmed. It need not be synced: a crash before
// the write reaches the disk lists the key again.
func (k *File) Confirm(slots ...Slot) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	for _, s := range slots {
		b, err := k.readLocked(s)
		if err != nil {
			return err
		}
		if b[0] != stateFresh && b[0] != stateWritten {
			continue
		}
		b[0] = stateHeld
		binary.BigEndian.PutUint32(b[56:60], crc32.Checksum(b[:56], castagnoli))
		if err := k.writeLocked(s, b); err != nil {
			return err
		}
	}
	return nil
}

// Unconfirmed returns the slots that Open found unconfirmed. Settle each:
// Confirm it, Adopt a fresh one that nothing refers to, or Destroy it.
func (k *File) Unconfirmed() []Unconfirmed {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.unconfirmed)
}

// Adopt takes back a fresh key that Open found unconfirmed and nothing
// refers to, to be given out by Fresh again.
func (k *File) Adopt(f Fresh) { k.Return(f) }

// Destroy writes zeros over the slots and syncs the file: when it returns,
// their keys are gone from it. It leaves the secret's slot alone. The slots stay taken until Release: a caller
// that records, durably, which slots it must destroy releases them once
// that record is gone, so that a slot given to a new key is never destroyed
// again by a stale record.
func (k *File) Destroy(slots ...Slot) error {
	if len(slots) == 0 {
		return nil
	}
	k.mu.Lock()
	for _, s := range slots {
		if s == 0 || s >= k.next || s == k.secretSlot {
			continue
		}
		if err := k.writeLocked(s, [SlotSize]byte{}); err != nil {
			k.mu.Unlock()
			return err
		}
	}
	k.mu.Unlock()
	return k.Sync()
}

// Release makes destroyed slots free for new keys.
func (k *File) Release(slots ...Slot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range slots {
		if s != 0 && s < k.next && s != k.secretSlot && !slices.Contains(k.free, s) {
			k.free = append(k.free, s)
		}
	}
}

// Sync returns once everything written before the call is on disk.
// Concurrent calls share one flush.
func (k *File) Sync() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return ErrClosed
	}
	if k.f == nil || !k.dirty {
		k.mu.Unlock()
		return nil
	}
	k.mu.Unlock()
	k.syncMu.Lock()
	defer k.syncMu.Unlock()
	k.mu.Lock()
	dirty := k.dirty
	k.dirty = false
	k.mu.Unlock()
	if !dirty {
		return nil // a sync that began after our write has finished
	}
	if err := k.f.Sync(); err != nil {
		k.mu.Lock()
		k.dirty = true
		k.mu.Unlock()
		return fmt.Errorf("keyfile: sync: %w", err)
	}
	return nil
}

// Each calls fn with every slot that holds a customer's key (not the
// secret), its owner, and whether the key is confirmed, in order. Slots written meanwhile may or may not be
// seen.
func (k *File) Each(fn func(s Slot, owner []byte, confirmed bool) error) error {
	const chunk = 1024
	buf := make([]byte, chunk*SlotSize)
	for at := Slot(1); ; at += chunk {
		k.mu.Lock()
		if k.closed {
			k.mu.Unlock()
			return ErrClosed
		}
		n := int(min(chunk, max(k.next, at)-at))
		b := buf[:n*SlotSize]
		var err error
		if k.f == nil {
			for i := range n {
				slot := k.mem[at+Slot(i)]
				copy(b[i*SlotSize:], slot[:])
			}
		} else if _, err = k.f.ReadAt(b, int64(at)*SlotSize); errors.Is(err, io.EOF) {
			err = nil
		}
		k.mu.Unlock()
		if err != nil {
			return fmt.Errorf("keyfile: %w", err)
		}
		for i := range n {
			if slot := b[i*SlotSize : (i+1)*SlotSize]; slot[0] != stateFree && slot[0] != stateSecret {
				if err := fn(at+Slot(i), slot[8:24], slot[0] == stateHeld); err != nil {
					return err
				}
			}
		}
		if n < chunk {
			return nil
		}
	}
}

// Size returns how many bytes the file takes.
func (k *File) Size() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return int64(k.next) * SlotSize
}

func (k *File) readLocked(s Slot) ([SlotSize]byte, error) {
	var b [SlotSize]byte
	if s == 0 || s >= k.next {
		return b, fmt.Errorf("%w: slot %d", ErrNoKey, s)
	}
	if k.f == nil {
		return k.mem[s], nil
	}
	if _, err := k.f.ReadAt(b[:], int64(s)*SlotSize); err != nil {
		if errors.Is(err, io.EOF) {
			return b, fmt.Errorf("%w: slot %d", ErrNoKey, s)
		}
		return b, fmt.Errorf("keyfile: %w", err)
	}
	return b, nil
}

func (k *File) writeLocked(s Slot, b [SlotSize]byte) error {
	if k.f == nil {
		if b[0] == stateFree {
			delete(k.mem, s)
		} else {
			k.mem[s] = b
		}
		return nil
	}
	if _, err := k.f.WriteAt(b[:], int64(s)*SlotSize); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	k.dirty = true
	return nil
}

// pad returns the bytes a key is XORed with in slot s, whose nonce and
// owner are head.
func (k *File) pad(s Slot, head []byte) []byte {
	m := hmac.New(sha256.New, k.wrap)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(s))
	m.Write(n[:])
	m.Write(head)
	return m.Sum(nil)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keyfile: sync %s: %w", dir, err)
	}
	return nil
}
