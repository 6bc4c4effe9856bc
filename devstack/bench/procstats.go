package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTick = 100

// procTimes are a process's CPU times from /proc/<pid>/stat, its own and
// those of its children it has waited for.
type procTimes struct {
	ppid     int
	own      time.Duration // utime + stime
	children time.Duration // cutime + cstime
}

// parseStat parses /proc/<pid>/stat. The command name may contain spaces
// and parentheses: the fields start after the last ')'.
func parseStat(b []byte) (procTimes, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("short stat %q", b)
	}
	var v [4]int64
	for k := range v {
		n, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return procTimes{}, err
		}
		v[k] = n
	}
	ppid, _ := strconv.Atoi(f[1])
	tick := time.Second / clockTick
	return procTimes{ppid: ppid, own: time.Duration(v[0]+v[1]) * tick, children: time.Duration(v[2]+v[3]) * tick}, nil
}

func readStat(pid int) (procTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}, err
	}
	return parseStat(b)
}

// parseStatusKiB finds a "Key:   123 kB" line of /proc/<pid>/status.
func parseStatusKiB(status []byte, key string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// peakRSS is VmHWM of pid in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	kib, ok := parseStatusKiB(b, "VmHWM")
	if !ok {
		return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return kib * 1024, nil
}

// treeCPU is the CPU time of a process and of all its children, live or
// gone (PostgreSQL: the postmaster and its backends).
func treeCPU(root int) time.Duration {
	t, err := readStat(root)
	if err != nil {
		return 0
	}
	total := t.own + t.children
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == root {
			continue
		}
		if c, err := readStat(pid); err == nil && c.ppid == root {
			total += c.own
		}
	}
	return total
}

// procUsage is one process's figures for scenario (d).
type procUsage struct {
	Name    string
	PeakRSS int64 // bytes; 0 when not measured (PostgreSQL's is mostly shared memory)
	CPU     time.Duration
	// PhaseCPU is the CPU time spent in each phase of the run, in order.
	PhaseCPU []time.Duration
}

// procWatch samples the CPU time of the processes at every phase boundary.
type procWatch struct {
	names  []string
	cpu    map[string]func() time.Duration
	rss    map[string]func() (int64, error)
	phases []string
	marks  []map[string]time.Duration
}

func newProcWatch() *procWatch {
	return &procWatch{cpu: map[string]func() time.Duration{}, rss: map[string]func() (int64, error){}}
}

// add watches a process: its CPU time, and its peak RSS when rss is not nil.
func (w *procWatch) add(name string, cpu func() time.Duration, rss func() (int64, error)) {
	w.names = append(w.names, name)
	w.cpu[name] = cpu
	if rss != nil {
		w.rss[name] = rss
	}
}

// mark ends the phase before it (named phase) with a CPU sample.
func (w *procWatch) mark(phase string) {
	m := map[string]time.Duration{}
	for _, n := range w.names {
		m[n] = w.cpu[n]()
	}
	w.phases = append(w.phases, phase)
	w.marks = append(w.marks, m)
}

// usage is every process's figures; the first mark is the start.
func (w *procWatch) usage() []procUsage {
	var out []procUsage
	for _, n := range w.names {
		u := procUsage{Name: n}
		if len(w.marks) > 0 {
			u.CPU = w.marks[len(w.marks)-1][n] - w.marks[0][n]
		}
		for i := 1; i < len(w.marks); i++ {
			u.PhaseCPU = append(u.PhaseCPU, w.marks[i][n]-w.marks[i-1][n])
		}
		if f := w.rss[n]; f != nil {
			u.PeakRSS, _ = f()
		}
		out = append(out, u)
	}
	return out
}
