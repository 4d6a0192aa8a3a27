//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// TestDataBackupAloneRevealsNobody plays an attacker who holds only the
// data stream of a backup taken before a customer was forgotten (no keys
// stream, no key file), and who knows the customer's email, phone number,
// customer ID and the name of a draft they saved. The data stream must not
// let them confirm the email or brute-force the phone: the identifier
// hashes are keyed with a secret that is not in the stream, so no 32 bytes
// of it, taken as the secret, hash the email or the phone to a key the
// stream holds. The draft's name is in no key and nowhere in the stream's
// bytes. Restored with no keys stream of its own (a keys stream lacking
// the secret, or one of another store), it opens nothing of anyone.
// (The data stream held the secret under m/secret, and draft names in
// their keys: the email was confirmed against the customer ID, and a phone
// number brute-forced at about 685,000 guesses a second.)
func TestDataBackupAloneRevealsNobody(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()).WithDefaultRegion("NL"))
	require.NoError(t, err)
	defer s.Close()
	const (
		email = "jan.devries@example.com"
		phone = "+31612345678"
		draft = "order-for-jan-de-vries"
	)
	r, err := s.Recognize(ctx, Email(email).AsVerified(), Phone("06 1234 5678"))
	require.NoError(t, err)
	jan := r.Customer
	require.NoError(t, s.SaveDraft(ctx, jan, draft, []byte("two lamps")))
	for _, other := range []string{"ada@example.com", "grace@example.com"} {
		o, err := s.Recognize(ctx, Email(other))
		require.NoError(t, err)
		require.NoError(t, s.SaveDraft(ctx, o.Customer, "cart", []byte("a book")))
	}
	var data, keysStream bytes.Buffer
	require.NoError(t, s.Backup(ctx, &data, &keysStream))
	_, err = s.Forget(ctx, jan)
	require.NoError(t, err)
	stream := data.Bytes()

	// What the attacker reads: every key and value of the stream, loaded
	// into an engine of their own.
	db, err := kv.Open(kv.Options{InMemory: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Load(bytes.NewReader(stream[len(backupMagic)+2:])))
	held := map[string]bool{}
	txn := db.Begin(false)
	require.NoError(t, txn.Scan(nil, true, func(k, _ []byte) error {
		held[string(k)] = true
		return nil
	}))
	txn.Discard()

	// The attack is sound: the stream does hold the customer's hashed
	// identifiers, which the store's own secret finds.
	attack := func(secret []byte) (byEmail, byPhone bool) {
		h := func(kind Kind, value string) bool {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(kind))
			m.Write([]byte{0})
			m.Write([]byte(value))
			return held[string(keys.Identifier(string(kind), m.Sum(nil)[:hashLen]))]
		}
		return h(KindEmail, email), h(KindPhone, phone)
	}
	e, p := attack(s.secret)
	require.True(t, e && p, "with the store's secret, the stream confirms the email and the phone: the attack would work")
	require.Contains(t, string(stream), string(jan), "the attacker finds the customer ID")

	require.False(t, bytes.Contains(stream, s.secret), "the identifier secret is in the data stream")
	for i := 0; i+len(s.secret) <= len(stream); i++ {
		e, p := attack(stream[i : i+len(s.secret)])
		require.False(t, e, "32 bytes at offset %d of the data stream hash the email to a key the stream holds", i)
		require.False(t, p, "32 bytes at offset %d of the data stream hash the phone to a key the stream holds", i)
	}
	for _, plain := range []string{email, phone, "612345678", draft} {
		require.NotContains(t, string(stream), plain, "the data stream holds %q in plain text", plain)
	}
	for k := range held {
		require.NotContains(t, k, draft, "a key holds the draft's name")
	}

	// Restored with no keys stream of its own, it opens nothing.
	_, err = Restore(ctx, InMemoryOptions(), bytes.NewReader(stream), bytes.NewReader(keysStream.Bytes()[:len(backupMagic)+2]))
	require.ErrorIs(t, err, ErrInvalidInput, "a keys stream without the secret is refused")
	damaged := bytes.Clone(keysStream.Bytes())
	damaged[len(backupMagic)+2] ^= 1
	_, err = Restore(ctx, InMemoryOptions(), bytes.NewReader(stream), bytes.NewReader(damaged))
	require.ErrorIs(t, err, ErrInvalidInput, "a keys stream whose secret is damaged is refused")
	mine, err := Open(ctx, InMemoryOptions())
	require.NoError(t, err)
	defer mine.Close()
	var mineData, mineKeys bytes.Buffer
	require.NoError(t, mine.Backup(ctx, &mineData, &mineKeys))
	got, err := Restore(ctx, InMemoryOptions(), bytes.NewReader(stream), bytes.NewReader(mineKeys.Bytes()))
	require.NoError(t, err)
	defer got.Close()
	require.NoError(t, got.Check(ctx))
	for _, id := range []Identifier{Email(email), Phone(phone), Email("ada@example.com")} {
		_, err := got.Lookup(ctx, id)
		require.ErrorIs(t, err, ErrNotFound, "%s", id)
	}
	_, err = got.Export(ctx, jan)
	require.ErrorIs(t, err, ErrNotFound)
}
