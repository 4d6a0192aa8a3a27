package plugin

import (
	"net/http"

	"github.com/herken/herken/memory"
)

// DeviceIdentifier returns the store identifier of the device whose
// token's random part is device, for tests that look into the store.
func (h *Handler) DeviceIdentifier(device string) memory.Identifier { return h.deviceID(device) }

// ClientKey returns the key of r's client address buckets.
func (h *Handler) ClientKey(r *http.Request) string { return h.clientKey(r) }

// Buckets returns how many client addresses and devices have buckets.
func (h *Handler) Buckets() (addresses, devices int) {
	h.limits.mu.Lock()
	defer h.limits.mu.Unlock()
	return h.limits.addrs.Len(), h.limits.devices.Len()
}
