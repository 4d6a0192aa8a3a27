//go:build !linux && !wasip1

package kv

import "errors"

// Elsewhere the free-space guard is off: Badger still writes through its
// maps, and a full disk can still end the process there.
const statfsSupported = false

func freeBytes(string) (int64, error) { return 0, errors.ErrUnsupported }

func allocated(string) int64 { return 0 }
