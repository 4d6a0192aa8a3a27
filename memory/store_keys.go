//go:build !wasip1

package memory

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/seal"
)

// Every value of a customer (profile, history, drafts) is sealed with the
// customer's own key, kept under k/<id>. Forget drops the key from the
// store's files while it is still live, which Badger erases; what is left of
// the customer anywhere, in tables not yet compacted or in backups, no longer
// opens. Identifiers are kept under a keyed hash of their value, never in
// plain text. See RATIONALE.md.

// hashLen is how many bytes of the identifier hash a key keeps.
const hashLen = 20

// identifierKey returns the store key of a normalized identifier.
func (s *Store) identifierKey(id Identifier) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(id.Kind))
	m.Write([]byte{0})
	m.Write([]byte(id.Value))
	return keys.Identifier(string(id.Kind), m.Sum(nil)[:hashLen])
}

// cipherOf returns the cipher of customer id's key, from the cache or read
// in t; start is the cache epoch taken before t began.
func (s *Store) cipherOf(t *kv.Txn, start uint64, id CustomerID) (cipher.AEAD, error) {
	if c, ok := s.ciphers.Get(id); ok {
		return c, nil
	}
	var key []byte
	err := t.Get(keys.CustomerKey(string(id)), func(b []byte) error {
		body, err := codec.Body(b)
		key = bytes.Clone(body)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("%w: customer %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	c, err := seal.Cipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the key of customer %s: %v", ErrFormat, id, err)
	}
	s.ciphers.Fill(id, c, start)
	return c, nil
}

// open reads the value kept under where for customer id and opens it.
func (s *Store) open(t *kv.Txn, start uint64, id CustomerID, where []byte, fn func(plain []byte) error) error {
	c, err := s.cipherOf(t, start, id)
	if err != nil {
		return err
	}
	return t.Get(where, func(sealed []byte) error {
		plain, err := seal.Open(c, where, sealed)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFormat, where, err)
		}
		return fn(plain)
	})
}

// cipherFor returns the cipher of customer id for a write.
func (w *wtx) cipherFor(id CustomerID) (cipher.AEAD, error) {
	if c, ok := w.ciphers[id]; ok {
		return c, nil
	}
	c, err := w.s.cipherOf(w.txn, w.start, id)
	if err != nil {
		return nil, err
	}
	w.ciphers[id] = c
	return c, nil
}

// put seals plain with customer id's key and writes it under where.
func (w *wtx) put(id CustomerID, where, plain []byte) ([]byte, error) {
	c, err := w.cipherFor(id)
	if err != nil {
		return nil, err
	}
	sealed := seal.Seal(c, where, plain)
	return sealed, w.txn.Set(where, sealed)
}

// newKey makes the key of a new customer.
func (w *wtx) newKey(id CustomerID) error {
	key := seal.NewKey()
	c, err := seal.Cipher(key)
	if err != nil {
		return err
	}
	w.ciphers[id] = c
	return w.txn.Set(keys.CustomerKey(string(id)), append([]byte{codec.Version}, key...))
}

// loadSecret reads the identifier hash key, making it in a new store.
func loadSecret(t *kv.Txn) ([]byte, bool, error) {
	var secret []byte
	err := t.Get(keys.Secret, func(b []byte) error {
		body, err := codec.Body(b)
		secret = bytes.Clone(body)
		return err
	})
	switch {
	case errors.Is(err, kv.ErrNotFound):
		secret = seal.NewKey()
		return secret, true, t.Set(keys.Secret, append([]byte{codec.Version}, secret...))
	case err != nil:
		return nil, false, storeErr(err)
	case len(secret) != seal.KeySize:
		return nil, false, fmt.Errorf("%w: the identifier secret has %d bytes", ErrFormat, len(secret))
	}
	return secret, false, nil
}
