package plugin

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
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
type limiter struct {
	opts *Options

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

func newLimiter(opts *Options) (*limiter, error) {
	l := &limiter{opts: opts}
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

// allowAddress takes a request from addr's bucket.
func (l *limiter) allowAddress(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.address(addr).requests.AllowN(l.opts.Now(), 1)
}

// allowDevice takes a request from the device's bucket. Only devices whose
// tokens the handler made, or the store knows, have one.
func (l *limiter) allowDevice(device string) bool {
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
func (l *limiter) newCustomer(addr string) (bool, time.Duration) {
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
func (l *limiter) allowExport(device string) (bool, time.Duration) {
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
