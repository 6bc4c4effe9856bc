package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"
)

// Service returns what the stack knows about one started service.
func (s *Stack) Service(name string) (ServiceInfo, bool) {
	for _, svc := range s.ready.Services {
		if svc.Name == name {
			return svc, true
		}
	}
	return ServiceInfo{}, false
}

// Replica finds a process of a service by its name ("profit", "profit-2").
func (s *Stack) Replica(name string) (Replica, bool) {
	for _, svc := range s.ready.Services {
		for _, r := range svc.Replicas {
			if r.Name == name {
				return r, true
			}
		}
	}
	return Replica{}, false
}

// TerminateService sends SIGTERM to a service process's group, as
// Kubernetes does to a pod it replaces, and returns its pid: the service
// drains (readiness 503, then in-flight requests finish) and exits. With
// Config.Restart the supervisor starts it again; ServicePID then answers
// the new pid.
func (s *Stack) TerminateService(name string) (int, error) {
	pid := s.ServicePID(name)
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", name)
	}
	s.logf("stopping %s (pid %d) with SIGTERM", name, pid)
	return pid, syscall.Kill(-pid, syscall.SIGTERM)
}

// processes are the process names name stands for: every replica of a
// service when name is a service's, else the one replica it names.
func (s *Stack) processes(name string) []string {
	if info, ok := s.Service(name); ok && len(info.Replicas) > 0 {
		var names []string
		for _, r := range info.Replicas {
			names = append(names, r.Name)
		}
		return names
	}
	return []string{name}
}

// StopService stops a service on purpose — every replica of it, or one
// replica when name is a replica's ("profit-2") — with SIGTERM to each
// process group (SIGKILL after StopTimeout), and returns once they have
// exited; they stay stopped until StartService. It needs a stack without
// Config.Restart, whose supervisor would start them again at once. Not
// safe to call concurrently with ServicePID, KillService or StartService.
func (s *Stack) StopService(ctx context.Context, name string) error {
	for _, p := range s.processes(name) {
		if err := s.stopProcess(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) stopProcess(ctx context.Context, name string) error {
	if s.cfg.Restart {
		return errors.New("StopService needs a stack without Restart: its supervisor would start the service again")
	}
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	pid := p.PID()
	if pid == 0 {
		return fmt.Errorf("%s is not running", name)
	}
	s.logf("stopping %s (pid %d) with SIGTERM", name, pid)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(s.cfg.StopTimeout):
		s.logf("%s did not stop within %v; killing it", name, s.cfg.StopTimeout)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.Done()
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// StartService starts a service stopped by StopService (or one that exited
// and was not restarted) — every replica, one after the other, or the one
// replica name names — with the same binary and environment, and returns
// once their /readyz answer 200. ServicePID answers the new pid.
func (s *Stack) StartService(ctx context.Context, name string) error {
	for _, p := range s.processes(name) {
		if err := s.startProcess(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) startProcess(ctx context.Context, name string) error {
	p, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	select {
	case <-p.Done():
	default:
		return fmt.Errorf("%s is still running or being restarted", name)
	}
	np, err := s.sup.Start(p.Spec)
	if err != nil {
		return err
	}
	s.procs[name] = np
	s.logf("started %s again (pid %d)", name, np.PID())
	info, _ := s.Replica(name)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(s.cfg.ReadyTimeout)
	for {
		problem := probe(ctx, client, info.URL+"/readyz")
		if problem == "" {
			s.logf("%s is ready", name)
			return nil
		}
		select {
		case <-np.Done():
			return fmt.Errorf("%s exited before it was ready: %v", name, np.Err())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v: %s", name, s.cfg.ReadyTimeout, problem)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
