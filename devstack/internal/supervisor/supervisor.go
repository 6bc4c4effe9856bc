// Package supervisor runs the dev stack's services as child processes and
// makes sure none outlives the stack.
//
// Every child starts in its own process group (so a Ctrl-C in the terminal
// reaches only the dev stack, which then stops the children in order) with
// the parent-death signal set to SIGTERM (so a dev stack that is killed
// outright still takes its children with it). Stop sends SIGTERM to each
// child's process group, waits, then sends SIGKILL to what is left.
//
// A child that exits on its own is reported, and either restarted after a
// delay (Options.Restart) or left stopped while the others keep running.
package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec describes one child process.
type Spec struct {
	Name string
	Path string
	Args []string
	// Env is the child's complete environment.
	Env []string
	Dir string
	// Stdout and Stderr receive the child's output (nil discards it). When
	// they are io.Closers, Close is called after each run of the child to
	// flush a last partial line; they must stay usable for the next run.
	Stdout, Stderr io.Writer
	// ExitHint is logged after the exit message when the child is not
	// restarted, e.g. how to start it by hand.
	ExitHint string
}

// Options configure a Supervisor.
type Options struct {
	// Restart restarts a child that exits on its own after RestartDelay.
	Restart      bool
	RestartDelay time.Duration // default 1s
	// Logf receives the supervisor's own messages; nil discards them.
	Logf func(format string, args ...any)
}

// Supervisor starts and stops child processes.
type Supervisor struct {
	opts Options

	mu       sync.Mutex
	stopping bool
	stopCh   chan struct{}
	procs    []*Process
	pids     []int
	wg       sync.WaitGroup

	spawnCh   chan spawnReq
	spawnDone chan struct{}
}

// Process is one supervised child (across its restarts).
type Process struct {
	Spec Spec
	s    *Supervisor

	// guarded by s.mu
	cmd     *exec.Cmd // the current run; nil while not running
	lastErr error

	done chan struct{} // closed when the child will not run again
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

// New returns a Supervisor.
func New(opts Options) *Supervisor {
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Supervisor{opts: opts, stopCh: make(chan struct{}),
		spawnCh: make(chan spawnReq), spawnDone: make(chan struct{})}
	go s.spawner()
	return s
}

// spawner starts every child from one OS thread that stays alive until the
// supervisor is stopped. The parent-death signal fires when the *thread*
// that forked the child ends, not the process; Go may otherwise fork from
// any thread, including one that ends long before the dev stack does.
func (s *Supervisor) spawner() {
	runtime.LockOSThread()
	// Not unlocked on purpose: when this goroutine returns, its thread
	// ends, which signals any child still alive (there should be none).
	defer close(s.spawnDone)
	for req := range s.spawnCh {
		req.err <- req.cmd.Start()
	}
}

func (s *Supervisor) command(spec Spec) *exec.Cmd {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// If a grandchild keeps the output pipes open, Wait gives up on them
	// shortly after the child itself has exited.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// spawn starts one run of p; the caller holds s.mu.
func (s *Supervisor) spawn(p *Process) error {
	cmd := s.command(p.Spec)
	errc := make(chan error, 1)
	s.spawnCh <- spawnReq{cmd: cmd, err: errc}
	if err := <-errc; err != nil {
		return err
	}
	p.cmd = cmd
	s.pids = append(s.pids, cmd.Process.Pid)
	return nil
}

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("supervisor: stopped")

// Start starts a child and supervises it until Stop.
func (s *Supervisor) Start(spec Spec) (*Process, error) {
	p := &Process{Spec: spec, s: s, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, ErrStopped
	}
	if err := s.spawn(p); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	s.procs = append(s.procs, p)
	s.wg.Add(1)
	go p.supervise()
	return p, nil
}

func (p *Process) supervise() {
	s := p.s
	defer s.wg.Done()
	defer close(p.done)
	for {
		s.mu.Lock()
		cmd := p.cmd
		s.mu.Unlock()
		err := cmd.Wait()
		flush(p.Spec.Stdout)
		flush(p.Spec.Stderr)
		if err == nil {
			err = errors.New("exit status 0")
		}
		s.mu.Lock()
		p.cmd, p.lastErr = nil, err
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
		s.opts.Logf("!!! %s exited: %v (pid %d)", p.Spec.Name, err, cmd.Process.Pid)
		if !s.opts.Restart {
			s.opts.Logf("!!! %s stays stopped; the rest of the stack keeps running", p.Spec.Name)
			if p.Spec.ExitHint != "" {
				s.opts.Logf("%s", p.Spec.ExitHint)
			}
			return
		}
		for {
			s.opts.Logf("restarting %s in %v", p.Spec.Name, s.opts.RestartDelay)
			select {
			case <-time.After(s.opts.RestartDelay):
			case <-s.stopCh:
				return
			}
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				return
			}
			err := s.spawn(p)
			s.mu.Unlock()
			if err == nil {
				s.opts.Logf("restarted %s (pid %d)", p.Spec.Name, p.PID())
				break
			}
			s.opts.Logf("!!! restart %s: %v", p.Spec.Name, err)
		}
	}
}

func flush(w io.Writer) {
	if c, ok := w.(io.Closer); ok {
		_ = c.Close()
	}
}

// PID is the pid of the child's current run, 0 while it is not running.
func (p *Process) PID() int {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done is closed once the child has exited and will not be restarted.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child's last run ended (nil while it runs for the first time).
func (p *Process) Err() error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.lastErr
}

// PIDs lists every child pid the supervisor has started, restarts included.
func (s *Supervisor) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.pids...)
}

// Stop stops every child: SIGTERM to each child's process group, then,
// after timeout, SIGKILL to the groups still there. It returns once every
// child has been reaped; calling it again does nothing.
func (s *Supervisor) Stop(timeout time.Duration) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.stopping = true
	close(s.stopCh)
	type running struct {
		p   *Process
		pid int
	}
	var live []running
	for _, p := range s.procs {
		if p.cmd != nil {
			live = append(live, running{p, p.cmd.Process.Pid})
		}
	}
	s.mu.Unlock()

	for _, r := range live {
		_ = syscall.Kill(-r.pid, syscall.SIGTERM)
	}
	all := make(chan struct{})
	go func() { s.wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(timeout):
		for _, r := range live {
			select {
			case <-r.p.done:
			default:
				s.opts.Logf("%s did not stop within %v; killing it", r.p.Spec.Name, timeout)
				_ = syscall.Kill(-r.pid, syscall.SIGKILL)
			}
		}
		<-all
	}
	// Whatever else is left in those groups (a child's own children that
	// ignored SIGTERM) goes too. The groups' ids are not reused while any
	// member is alive, so this reaches only our processes.
	for _, r := range live {
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	}
	close(s.spawnCh)
	<-s.spawnDone
}
