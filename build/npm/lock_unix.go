//go:build unix

package npm

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// haveLock says lockFile really excludes other builds.
const haveLock = true

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait. flock is per open file, so goroutines of one process exclude each
// other as well as separate processes do, and the kernel drops the lock if the
// process dies: no stale lock files to clean.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(fd, syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
