package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fundplatform/platform/devstack/internal/proc"
)

// DevService is one service of a dev stack, as its .env file describes it.
type DevService struct {
	Name    string
	EnvFile string
	Env     map[string]string
}

// ReadEnvFile reads the NAME=value lines the dev stack writes (values
// shell-quoted as '…' with '\” for a quote).
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = strings.ReplaceAll(value[1:len(value)-1], `'\''`, `'`)
		}
		vars[name] = value
	}
	return vars, sc.Err()
}

// DevServices reads the .env files of the named services from a dev
// stack's state directory.
func DevServices(stateDir string, names []string) ([]DevService, error) {
	var out []DevService
	for _, name := range names {
		path := filepath.Join(stateDir, name+".env")
		env, err := ReadEnvFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w (is the dev stack running? `make run` writes it)", err)
		}
		if env["DATABASE_URL"] == "" {
			return nil, fmt.Errorf("%s has no DATABASE_URL", path)
		}
		out = append(out, DevService{Name: name, EnvFile: path, Env: env})
	}
	return out, nil
}

// ProcessControl stops and starts the services of a dev stack that runs in
// another process (`make run`): it finds a service by the binary it runs,
// stops it with SIGTERM, and after the restore waits for the dev stack's
// supervisor to start it again (`make run RUN_FLAGS=-restart`) or, when
// none does, starts it itself in the background from its .env file, its
// output going to StateDir/<name>.log.
type ProcessControl struct {
	StateDir string
	BinDir   string
	Services map[string]DevService
	// RestartWait is how long to wait for a supervisor's restart before
	// starting the service itself; default 3s.
	RestartWait time.Duration
	// ReadyTimeout bounds the wait for the service's /readyz; default 60s.
	ReadyTimeout time.Duration
	Logf         func(format string, args ...any)
	// Started are the pids of the processes started by Start.
	Started []int
}

func (p *ProcessControl) binary(name string) string {
	return filepath.Join(p.BinDir, name)
}

// pidsOf lists the processes whose executable is path.
func pidsOf(path string) []int {
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil
	}
	return proc.Running(func(exe string) bool { return exe == want })
}

// Stop implements Controller.
func (p *ProcessControl) Stop(ctx context.Context, name string) error {
	pids := pidsOf(p.binary(name))
	if len(pids) == 0 {
		p.logf("%s is not running (no process runs %s)", name, p.binary(name))
		return nil
	}
	for _, pid := range pids {
		p.logf("stopping %s (pid %d, SIGTERM)", name, pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for proc.Alive(pid) {
			if time.Now().After(deadline) {
				p.logf("%s (pid %d) did not stop within 30s; SIGKILL", name, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				deadline = time.Now().Add(5 * time.Second)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Start implements Controller.
func (p *ProcessControl) Start(ctx context.Context, name string) error {
	svc, ok := p.Services[name]
	if !ok {
		return fmt.Errorf("no .env file known for %s", name)
	}
	wait := p.RestartWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	deadline := time.Now().Add(wait)
	for len(pidsOf(p.binary(name))) == 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if pids := pidsOf(p.binary(name)); len(pids) > 0 {
		p.logf("%s was started again by the dev stack (pid %d)", name, pids[0])
	} else if err := p.startDetached(svc); err != nil {
		return err
	}
	return p.waitReady(ctx, svc)
}

func (p *ProcessControl) startDetached(svc DevService) error {
	logPath := filepath.Join(p.StateDir, svc.Name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(p.binary(svc.Name))
	cmd.Env = os.Environ()
	for k, v := range svc.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", svc.Name, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	p.Started = append(p.Started, pid)
	p.logf("started %s (pid %d) in the background, outside the dev stack's supervisor; its output goes to %s; stop it with: kill %d",
		svc.Name, pid, logPath, pid)
	return nil
}

func (p *ProcessControl) waitReady(ctx context.Context, svc DevService) error {
	addr := svc.Env["HTTP_ADDR"]
	if addr == "" {
		return nil
	}
	timeout := p.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + addr + "/readyz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.logf("%s is ready", svc.Name)
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v: %v", svc.Name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *ProcessControl) logf(format string, args ...any) {
	if p.Logf != nil {
		p.Logf(format, args...)
	}
}
