//go:build !unix

package build

import "os"

// isMountPoint: without a portable device number, an output directory is
// renamed as a whole (the usual case off Unix).
var isMountPoint = func(string) bool { return false }

func processAlive(pid int) bool {
	_, err := os.FindProcess(pid)
	return err == nil
}
