//go:build !wasip1

package memory

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"github.com/herken/herken/memory/internal/keys"
)

// MaxOnceLifetime bounds how long UseOnce keeps a nonce.
const MaxOnceLifetime = 24 * time.Hour

// maxNonce bounds the bytes of a nonce given to UseOnce.
const maxNonce = 256

// UseOnce records that nonce was used, for d, and returns ErrUsed when it
// was recorded before and that record has not expired. Of concurrent calls
// with one nonce, on any number of handlers or goroutines sharing the
// store, exactly one succeeds. Use it for what must be good once, such as
// the nonce of a signed token, with d the time left until the token
// expires. nonce holds 1 to 256 bytes, and d is positive and at most
// MaxOnceLifetime; otherwise UseOnce fails with ErrInvalidInput.
//
// The record is acknowledged like every write (see WithSyncWrites). The
// store keeps only a keyed hash of nonce, and drops the record once d has
// passed, by the machine's clock, not the one of WithClock.
func (s *Store) UseOnce(ctx context.Context, nonce string, d time.Duration) error {
	switch {
	case len(nonce) == 0 || len(nonce) > maxNonce:
		return invalid("nonce", "from 1 to 256 bytes")
	case d <= 0 || d > MaxOnceLifetime:
		return invalid("nonce lifetime", "positive and at most "+MaxOnceLifetime.String())
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("herken once\x00"))
	m.Write([]byte(nonce))
	key := keys.Used(m.Sum(nil)[:hashLen])
	return s.write(ctx, func(w *wtx) error {
		// The read makes concurrent uses conflict: one commits, the others
		// retry and find its record.
		used, err := w.txn.Has(key)
		if err != nil {
			return err
		}
		if used {
			return ErrUsed
		}
		return w.txn.SetExpiring(key, nil, d)
	})
}
