package publish

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// thisMachine names the space this process's PIDs belong to: the host name,
// the kernel's boot id and the PID namespace, so that two containers that
// share a host name are never taken for one machine. "" where /proc does not
// tell (not Linux): claims are then judged by their lease alone.
var thisMachine = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return host + "/" + strings.TrimSpace(string(boot)) + "/" + ns
})

// procStat reads a process's start time (in clock ticks since boot) and
// state from /proc; ok is false when there is no such process.
func procStat(pid int) (start string, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return "", 0, false
	}
	return f[19], f[0][0], true // fields 3 (state) and 22 (starttime) of proc(5)
}
