// Package proc reads the Linux process table (/proc, proc(5)): whether a
// process lives, and which processes run a given executable. The dev
// stack's backup tool and the tests of the supervisor, the stack and the
// end-to-end suite ask these questions of the processes they start.
package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Alive reports whether pid is a live process: a process that is gone, or
// a zombie (exited, not yet reaped), is not.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')', as comm may hold
	// spaces and parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// Running lists the live processes whose executable (the target of
// /proc/<pid>/exe) satisfies match.
func Running(match func(exe string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && match(exe) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
