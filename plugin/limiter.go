package plugin

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
)

// The limiter remembers at most this many client addresses and devices,
// the least recently seen forgotten first. What one takes is bounded (a
// key of at most 48 bytes and one or two token buckets), so the limiter's
// memory is bounded too: about 19 MiB full, as TestLimiterMemory measures.
// An address forgotten and seen again starts with full buckets: on a shop
// that sees more than maxAddresses addresses within an hour, the bound on
// new customers per address holds for less than the hour. Filling the
// table with devices takes as many devices, which every address mints no
// faster than its rate bucket allows; a device forgotten is still bounded
// by its address's bucket.
const (
	maxAddresses = 1 << 15
	maxDevices   = 1 << 15
)

// limiter keeps the rate buckets of client addresses and of devices, and
// each address's bucket of new customers. It is safe for concurrent use.
//
// On a store that several processes share (PostgreSQL), the buckets are the
// store's (Store.Allow), so that a bound holds across the shop's
// instances; when the store cannot answer, the process's own buckets
// below bound the request instead.
type limiter struct {
	opts   *Options
	shared *memory.Store // nil: this process's buckets only

	mu      sync.Mutex // guards addrs, devices and exports
	addrs   *simplelru.LRU[string, *addrBuckets]
	devices *simplelru.LRU[string, *rate.Limiter]
	// exports are the devices' buckets of downloads of their export
	// (access.go), fewer than devices: a device forgotten here starts with
	// a full bucket, and each one takes a customer of its own to export.
	exports *simplelru.LRU[string, *rate.Limiter]
}

// maxExporters is how many devices' export buckets the limiter keeps.
const maxExporters = 1 << 12

// addrBuckets are one client address's buckets.
type addrBuckets struct {
	requests  *rate.Limiter
	customers *rate.Limiter // nil when new customers are not bounded
}

func newLimiter(opts *Options, shared *memory.Store) (*limiter, error) {
	l := &limiter{opts: opts, shared: shared}
	var err error
	if l.addrs, err = simplelru.NewLRU[string, *addrBuckets](maxAddresses, nil); err != nil {
		return nil, err
	}
	if l.devices, err = simplelru.NewLRU[string, *rate.Limiter](maxDevices, nil); err != nil {
		return nil, err
	}
	if l.exports, err = simplelru.NewLRU[string, *rate.Limiter](maxExporters, nil); err != nil {
		return nil, err
	}
	return l, nil
}

// address returns addr's buckets, made full if it has none.
func (l *limiter) address(addr string) *addrBuckets {
	b, ok := l.addrs.Get(addr)
	if !ok {
		b = &addrBuckets{requests: rate.NewLimiter(l.opts.AddressRate, l.opts.AddressBurst)}
		if n := l.opts.NewCustomers; n > 0 {
			b.customers = rate.NewLimiter(rate.Every(time.Hour/time.Duration(n)), n)
		}
		l.addrs.Add(addr, b)
	}
	return b
}

// fromStore takes a request from the store's bucket key, refilled at r a
// second up to burst; answered is false when the store did not answer.
func (l *limiter) fromStore(ctx context.Context, key string, r rate.Limit, burst int) (ok bool, wait time.Duration, answered bool) {
	if l.shared == nil {
		return false, 0, false
	}
	if r == rate.Inf {
		return true, 0, true
	}
	every := time.Duration(float64(time.Second) / float64(r))
	ok, wait, err := l.shared.Allow(ctx, key, max(every, time.Microsecond), burst)
	return ok, wait, err == nil
}

// allowAddress takes a request from addr's bucket.
func (l *limiter) allowAddress(ctx context.Context, addr string) bool {
	if ok, _, answered := l.fromStore(ctx, "address "+addr, l.opts.AddressRate, l.opts.AddressBurst); answered {
		return ok
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.address(addr).requests.AllowN(l.opts.Now(), 1)
}

// allowDevice takes a request from the device's bucket. Only devices whose
// tokens the handler made, or the store knows, have one.
func (l *limiter) allowDevice(ctx context.Context, device string) bool {
	if ok, _, answered := l.fromStore(ctx, "device "+device, l.opts.Rate, l.opts.Burst); answered {
		return ok
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.devices.Get(device)
	if !ok {
		b = rate.NewLimiter(l.opts.Rate, l.opts.Burst)
		l.devices.Add(device, b)
	}
	return b.AllowN(l.opts.Now(), 1)
}

// newCustomer takes a new customer from addr's bucket, or returns how long
// until the bucket has one again.
func (l *limiter) newCustomer(ctx context.Context, addr string) (bool, time.Duration) {
	n := l.opts.NewCustomers
	if n <= 0 {
		return true, 0
	}
	if ok, wait, answered := l.fromStore(ctx, "new customers "+addr, rate.Every(time.Hour/time.Duration(n)), n); answered {
		return ok, wait
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.address(addr).customers
	if b == nil {
		return true, 0
	}
	now := l.opts.Now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// allowExport takes a download of its export from the device's bucket, or
// returns how long until the bucket has one again.
func (l *limiter) allowExport(ctx context.Context, device string) (bool, time.Duration) {
	if ok, wait, answered := l.fromStore(ctx, "export "+device, rate.Every(exportEvery*time.Second), exportsBurst); answered {
		return ok, wait
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.exports.Get(device)
	if !ok {
		b = rate.NewLimiter(rate.Every(exportEvery*time.Second), exportsBurst)
		l.exports.Add(device, b)
	}
	now := l.opts.Now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
