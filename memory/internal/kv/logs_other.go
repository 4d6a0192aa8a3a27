//go:build !linux && !wasip1

package kv

import "os"

// datasync writes the file back to the disk.
func datasync(f *os.File) error { return f.Sync() }
