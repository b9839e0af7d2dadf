package disk

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/parley-chat/parley"
)

// isFull reports whether err means the file system has no room: no space
// left (ENOSPC) or the owner's disk quota used up (EDQUOT).
func isFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// wrap adds context to err and, when the file system is full,
// parley.ErrStorageFull, keeping the cause in the chain for the log.
func wrap(what string, err error) error {
	if isFull(err) {
		return fmt.Errorf("%s: %w: %w", what, parley.ErrStorageFull, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
