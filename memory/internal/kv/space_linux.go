package kv

import (
	"os"

	"golang.org/x/sys/unix"
)

const statfsSupported = true

// freeBytes returns the bytes of dir's file system that an unprivileged
// process may still take (f_bavail): what is left for root beyond it is
// not counted on.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// allocated returns the bytes of the file's blocks: for a sparse file, what
// was written, not its length; 0 if it is gone.
func allocated(name string) int64 {
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}
