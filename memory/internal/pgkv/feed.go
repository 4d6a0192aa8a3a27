//go:build !wasip1

package pgkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The change feed. Every write transaction of the store sends a logical
// decoding message with prefix FeedPrefix (Announce), which PostgreSQL
// decodes from its WAL in commit order for every process that follows it:
// through a temporary logical replication slot of the process's own, with
// the pgoutput plugin, which PostgreSQL 14 and later ship. A temporary slot
// goes with its connection, so a process that stops leaves nothing behind.
//
// Logical decoding was chosen over LISTEN/NOTIFY: NOTIFY takes a lock of the
// whole database while a notifying transaction commits, which with
// synchronous standbys makes every write wait for the one before it, and
// notifications missed while a listener reconnects are gone without a
// trace. A slot's stream is gapless while its connection lives; when it
// breaks, the follower knows, and starts again from a clean cache.
//
// Freshness is measured, not assumed: every Beat the follower commits a
// message of its own (beatPrefix). A beat seen on the stream proves that
// every commit acknowledged before the beat was sent has been delivered;
// and once the beat's own commit returned, which waits for the synchronous
// standbys, everything decoded before it is on them too: only then are the
// changes before it released to the store (Release).

// silence is how long a stream may bring back none of the follower's beats
// before the follower gives it up and makes a new one.
const silence = 5 * time.Second

// FeedPrefix is the prefix of the store's change messages.
const FeedPrefix = "herken"

const beatPrefix = "herken.beat"

// publication is the (empty) publication that pgoutput requires; it names
// no table: the feed carries messages only.
const publication = "herken_feed"

// Announce adds the change message body to the transaction t: it is sent to
// every follower when t commits.
func Announce(t any, body []byte) error {
	pt, ok := t.(*txn)
	if !ok {
		return fmt.Errorf("pgkv: a change for a transaction of another engine")
	}
	return pt.put(write{sql: `SELECT pg_logical_emit_message(true, '` + FeedPrefix + `', $1::bytea)`, arg: []any{body}})
}

// FeedOptions configures Follow.
type FeedOptions struct {
	// Change is called with the body of every change message, in commit
	// order, from one goroutine, as soon as it is decoded; Release with
	// the bodies up to a proven point once they are durable.
	Change  func(body []byte)
	Release func(bodies [][]byte)
	// Fresh is called after each beat the feed saw, with the time the
	// beat was sent: every commit acknowledged before then was passed to
	// Change.
	Fresh func(at time.Time)
	// Lost is called when the stream broke: what was committed from then
	// until the next Fresh may never reach Change. The feed reconnects.
	Lost func(err error)
	// Beat is how often the follower proves its freshness; 0 is 25 ms.
	Beat   time.Duration
	Logger *slog.Logger
}

// Feed follows the store's change messages. Close stops it.
type Feed struct {
	db   *DB
	opts FeedOptions
	stop context.CancelFunc
	done chan struct{}

	sessions int // numbers the slots

	mu    sync.Mutex
	beats map[uint64]*beat // sent, by number
	next  uint64
}

// beat is one proof of freshness in flight.
type beat struct {
	sent      time.Time
	committed chan struct{} // closed once its commit returned
	err       error         // the commit's failure, set before committed closes
}

// Follow starts following the store's changes, and returns once the first
// slot exists (or fails, when none could be made within the engine's
// bound).
func (d *DB) Follow(o FeedOptions) (*Feed, error) {
	if o.Beat <= 0 {
		o.Beat = 25 * time.Millisecond
	}
	f := &Feed{db: d, opts: o, done: make(chan struct{}), beats: map[uint64]*beat{}}
	ctx, cancel := context.WithCancel(d.ctx)
	f.stop = cancel
	first := make(chan error, 1)
	go f.run(ctx, first)
	select {
	case err := <-first:
		if err != nil {
			cancel()
			<-f.done
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	go f.beat(ctx)
	return f, nil
}

// Close stops the feed and waits for it.
func (f *Feed) Close() {
	f.stop()
	<-f.done
}

// run keeps a stream going: one session after another, as each breaks.
func (f *Feed) run(ctx context.Context, first chan<- error) {
	defer close(f.done)
	deadline := time.Now().Add(f.db.opts.Unavailable)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := f.session(ctx, func() {
			if first != nil {
				first <- nil
				first = nil
			}
			attempt = 0
		})
		if ctx.Err() != nil {
			break
		}
		if first != nil && time.Now().After(deadline) {
			first <- fmt.Errorf("%w: the change feed: %v", ErrUnavailable, err)
			return
		}
		if first == nil {
			f.opts.Lost(err)
		}
		f.db.pause(attempt)
	}
	if first != nil {
		first <- ctx.Err()
	}
}

// session makes a temporary slot and reads its stream until it breaks;
// started is called once the stream runs.
func (f *Feed) session(ctx context.Context, started func()) error {
	cfg := f.db.pool.Config().ConnConfig.Config.Copy()
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = "herken feed"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	f.sessions++
	slot := fmt.Sprintf("herken_%s_%d", hex.EncodeToString(f.db.id[:8]), f.sessions)
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, SnapshotAction: "NOEXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		return fmt.Errorf("create the feed's slot: %w", err)
	}
	start, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return err
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + publication + "'", "messages 'true'"}})
	if err != nil {
		return fmt.Errorf("start the feed: %w", err)
	}
	defer func() {
		if ctx.Err() == nil {
			return
		}
		// Closed: the slot goes before Close returns, not whenever the
		// server notices the connection gone, so that the database can be
		// dropped at once.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := pglogrepl.SendStandbyCopyDone(cctx, conn); err == nil {
			_ = pglogrepl.DropReplicationSlot(cctx, conn, slot, pglogrepl.DropReplicationSlotOptions{Wait: true})
		}
	}()
	started()
	var held [][]byte // changes decoded, not yet proven durable
	done := start
	status := time.Now()
	proof := time.Now() // of the last beat seen
	for {
		if time.Since(proof) > silence {
			// A server that hung keeps its connections open and sends
			// nothing: the beats, sent to whichever server takes writes,
			// no longer come back here.
			return fmt.Errorf("no beat came back for %v", silence)
		}
		if time.Since(status) > time.Second {
			// Lets the server recycle what the slot no longer needs.
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: done}); err != nil {
				return err
			}
			status = time.Now()
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		msg, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				continue
			}
			return err
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(m)
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return err
			}
			if k.ReplyRequested {
				status = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(data[1:])
			if err != nil {
				return err
			}
			m, err := pglogrepl.Parse(x.WALData)
			if err != nil {
				continue // a message the feed does not use
			}
			if c, ok := m.(*pglogrepl.CommitMessage); ok {
				done = max(done, c.TransactionEndLSN)
				continue
			}
			ldm, ok := m.(*pglogrepl.LogicalDecodingMessage)
			if !ok {
				continue
			}
			switch ldm.Prefix {
			case FeedPrefix:
				body := bytes.Clone(ldm.Content)
				f.opts.Change(body)
				held = append(held, body)
			case beatPrefix:
				b, ok := f.ownBeat(ldm.Content)
				if !ok {
					continue
				}
				select {
				case <-b.committed:
				case <-ctx.Done():
					return ctx.Err()
				}
				if b.err != nil {
					// Seen, so committed, but perhaps not yet on the
					// standbys: the next beat proves it.
					continue
				}
				if len(held) > 0 {
					f.opts.Release(held)
					held = nil
				}
				f.opts.Fresh(b.sent)
				proof = time.Now()
				// Confirms what was read at once, so that the slot holds
				// no WAL back for long (see Finalize).
				status = time.Time{}
			}
		}
	}
}

// ownBeat returns the beat of this process that content names.
func (f *Feed) ownBeat(content []byte) (*beat, bool) {
	if len(content) != 16+8 || !bytes.Equal(content[:16], f.db.id[:]) {
		return nil, false
	}
	n := binary.BigEndian.Uint64(content[16:])
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.beats[n]
	if ok {
		delete(f.beats, n)
	}
	// Beats before it were lost with a stream that broke.
	for m := range f.beats {
		if m < n {
			delete(f.beats, m)
		}
	}
	return b, ok
}

// beat commits a beat every Beat, waiting for each commit.
func (f *Feed) beat(ctx context.Context) {
	t := time.NewTicker(f.opts.Beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		f.next++
		n := f.next
		b := &beat{sent: time.Now(), committed: make(chan struct{})}
		f.beats[n] = b
		if len(f.beats) > 1024 {
			// No stream has seen these: drop the oldest.
			for m := range f.beats {
				if m+1024 < n {
					delete(f.beats, m)
				}
			}
		}
		f.mu.Unlock()
		content := binary.BigEndian.AppendUint64(bytes.Clone(f.db.id[:]), n)
		// A beat that takes longer proves nothing in time; the next one
		// goes to whichever server takes writes by then.
		cctx, cancel := context.WithTimeout(ctx, silence/2)
		_, b.err = f.db.side.Exec(cctx, `SELECT pg_logical_emit_message(true, '`+beatPrefix+`', $1::bytea)`, content)
		cancel()
		if b.err != nil && errors.Is(b.err, context.Canceled) {
			close(b.committed)
			return
		}
		close(b.committed)
	}
}
