//go:build !wasip1

package pgkv

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/kv"
)

// Keys is the table of the customers' keys, herken_keys: what the key file
// (package keyfile) is beside Badger, with the same methods. A new
// customer's key is inserted in the transaction that writes the customer
// (Fresh), so that it is there exactly when the customer is; every other
// change is a transaction of its own, committed when the method returns.
// A key is stored XORed with a pad made from the wrap key, which the data
// keeps, and its slot and owner, as in the key file.
//
// Destroy deletes the row. PostgreSQL keeps a deleted row in the table's
// files until a VACUUM FULL rewrites them (Compact does), in its WAL until
// the segments are removed, and on standbys and in base backups for as long
// as those are kept: the store's documentation says what the operator runs
// to make erasure final.
type Keys struct {
	db *DB

	mu     sync.Mutex // guards the fields below
	wrap   []byte
	secret []byte
	slots  []keyfile.Slot // taken from the sequence, not yet used
}

// Key states, as the key file has them.
const (
	stateHeld    = 1
	stateWritten = 3
	stateSecret  = 4
)

// slotBatch is how many slots one round trip takes from the sequence.
const slotBatch = 64

// Open sets the wrap key and reads the secret.
func (k *Keys) Open(wrap []byte) error {
	var stored []byte
	err := k.db.run(func(ctx context.Context) error {
		err := k.db.side.QueryRow(ctx, `SELECT key FROM herken_keys WHERE slot = 0 AND state = $1`, stateSecret).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			stored = nil
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wrap = bytes.Clone(wrap)
	if stored != nil {
		s, err := k.unpad(0, make([]byte, keyfile.OwnerSize), stored)
		if err != nil {
			return err
		}
		k.secret = s
	}
	return nil
}

func (k *Keys) pad(s keyfile.Slot, owner []byte) []byte {
	m := hmac.New(sha256.New, k.wrap)
	m.Write([]byte("herken pg key\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(s))
	m.Write(n[:])
	m.Write(owner)
	return m.Sum(nil)
}

func (k *Keys) padded(s keyfile.Slot, owner, key []byte) []byte {
	out := k.pad(s, owner)
	for i := range out {
		out[i] ^= key[i]
	}
	return out
}

func (k *Keys) unpad(s keyfile.Slot, owner, stored []byte) ([]byte, error) {
	if len(stored) != keyfile.KeySize {
		return nil, fmt.Errorf("%w: the key in slot %d has %d bytes", keyfile.ErrCorrupt, s, len(stored))
	}
	return k.padded(s, owner, stored), nil
}

// slot takes a slot number of the sequence, never given before.
func (k *Keys) slot() (keyfile.Slot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.slots) == 0 {
		err := k.db.run(func(ctx context.Context) error {
			rows, err := k.db.side.Query(ctx, `SELECT nextval('herken_key_slots') FROM generate_series(1, $1)`, slotBatch)
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			k.slots = k.slots[:0]
			for i := len(got) - 1; i >= 0; i-- {
				k.slots = append(k.slots, keyfile.Slot(got[i]))
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	s := k.slots[len(k.slots)-1]
	k.slots = k.slots[:len(k.slots)-1]
	return s, nil
}

// Fresh returns a new random key with a new random owner in a slot of its
// own, inserted by t: it exists once t commits, and never otherwise.
func (k *Keys) Fresh(t kv.Txn) (keyfile.Fresh, error) {
	pt, ok := t.(*txn)
	if !ok {
		return keyfile.Fresh{}, fmt.Errorf("pgkv: a key for a transaction of another engine")
	}
	s, err := k.slot()
	if err != nil {
		return keyfile.Fresh{}, err
	}
	f := keyfile.Fresh{Slot: s, Owner: make([]byte, keyfile.OwnerSize), Key: make([]byte, keyfile.KeySize)}
	_, _ = rand.Read(f.Owner)
	_, _ = rand.Read(f.Key)
	k.mu.Lock()
	stored := k.padded(s, f.Owner, f.Key)
	k.mu.Unlock()
	return f, pt.put(write{sql: `INSERT INTO herken_keys (slot, state, owner, key) VALUES ($1, $2, $3, $4)`,
		arg: []any{int64(s), stateHeld, f.Owner, stored}})
}

// Return does nothing: a key from Fresh is gone with the transaction that
// did not commit.
func (k *Keys) Return(keyfile.Fresh) {}

// Adopt does nothing: Unconfirmed lists no fresh keys.
func (k *Keys) Adopt(keyfile.Fresh) {}

// Get returns the key in slot s, which must belong to owner.
func (k *Keys) Get(s keyfile.Slot, owner []byte) ([]byte, error) {
	var stored []byte
	err := k.db.run(func(ctx context.Context) error {
		err := k.db.side.QueryRow(ctx, `SELECT key FROM herken_keys WHERE slot = $1 AND owner = $2 AND state <> $3`, int64(s), owner, stateSecret).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			stored = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, fmt.Errorf("%w: slot %d", keyfile.ErrNoKey, s)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unpad(s, owner, stored)
}

// Put writes key for owner into a new slot, unconfirmed, and commits.
func (k *Keys) Put(owner, key []byte) (keyfile.Slot, error) {
	if len(owner) != keyfile.OwnerSize || len(key) != keyfile.KeySize {
		return 0, fmt.Errorf("pgkv: a key of %d bytes for an owner of %d", len(key), len(owner))
	}
	s, err := k.slot()
	if err != nil {
		return 0, err
	}
	k.mu.Lock()
	stored := k.padded(s, owner, key)
	k.mu.Unlock()
	return s, k.db.run(func(ctx context.Context) error {
		_, err := k.db.side.Exec(ctx, `INSERT INTO herken_keys (slot, state, owner, key) VALUES ($1, $2, $3, $4) ON CONFLICT (slot) DO NOTHING`,
			int64(s), stateWritten, owner, stored)
		return err
	})
}

// Secret returns the store's secret, and whether there is one.
func (k *Keys) Secret() ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return bytes.Clone(k.secret), k.secret != nil
}

// PutSecret writes the store's secret. A store holds one: when another
// instance wrote one first, PutSecret fails.
func (k *Keys) PutSecret(secret []byte) error {
	if len(secret) != keyfile.KeySize {
		return fmt.Errorf("pgkv: a secret has %d bytes", keyfile.KeySize)
	}
	k.mu.Lock()
	stored := k.padded(0, make([]byte, keyfile.OwnerSize), secret)
	k.mu.Unlock()
	var n int64
	err := k.db.run(func(ctx context.Context) error {
		tag, err := k.db.side.Exec(ctx, `INSERT INTO herken_keys (slot, state, owner, key) VALUES (0, $1, $2, $3) ON CONFLICT (slot) DO NOTHING`,
			stateSecret, make([]byte, keyfile.OwnerSize), stored)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("pgkv: the store has a secret already")
	}
	k.mu.Lock()
	k.secret = bytes.Clone(secret)
	k.mu.Unlock()
	return nil
}

// Confirm marks keys that Put wrote as held.
func (k *Keys) Confirm(slots ...keyfile.Slot) error {
	if len(slots) == 0 {
		return nil
	}
	return k.db.run(func(ctx context.Context) error {
		_, err := k.db.side.Exec(ctx, `UPDATE herken_keys SET state = $1 WHERE slot = ANY($2) AND state = $3`, stateHeld, int64s(slots), stateWritten)
		return err
	})
}

// Unconfirmed returns the keys that Put wrote and nothing confirmed: what
// an instance that stopped during a rekey left.
func (k *Keys) Unconfirmed() []keyfile.Unconfirmed {
	var out []keyfile.Unconfirmed
	_ = k.db.run(func(ctx context.Context) error {
		out = out[:0]
		rows, err := k.db.side.Query(ctx, `SELECT slot, owner FROM herken_keys WHERE state = $1 ORDER BY slot`, stateWritten)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s int64
			var owner []byte
			if err := rows.Scan(&s, &owner); err != nil {
				return err
			}
			out = append(out, keyfile.Unconfirmed{Fresh: keyfile.Fresh{Slot: keyfile.Slot(s), Owner: owner}})
		}
		return rows.Err()
	})
	return out
}

// Destroy deletes the keys in slots, never the secret's.
func (k *Keys) Destroy(slots ...keyfile.Slot) error {
	if len(slots) == 0 {
		return nil
	}
	return k.db.run(func(ctx context.Context) error {
		_, err := k.db.side.Exec(ctx, `DELETE FROM herken_keys WHERE slot = ANY($1) AND slot <> 0`, int64s(slots))
		return err
	})
}

// Release does nothing: slots are never given twice.
func (k *Keys) Release(...keyfile.Slot) {}

// Sync does nothing: every change is committed when its method returns.
func (k *Keys) Sync() error { return nil }

// Close does nothing: the engine's connections are the DB's.
func (k *Keys) Close() error { return nil }

// Each calls fn with every customer's key, in slot order.
func (k *Keys) Each(fn func(s keyfile.Slot, owner []byte, confirmed bool) error) error {
	type row struct {
		slot  int64
		owner []byte
		state int16
	}
	after := int64(0)
	for {
		var page []row
		err := k.db.run(func(ctx context.Context) error {
			page = page[:0]
			rows, err := k.db.side.Query(ctx, `SELECT slot, owner, state FROM herken_keys WHERE slot > $1 ORDER BY slot LIMIT 4096`, after)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.slot, &r.owner, &r.state); err != nil {
					return err
				}
				page = append(page, r)
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(keyfile.Slot(r.slot), r.owner, r.state == stateHeld); err != nil {
				return err
			}
		}
		if len(page) < 4096 {
			return nil
		}
		after = page[len(page)-1].slot
	}
}

func int64s(slots []keyfile.Slot) []int64 {
	out := make([]int64, len(slots))
	for i, s := range slots {
		out[i] = int64(s)
	}
	return out
}
