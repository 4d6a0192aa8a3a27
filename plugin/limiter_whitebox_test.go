package plugin

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimiterMemory fills the limiter with more addresses and devices than
// it keeps, each key as long as they come: it keeps no more than its
// bounds, in bounded memory.
func TestLimiterMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	opts := Options{Rate: 5, Burst: 20, AddressRate: 20, AddressBurst: 80, NewCustomers: 60, Now: func() time.Time { return now }}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l, err := newLimiter(&opts, nil)
	require.NoError(t, err)
	for i := range maxAddresses + 1000 {
		addr := fmt.Sprintf("2001:db8:%04x:%04x::/64", i>>16, i&0xffff)
		require.True(t, l.allowAddress(ctx, addr))
		ok, _ := l.newCustomer(ctx, addr)
		require.True(t, ok)
	}
	for i := range maxDevices + 1000 {
		require.True(t, l.allowDevice(ctx, fmt.Sprintf("%043d", i)))
	}
	for i := range maxExporters + 1000 {
		ok, _ := l.allowExport(ctx, fmt.Sprintf("%043d", i))
		require.True(t, ok)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, maxAddresses, l.addrs.Len())
	require.Equal(t, maxDevices, l.devices.Len())
	require.Equal(t, maxExporters, l.exports.Len())
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("limiter full: %d addresses, %d devices, %d exporters, %.1f MiB", l.addrs.Len(), l.devices.Len(), l.exports.Len(), float64(used)/(1<<20))
	require.Less(t, used, int64(24<<20), "the limiter's memory is bounded")
	runtime.KeepAlive(l)
}
