//go:build !windows && !plan9 && !js && !wasip1 && !aix

package kv

import (
	"errors"
	"os"
	"syscall"
)

// errLocked is returned by lockDir when another process holds the lock.
var errLocked = errors.New("kv: the directory is locked by another process")

// lockDir takes the lock that Badger takes on a database directory (an
// exclusive flock on the directory; Badger's dir_unix.go), without waiting.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
