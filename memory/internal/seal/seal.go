//go:build !wasip1

// Package seal encrypts a customer's stored values with the customer's own
// key: AES-256-GCM, each value bound to the store key it is kept under and
// to the generation of the key that sealed it. Destroying a customer's key
// makes every copy of what it sealed unreadable: the live files, what
// compaction has not yet rewritten, and backups. A customer's key is
// replaced by a new generation when something of theirs must be erased
// while they stay: their live values are sealed again with the new key, and
// the old one is destroyed.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// KeySize is the size of a customer key.
const KeySize = 32

// A sealed value starts with its version. Version 1, [1][nonce][sealed],
// is bound to where it is kept and was sealed by generation 0. Version 2,
// [2][generation][nonce][sealed], is bound to its generation and where.
// Version 3 is version 2 of the value compressed (compress.go), bound to its
// version too; Seal writes it where compression makes the value shorter,
// and version 2 where it does not.
const (
	version1 = 1
	version2 = 2
	version3 = 3
)

// ErrOpen is returned for a value that does not open with the keys: it was
// sealed with another key, under another store key, or changed.
var ErrOpen = errors.New("seal: value does not open")

// NewKey returns a new random customer key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

func aead(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, errors.New("seal: a customer key has 32 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Keys seals and opens the values of one customer. The current key seals;
// while the customer's key is being replaced, the one before it still opens
// what it sealed. Keys is safe for concurrent use.
type Keys struct {
	cur, old    cipher.AEAD
	gen, oldGen byte
}

// NewKeys returns the keys of a customer whose current key, of generation
// gen, is cur; old, of generation oldGen, is nil unless the key is being
// replaced.
func NewKeys(cur []byte, gen byte, old []byte, oldGen byte) (*Keys, error) {
	c, err := aead(cur)
	if err != nil {
		return nil, err
	}
	k := &Keys{cur: c, gen: gen}
	if old != nil {
		if gen == oldGen {
			return nil, errors.New("seal: two keys of one generation")
		}
		if k.old, err = aead(old); err != nil {
			return nil, err
		}
		k.oldGen = oldGen
	}
	return k, nil
}

// Gen returns the generation of the current key.
func (k *Keys) Gen() byte { return k.gen }

// Seal encrypts plain with the current key for storage under where.
func (k *Keys) Seal(where, plain []byte) []byte {
	c := k.cur
	n := c.NonceSize()
	if small, ok := compress(make([]byte, 0, len(plain)), plain); ok {
		out := make([]byte, 2+n, 2+n+len(small)+c.Overhead())
		out[0], out[1] = version3, k.gen
		_, _ = rand.Read(out[2 : 2+n])
		return c.Seal(out, out[2:2+n], small, ad3(k.gen, where))
	}
	out := make([]byte, 2+n, 2+n+len(plain)+c.Overhead())
	out[0], out[1] = version2, k.gen
	_, _ = rand.Read(out[2 : 2+n])
	return c.Seal(out, out[2:2+n], plain, ad(k.gen, where))
}

// Open decrypts a value sealed for storage under where.
func (k *Keys) Open(where, sealed []byte) ([]byte, error) {
	gen, body, ok := split(sealed)
	if !ok {
		return nil, ErrOpen
	}
	var c cipher.AEAD
	switch {
	case gen == k.gen:
		c = k.cur
	case k.old != nil && gen == k.oldGen:
		c = k.old
	default:
		return nil, ErrOpen
	}
	n := c.NonceSize()
	if len(body) < n+c.Overhead() {
		return nil, ErrOpen
	}
	data := where
	switch sealed[0] {
	case version2:
		data = ad(gen, where)
	case version3:
		data = ad3(gen, where)
	}
	plain, err := c.Open(nil, body[:n], body[n:], data)
	if err != nil {
		return nil, ErrOpen
	}
	if sealed[0] == version3 {
		if plain, err = decompress(plain); err != nil {
			return nil, ErrOpen
		}
	}
	return plain, nil
}

// Gen returns the generation of the key that sealed a value.
func Gen(sealed []byte) (byte, bool) {
	gen, _, ok := split(sealed)
	return gen, ok
}

// split returns the generation of a sealed value and what follows its
// header.
func split(sealed []byte) (byte, []byte, bool) {
	switch {
	case len(sealed) >= 1 && sealed[0] == version1:
		return 0, sealed[1:], true
	case len(sealed) >= 2 && (sealed[0] == version2 || sealed[0] == version3):
		return sealed[1], sealed[2:], true
	}
	return 0, nil, false
}

func ad(gen byte, where []byte) []byte {
	b := make([]byte, 0, 1+len(where))
	return append(append(b, gen), where...)
}

// ad3 is what a value of version 3 is bound to: its version, generation
// and where it is kept.
func ad3(gen byte, where []byte) []byte {
	b := make([]byte, 0, 2+len(where))
	return append(append(b, version3, gen), where...)
}

// SealVersion1 seals plain as format 1 of the store did, for tests of data
// it wrote.
func SealVersion1(key, where, plain []byte) ([]byte, error) {
	c, err := aead(key)
	if err != nil {
		return nil, err
	}
	n := c.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plain)+c.Overhead())
	out[0] = version1
	_, _ = rand.Read(out[1 : 1+n])
	return c.Seal(out, out[1:1+n], plain, where), nil
}
