//go:build !wasip1

// Package seal encrypts a customer's stored values with the customer's own
// key: AES-256-GCM, each value bound to the store key it is kept under.
// Destroying a customer's key makes every copy of their values unreadable:
// the live files, what compaction has not yet rewritten, and backups.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// KeySize is the size of a customer key.
const KeySize = 32

// version is the first byte of a sealed value.
const version = 1

// ErrOpen is returned for a value that does not open with the key: it was
// sealed with another key, under another store key, or changed.
var ErrOpen = errors.New("seal: value does not open")

// NewKey returns a new random customer key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

// Cipher returns the AEAD of a customer key. It is safe for concurrent use.
func Cipher(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, errors.New("seal: a customer key has 32 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plain for storage under where.
func Seal(c cipher.AEAD, where, plain []byte) []byte {
	out := make([]byte, 1+c.NonceSize(), 1+c.NonceSize()+len(plain)+c.Overhead())
	out[0] = version
	_, _ = rand.Read(out[1 : 1+c.NonceSize()])
	return c.Seal(out, out[1:1+c.NonceSize()], plain, where)
}

// Open decrypts a value sealed for storage under where.
func Open(c cipher.AEAD, where, sealed []byte) ([]byte, error) {
	n := c.NonceSize()
	if len(sealed) < 1+n+c.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := c.Open(nil, sealed[1:1+n], sealed[1+n:], where)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
