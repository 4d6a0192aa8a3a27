//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"sync"
)

// watchQueue is how many events a watcher may fall behind before it fails
// with ErrLagged.
const watchQueue = 1 << 14

// Watcher delivers the events committed after Watch returned it, in commit
// order for each customer. It is safe for concurrent use, but events are
// shared out among concurrent Next calls, not copied to each.
//
// Writes never wait for a watcher: one that falls more than 16384 events
// behind fails with ErrLagged; read History to catch up and watch again.
type Watcher struct {
	s     *Store
	kinds map[EventKind]bool // nil: all
	stop  func() bool        // stops the context watch

	mu     sync.Mutex // guards the fields below
	queue  []Event
	head   int
	lagged bool
	err    error         // set once the watcher is finished
	wake   chan struct{} // capacity 1; signals new events or an end
}

// Watch starts a watcher of the events committed from now on; with kinds,
// only of those kinds. It ends when ctx is done, when Close is called, or
// when the store closes. A forgotten customer's EventForgotten carries the
// Receipt and nothing else.
func (s *Store) Watch(ctx context.Context, kinds ...EventKind) (*Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &Watcher{s: s, wake: make(chan struct{}, 1)}
	if len(kinds) > 0 {
		w.kinds = map[EventKind]bool{}
		for _, k := range kinds {
			w.kinds[k] = true
		}
	}
	s.watchMu.Lock()
	if s.closed.Load() {
		s.watchMu.Unlock()
		return nil, ErrClosed
	}
	s.watchers[w] = struct{}{}
	s.watchMu.Unlock()
	w.stop = context.AfterFunc(ctx, func() { w.end(ctx.Err()) })
	return w, nil
}

// Next returns the next event, waiting until there is one or ctx is done.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	for {
		w.mu.Lock()
		if w.head < len(w.queue) {
			e := w.queue[w.head]
			w.queue[w.head] = Event{}
			w.head++
			if w.head == len(w.queue) {
				w.queue, w.head = w.queue[:0], 0
			}
			w.mu.Unlock()
			return e, nil
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-w.wake:
		}
	}
}

// Close stops the watcher; Next then returns ErrClosed. It is idempotent.
func (w *Watcher) Close() error {
	w.end(ErrClosed)
	return nil
}

// end finishes the watcher with err, unless it already finished. Events
// already queued are still delivered, except after lagging.
func (w *Watcher) end(err error) {
	w.s.watchMu.Lock()
	delete(w.s.watchers, w)
	w.s.watchMu.Unlock()
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	if w.stop != nil {
		w.stop()
	}
	w.signal()
}

func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// publish hands committed events to the watchers without waiting for them.
func (s *Store) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers {
		w.mu.Lock()
		n := 0
		for i := range events {
			if w.kinds != nil && !w.kinds[events[i].Kind] {
				continue
			}
			if len(w.queue)-w.head >= watchQueue {
				w.lagged = true
				w.queue, w.head = nil, 0
				w.err = fmt.Errorf("%w: more than %d events behind", ErrLagged, watchQueue)
				delete(s.watchers, w)
				break
			}
			w.queue = append(w.queue, events[i])
			n++
		}
		w.mu.Unlock()
		if n > 0 || w.lagged {
			w.signal()
		}
	}
}

// closeWatchers ends every watcher with ErrClosed.
func (s *Store) closeWatchers() {
	s.watchMu.Lock()
	ws := make([]*Watcher, 0, len(s.watchers))
	for w := range s.watchers {
		ws = append(ws, w)
	}
	s.watchMu.Unlock()
	for _, w := range ws {
		w.end(ErrClosed)
	}
}
