//go:build !wasip1

package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// TestPackDecodeRefusesCorrupt: a pack whose count or lengths do not match
// its bytes is an error, never events made up or a panic.
func TestPackDecodeRefusesCorrupt(t *testing.T) {
	e1 := Event{Seq: 1, Kind: EventCreated}
	e2 := Event{Seq: 2, Kind: EventContactRecorded, Contact: &Contact{Summary: "hello"}}
	good, err := encodePack([]pendEvent{{e: e1}, {e: e2}})
	require.NoError(t, err)
	es, err := decodePack("x", good)
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, "hello", es[1].Contact.Summary)

	single, err := codec.Marshal(&e1)
	require.NoError(t, err)
	es, err = decodePack("x", single)
	require.NoError(t, err, "an event alone (format 4) is a pack of one")
	require.Len(t, es, 1)

	bad := map[string][]byte{
		"no count":         {packMagic},
		"count zero":       {packMagic, 0},
		"count too large":  binary.AppendUvarint([]byte{packMagic}, maxPackEvents+1),
		"more than it has": binary.AppendUvarint(append([]byte{packMagic, 3}, good[2:]...), 0),
		"cut short":        good[:len(good)-3],
		"trailing bytes":   append(append([]byte{}, good...), 1, 2, 3),
		"length overflows": binary.AppendUvarint([]byte{packMagic, 1}, 1<<62),
		"bad event":        {packMagic, 1, 2, 0xff, 0xff},
	}
	for name, b := range bad {
		_, err := decodePack("x", b)
		require.Error(t, err, name)
	}
}

// FuzzPackDecode: no bytes make the pack decoder panic.
func FuzzPackDecode(f *testing.F) {
	good, _ := encodePack([]pendEvent{{e: Event{Seq: 1, Kind: EventCreated}}})
	f.Add(good)
	f.Add([]byte{packMagic, 2, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodePack("x", b)
	})
}

// TestHistoryIsPacked: one event a write, a history is kept as a pack for
// each full block and the tail's writes, and an erased value leaves the
// pack that held it.
func TestHistoryIsPacked(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	defer s.Close()
	r, err := s.Recognize(ctx, Email("packed@example.com"))
	require.NoError(t, err)
	id := r.Customer
	require.NoError(t, s.Remember(ctx, id, Fact{Key: "size", Value: "XXL-secret"}))
	for i := range 70 {
		_, err := s.RecordContact(ctx, id, Contact{Channel: ChannelChat, Summary: fmt.Sprintf("c%d", i)})
		require.NoError(t, err)
	}
	require.NoError(t, s.ForgetFact(ctx, id, "size"))
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	n := 0
	tx := s.db.Begin(false)
	defer tx.Discard()
	require.NoError(t, tx.Scan(keys.Events(string(id)), false, func(k, v []byte) error {
		n++
		u, err := s.unsealer(tx, s.epoch.Now(), id)
		require.NoError(t, err)
		plain, err := u.open(k, v)
		require.NoError(t, err)
		require.NotContains(t, string(plain), "XXL-secret", "the erased value left its pack")
		return nil
	}))
	events := uint64(len(h))
	full := events / packEvents
	require.Equal(t, int(full+events%packEvents), n, "%d events: a pack a full block, one a write after", events)
}
