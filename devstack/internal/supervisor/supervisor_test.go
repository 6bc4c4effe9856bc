package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/internal/proc"
	"github.com/fundplatform/platform/libs/testkit"
)

func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for proc.Alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d is still alive", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func sh(name, script string, out *testkit.SyncBuffer) Spec {
	return Spec{Name: name, Path: "/bin/sh", Args: []string{"-c", script}, Env: os.Environ(), Stdout: out, Stderr: out}
}

// grandchildPID reads "grandchild <pid>" from out.
func grandchildPID(t *testing.T, out *testkit.SyncBuffer) int {
	t.Helper()
	var pid int
	testkit.Eventually(t, 10*time.Second, "grandchild pid", func() bool {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "grandchild" {
				pid, _ = strconv.Atoi(f[1])
				return true
			}
		}
		return false
	})
	return pid
}

func TestStopTerminatesChildrenAndTheirGroups(t *testing.T) {
	var out testkit.SyncBuffer
	var logs testkit.SyncBuffer
	s := New(Options{Logf: func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }})
	// A child with a grandchild in its process group that ignores SIGTERM.
	p, err := s.Start(sh("svc", `sh -c 'trap "" TERM; exec sleep 300' & echo grandchild $!; echo to-stderr >&2; wait`, &out))
	if err != nil {
		t.Fatal(err)
	}
	grand := grandchildPID(t, &out)
	testkit.Eventually(t, 10*time.Second, "stderr line", func() bool { return strings.Contains(out.String(), "to-stderr\n") })

	start := time.Now()
	s.Stop(5 * time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Stop took %v for children that obey SIGTERM", d)
	}
	waitGone(t, append(s.PIDs(), grand), 2*time.Second)
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if strings.Contains(logs.String(), "exited") {
		t.Fatalf("a stop on request was reported as a crash: %s", logs.String())
	}
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	var out testkit.SyncBuffer
	s := New(Options{})
	_, err := s.Start(sh("stubborn", `trap "" TERM; echo ready; while :; do sleep 0.1; done`, &out))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "child ready", func() bool { return strings.Contains(out.String(), "ready") })
	start := time.Now()
	s.Stop(500 * time.Millisecond)
	d := time.Since(start)
	if d < 500*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Stop took %v; want the 500ms grace period, then SIGKILL", d)
	}
	waitGone(t, s.PIDs(), 2*time.Second)
}

func TestChildExitIsReportedAndOthersKeepRunning(t *testing.T) {
	var out, logs testkit.SyncBuffer
	s := New(Options{Logf: func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }})
	defer s.Stop(5 * time.Second)
	crash := sh("crasher", `exit 3`, &out)
	crash.ExitHint = "run it again by hand: ./crasher"
	pc, err := s.Start(crash)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := s.Start(sh("longrun", `exec sleep 300`, &out))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-pc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("crasher not reported done")
	}
	if err := pc.Err(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Err = %v", err)
	}
	l := logs.String()
	if !strings.Contains(l, "crasher exited: exit status 3") || !strings.Contains(l, "run it again by hand") {
		t.Fatalf("exit not logged loudly: %q", l)
	}
	time.Sleep(200 * time.Millisecond)
	if pl.PID() == 0 || !proc.Alive(pl.PID()) {
		t.Fatal("the other child stopped too")
	}
	if pc.PID() != 0 {
		t.Fatal("crasher restarted without Restart")
	}
}

func TestRestartAfterCrash(t *testing.T) {
	var out testkit.SyncBuffer
	s := New(Options{Restart: true, RestartDelay: 100 * time.Millisecond})
	p, err := s.Start(sh("flaky", `echo started; exec sleep 300`, &out))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "first start", func() bool { return strings.Contains(out.String(), "started") })
	first := p.PID()
	syscall.Kill(first, syscall.SIGKILL) // a developer kills it by hand
	testkit.Eventually(t, 10*time.Second, "restart", func() bool { pid := p.PID(); return pid != 0 && pid != first })
	testkit.Eventually(t, 10*time.Second, "second start", func() bool { return strings.Count(out.String(), "started") == 2 })
	s.Stop(5 * time.Second)
	if pids := s.PIDs(); len(pids) != 2 {
		t.Fatalf("PIDs = %v, want two runs", pids)
	}
	waitGone(t, s.PIDs(), 2*time.Second)
	if _, err := s.Start(sh("late", "true", &out)); err != ErrStopped {
		t.Fatalf("Start after Stop: %v", err)
	}
}

// TestChildrenDieWithTheParent kills a supervising process outright
// (SIGKILL, no chance to clean up) and checks its child goes too.
func TestChildrenDieWithTheParent(t *testing.T) {
	if os.Getenv("SUPERVISOR_TEST_PARENT") == "1" {
		s := New(Options{})
		p, err := s.Start(Spec{Name: "orphan", Path: "/bin/sleep", Args: []string{"300"}})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("child", p.PID())
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildrenDieWithTheParent$")
	cmd.Env = append(os.Environ(), "SUPERVISOR_TEST_PARENT=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	child := 0
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "child" {
			child, _ = strconv.Atoi(f[1])
			break
		}
	}
	if child == 0 {
		t.Fatal("helper did not report its child")
	}
	if !proc.Alive(child) {
		t.Fatal("child not running")
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, []int{child}, 5*time.Second)
}
