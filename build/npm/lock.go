package npm

import "context"

// LockFile takes the exclusive lock on path that guards this package's
// cache entries, for other caches kept beside them (build's precompressed
// variants). unlock releases it.
func LockFile(ctx context.Context, path string) (unlock func(), err error) {
	return lockFile(ctx, path)
}
