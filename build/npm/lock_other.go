//go:build !unix

package npm

import "context"

const haveLock = false

// lockFile is a no-op where flock is missing. Concurrent builds may then both
// download, but each writes its own temp entry and renames it into place
// whole, so neither ever reads a half-written tree.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}
