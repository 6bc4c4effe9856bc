// Package pgcluster starts a throwaway PostgreSQL cluster from the local
// PostgreSQL binaries, for tests and the dev stack. PostgreSQL refuses to run
// as root, so when the process is root the cluster runs as the unprivileged
// "postgres" user in a directory that user owns. It listens on 127.0.0.1 only
// and trusts local connections: it is never for production.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a cluster.
type Options struct {
	// Dir holds the data directory and the socket; it is created, and
	// wiped first if it already holds a cluster. Empty: a new temp dir.
	Dir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives the server's log; nil discards it.
	Log *os.File
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	Dir  string
	Port int
	bin  string
	log  *os.File
	cmd  *exec.Cmd
	done chan error
	temp bool
}

// binDir finds the PostgreSQL server binaries.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found; install them (Debian: apt-get install postgresql) or set TEST_DATABASE_URL/DATABASE_URL")
}

// FreePort is a 127.0.0.1 TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// asUnprivileged makes cmd run as the postgres user when we are root.
func asUnprivileged(cmd *exec.Cmd, dirs ...string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs a 'postgres' user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range dirs {
		if err := filepath.Walk(d, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			return err
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = append(os.Environ(), "HOME="+u.HomeDir, "USER=postgres")
	cmd.Dir = "/"
	return nil
}

// Start creates and starts a cluster and waits until it accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: opts.Dir, Port: opts.Port, done: make(chan error, 1)}
	if c.Dir == "" {
		// Under /tmp rather than the caller's TMPDIR, so the postgres
		// user can reach it.
		if c.Dir, err = os.MkdirTemp("/tmp", "pgcluster-"); err != nil {
			return nil, err
		}
		c.temp = true
	} else if err := os.RemoveAll(c.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	if c.Port == 0 {
		if c.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(c.Dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	if err := asUnprivileged(initdb, c.Dir); err != nil {
		return nil, err
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgcluster: initdb: %v: %s", err, out)
	}
	c.bin, c.log = bin, opts.Log
	if err := c.launch(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// launch starts the server on the cluster's data directory and waits until
// it accepts connections.
func (c *Cluster) launch(ctx context.Context) error {
	// Tuned for throwaway use: no durability, quick start, enough
	// connections for parallel test packages. Commit timestamps are kept
	// (pg_xact_commit_timestamp): the load benchmark times each hop of an
	// event through the services by the commits of the rows it left.
	c.cmd = exec.Command(filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.Dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(c.Port),
		"-c", "unix_socket_directories="+c.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=128MB", "-c", "track_commit_timestamp=on")
	if err := asUnprivileged(c.cmd, c.Dir); err != nil {
		return err
	}
	if c.log != nil {
		c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	}
	// Its own process group: a Ctrl-C to our terminal is ours to handle,
	// and we stop the server ourselves, cleanly.
	if c.cmd.SysProcAttr == nil {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.cmd.SysProcAttr.Setpgid = true
	c.cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	// Pdeathsig fires when the OS thread that started the server exits,
	// not the process, and the Go runtime may end idle threads: the
	// server is started and waited for by one goroutine locked to its
	// thread for the server's whole life.
	done := make(chan error, 1)
	started := make(chan error, 1)
	cmd := c.cmd
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.done = done
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return err
	}
	return nil
}

// Restart stops the server (fast mode: every connection is cut, open
// transactions roll back) and starts it again on the same data, as after
// a database crash or failover; it returns once it accepts connections.
// The server's pid changes.
func (c *Cluster) Restart(ctx context.Context) error {
	c.stopServer()
	return c.launch(ctx)
}

// PID is the server's (postmaster's) process id.
func (c *Cluster) PID() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("pgcluster: postgres exited during start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: postgres did not accept connections within 60s: %w", err)
		}
	}
}

// URL is the connection URL of a database in the cluster.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// CreateDatabase creates a database if it does not exist yet.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	return CreateDatabase(ctx, c.URL("postgres"), name)
}

// CreateDatabase creates database name on the server of adminURL unless it
// exists.
func CreateDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down (fast mode: rolls back open transactions) and
// removes a temporary directory.
func (c *Cluster) Stop() {
	c.stopServer()
	if c.temp {
		_ = os.RemoveAll(c.Dir)
	}
}

func (c *Cluster) stopServer() {
	if c.cmd != nil && c.cmd.Process != nil && c.done != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		c.done = nil
	}
}
