package plugin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/herken/herken/memory"
)

// DeviceIdentifier returns the store identifier of the device whose
// cookie holds token (signed, with whichever of the handler's secrets), or
// whose unsigned token of the release before is token, for tests that look
// into the store.
func (h *Handler) DeviceIdentifier(token string) memory.Identifier {
	random, rest, _ := strings.Cut(token, ".")
	issued, _, _ := strings.Cut(rest, ".")
	n, _ := strconv.ParseInt(issued, 36, 64)
	return h.deviceID(random, n, max(h.parseDevice(token).key, 0))
}

// ClientKey returns the key of r's client address buckets.
func (h *Handler) ClientKey(r *http.Request) string { return h.clientKey(r) }

// Buckets returns how many client addresses and devices have buckets.
func (h *Handler) Buckets() (addresses, devices int) {
	h.limits.mu.Lock()
	defer h.limits.mu.Unlock()
	return h.limits.addrs.Len(), h.limits.devices.Len()
}
