//go:build !wasip1

package memory

import (
	"sync/atomic"
	"time"
)

// rebase is how long the clock briefs read follows the monotonic clock
// before it reads the wall clock again.
const rebase = time.Second

// clock is the store's clock as briefs read it: cheaply, as Unix
// nanoseconds. With the default clock (time.Now) it reads the wall clock
// once a second and the monotonic clock, which costs half as much, in
// between, so it follows a wall clock that was set within a second. The
// zero value is ready.
type clock struct{ base atomic.Pointer[clockBase] }

// clockBase is a reading of the wall clock, with its monotonic reading.
type clockBase struct {
	at   time.Time
	unix int64
}

// instant returns the store's time now as Unix nanoseconds.
func (s *Store) instant() int64 {
	if !s.opts.wallClock {
		return unixNano(s.opts.clock())
	}
	if b := s.clock.base.Load(); b != nil {
		if d := time.Since(b.at); d >= 0 && d < rebase {
			return b.unix + int64(d)
		}
	}
	b := &clockBase{at: time.Now()}
	b.unix = b.at.UnixNano()
	s.clock.base.Store(b)
	return b.unix
}
