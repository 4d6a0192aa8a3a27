//go:build !wasip1

package memory

import (
	"errors"
	"fmt"

	"github.com/herken/herken/memory/internal/kv"
)

// diskFull translates the engine's refusal for want of space, keeping what
// it says about free and needed bytes.
func diskFull(err error) error {
	var e *kv.DiskFullError
	if errors.As(err, &e) {
		return fmt.Errorf("%w: %s", ErrDiskFull, e.Detail())
	}
	return fmt.Errorf("%w: %v", ErrDiskFull, err)
}
