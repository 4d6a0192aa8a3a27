//go:build !wasip1

package memory

// Servers may run without a zone database (distroless images); the store
// carries its own. The wasm build leaves it out for size and reads contact
// hours of other zones in UTC.
import _ "time/tzdata"
