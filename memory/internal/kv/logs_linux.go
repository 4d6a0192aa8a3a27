package kv

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync writes the file's data back to the disk, and what of its
// metadata reading the data needs (its size), not its times.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
