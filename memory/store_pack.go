//go:build !wasip1

package memory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// Event packs (store format 5). A customer's history is kept in packs: one
// sealed value holding consecutive events, under the key of the first
// event it held (keys.Event), so that a value's sealing, its key and what
// compression learns from the events before it are shared. A write stores
// its new events as one pack for each block of packEvents sequence numbers
// (1–32, 33–64, …) they fall in; the write that fills a block packs the
// block's events again into one, so that a history is full packs, of a
// block each, and a tail of smaller ones. (Packing the block again at every
// write keeps one pack a block, 1.4 instead of 1.5 KiB a customer in the
// bench, but took a RecordContact from 95 to 210 µs instead of 135.) A
// pack never holds events of two blocks. Stores of format 4 and before
// hold one event a key, which read as packs of one; the write that fills
// their block packs them too.
//
// Changing an event kept (an erased value, a compaction, an unmerge's
// trace) rewrites its pack whole, sealed with the customer's current key;
// the copy before it, in the files until compaction, was sealed with a key
// that the erasure marks for destruction (store_rekey.go), as a value kept
// alone was.

// packEvents is how many sequence numbers a block spans.
const packEvents = 32

// packMagic starts the plain bytes of a pack; a single event of format 4
// starts with codec.Version.
const packMagic = 'P'

// maxPackEvents bounds the events a pack claims to hold, against a corrupt
// count.
const maxPackEvents = 1 << 16

// block returns the block of sequence number seq.
func block(seq uint64) uint64 { return (seq - 1) / packEvents }

// pendEvent is an event a write appends, and its encoding (nil when it
// changed since).
type pendEvent struct {
	e Event
	b []byte
}

// encodePack encodes events, in order, as a pack.
func encodePack(events []pendEvent) ([]byte, error) {
	n := 0
	for i := range events {
		if events[i].b == nil {
			b, err := codec.Marshal(&events[i].e)
			if err != nil {
				return nil, err
			}
			events[i].b = b
		}
		n += len(events[i].b) + binary.MaxVarintLen32
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen32+n)
	out = append(out, packMagic)
	out = binary.AppendUvarint(out, uint64(len(events)))
	for _, e := range events {
		out = binary.AppendUvarint(out, uint64(len(e.b)))
		out = append(out, e.b...)
	}
	return out, nil
}

// decodeEvents calls fn with the encoding of each event a value of the
// history holds: a pack, or one event (format 4 and before).
func decodeEvents(plain []byte, fn func(b []byte) error) error {
	if len(plain) == 0 || plain[0] != packMagic {
		return fn(plain)
	}
	b := plain[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > maxPackEvents {
		return fmt.Errorf("%w: a pack of events with a bad count", ErrFormat)
	}
	b = b[k:]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return fmt.Errorf("%w: a pack of events is cut short", ErrFormat)
		}
		if err := fn(b[k : k+int(l)]); err != nil {
			return err
		}
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: a pack of events has bytes past its last event", ErrFormat)
	}
	return nil
}

// decodePack returns the events of a value of customer id's history.
func decodePack(id CustomerID, plain []byte) ([]Event, error) {
	var es []Event
	err := decodeEvents(plain, func(b []byte) error {
		var e Event
		if err := codec.Unmarshal(b, &e); err != nil {
			return storeErr(err)
		}
		e.Customer = id
		es = append(es, e)
		return nil
	})
	return es, err
}

// histEdits is what a write changes in the packs a customer has stored:
// each changed pack, by its key's sequence number, with the events it is to
// hold (none: the pack goes).
type histEdits map[uint64][]Event

// packOf returns the sequence number of the key of the pack that holds
// customer id's stored event seq, as the write's read of the history found
// it.
func (w *wtx) packOf(id CustomerID, seq uint64) (uint64, error) {
	if pk, ok := w.packs[id][seq]; ok {
		return pk, nil
	}
	if _, err := w.history(id); err != nil {
		return 0, err
	}
	if pk, ok := w.packs[id][seq]; ok {
		return pk, nil
	}
	return 0, fmt.Errorf("%w: event %d of %s is in no pack", ErrFormat, seq, id)
}

// editPack returns the events customer id's pack pk is to hold, read from
// the store the first time.
func (w *wtx) editPack(id CustomerID, pk uint64) ([]Event, error) {
	if w.edits == nil {
		w.edits = map[CustomerID]histEdits{}
	}
	ed := w.edits[id]
	if ed == nil {
		ed = histEdits{}
		w.edits[id] = ed
	}
	if es, ok := ed[pk]; ok {
		return es, nil
	}
	k, err := w.keysFor(id)
	if err != nil {
		return nil, err
	}
	u := &unsealer{s: w.s, t: w.txn, start: w.start, id: id, keys: k, fresh: true}
	where := keys.Event(string(id), pk)
	var es []Event
	err = w.txn.Get(where, func(v []byte) error {
		plain, err := u.open(where, v)
		if err != nil {
			return err
		}
		es, err = decodePack(id, plain)
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	ed[pk] = es
	return es, nil
}

// pending returns the index of customer id's event seq among the events
// this write appends, or -1.
func (w *wtx) pending(id CustomerID, seq uint64) int {
	return slices.IndexFunc(w.pend[id], func(p pendEvent) bool { return p.e.Seq == seq })
}

// putEvent keeps e in customer id's history in place of the event of its
// sequence number.
func (w *wtx) putEvent(id CustomerID, e Event) error {
	e.Customer = id
	if i := w.pending(id, e.Seq); i >= 0 {
		w.pend[id][i] = pendEvent{e: e}
		return nil
	}
	pk, err := w.packOf(id, e.Seq)
	if err != nil {
		return err
	}
	es, err := w.editPack(id, pk)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(es, func(o Event) bool { return o.Seq == e.Seq })
	if i < 0 {
		return fmt.Errorf("%w: event %d of %s is not in its pack", ErrFormat, e.Seq, id)
	}
	es[i] = e
	return nil
}

// dropEvent takes customer id's event seq out of its history.
func (w *wtx) dropEvent(id CustomerID, seq uint64) error {
	if i := w.pending(id, seq); i >= 0 {
		w.pend[id] = slices.Delete(w.pend[id], i, i+1)
		return nil
	}
	pk, err := w.packOf(id, seq)
	if err != nil {
		return err
	}
	es, err := w.editPack(id, pk)
	if err != nil {
		return err
	}
	w.edits[id][pk] = slices.DeleteFunc(es, func(o Event) bool { return o.Seq == seq })
	return nil
}

// putPack seals and stores events as customer id's pack under pk.
func (w *wtx) putPack(id CustomerID, pk uint64, events []pendEvent) error {
	b, err := encodePack(events)
	if err != nil {
		return err
	}
	_, err = w.put(id, keys.Event(string(id), pk), b)
	return err
}

// putNewPack is putPack for a pack of events that c's write appends, under
// the key of the first. A key of an event after every event stored when c
// was loaded holds nothing: sequence numbers only grow.
func (w *wtx) putNewPack(c *wcust, events []pendEvent) error {
	pk := events[0].e.Seq
	if pk <= c.loadSeq {
		return w.putPack(c.p.ID, pk, events)
	}
	b, err := encodePack(events)
	if err != nil {
		return err
	}
	return w.putNew(c.p.ID, keys.Event(string(c.p.ID), pk), b)
}

func asPend(es []Event) []pendEvent {
	out := make([]pendEvent, len(es))
	for i, e := range es {
		out[i] = pendEvent{e: e}
	}
	return out
}

// storeEvents writes what the write changed in c's history: the packs it
// edited, then its new events, as one pack for each block they fall in; a
// block they fill is packed again whole.
func (w *wtx) storeEvents(c *wcust) error {
	id := c.p.ID
	ed := w.edits[id]
	pks := make([]uint64, 0, len(ed))
	for pk := range ed {
		pks = append(pks, pk)
	}
	slices.Sort(pks)
	for _, pk := range pks {
		if len(ed[pk]) == 0 {
			if err := w.txn.Delete(keys.Event(string(id), pk)); err != nil {
				return err
			}
			continue
		}
		if err := w.putPack(id, pk, asPend(ed[pk])); err != nil {
			return err
		}
	}
	pend := w.pend[id]
	for len(pend) > 0 {
		b := block(pend[0].e.Seq)
		n := 1
		for n < len(pend) && block(pend[n].e.Seq) == b {
			n++
		}
		evs := pend[:n]
		pend = pend[n:]
		start := b*packEvents + 1
		if evs[0].e.Seq == start || evs[len(evs)-1].e.Seq != start+packEvents-1 {
			// All of the block is this write's, or the block is not full.
			if err := w.putNewPack(c, evs); err != nil {
				return err
			}
			continue
		}
		stored, err := w.blockStored(c, start, evs[0].e.Seq)
		if err != nil {
			return err
		}
		all := slices.Concat(stored, evs)
		if err := w.putPack(id, all[0].e.Seq, all); err != nil {
			return err
		}
	}
	return nil
}

// blockStored returns the events c has stored from seq start to before
// seq end, and deletes the packs that held them, for a pack of the whole
// block to replace. An event it reads from the store has only its
// encoding, and as its Seq that of the key of its pack.
func (w *wtx) blockStored(c *wcust, start, end uint64) ([]pendEvent, error) {
	id := c.p.ID
	k, err := w.keysFor(id)
	if err != nil {
		return nil, err
	}
	u := &unsealer{s: w.s, t: w.txn, start: w.start, id: id, keys: k, fresh: true}
	var out []pendEvent
	var gone [][]byte
	ed := w.edits[id]
	err = w.txn.ScanFrom(keys.Events(string(id)), keys.Event(string(id), start), func(key, v []byte) error {
		pk := keys.EventSeq(key)
		if pk >= end {
			return errStopScan
		}
		gone = append(gone, bytes.Clone(key))
		if es, ok := ed[pk]; ok {
			out = append(out, asPend(es)...)
			return nil
		}
		plain, err := u.open(key, v)
		if err != nil {
			return err
		}
		// Kept as they are: only the pack's first key is needed.
		return decodeEvents(plain, func(b []byte) error {
			out = append(out, pendEvent{e: Event{Seq: pk}, b: b})
			return nil
		})
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, storeErr(err)
	}
	for _, key := range gone {
		if err := w.txn.Delete(key); err != nil {
			return nil, err
		}
	}
	return out, nil
}
