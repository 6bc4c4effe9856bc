package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/fundplatform/platform/libs/pg/pgcluster"
)

// ServiceDatabaseEnv is the variable that names a service's own database
// URL, e.g. AUTH_DATABASE_URL.
func ServiceDatabaseEnv(service string) string {
	return strings.ToUpper(service) + "_DATABASE_URL"
}

// DatabaseURLFor derives the URL of database name on the server of adminURL
// by replacing the URL's path; the query (sslmode…) is kept.
func DatabaseURLFor(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL of a server")
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// Redact hides the password of a database URL.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// dbSource says where a service's database comes from.
type dbSource int

const (
	dbOwnURL dbSource = iota // <SERVICE>_DATABASE_URL
	dbServer                 // created on the server of DATABASE_URL
	dbLocal                  // created in the local throwaway cluster
)

// planDatabases decides, for each service, where its database comes from.
func planDatabases(services []string, cfg Config) map[string]dbSource {
	plan := map[string]dbSource{}
	for _, s := range services {
		switch {
		case cfg.ServiceDatabaseURLs[s] != "":
			plan[s] = dbOwnURL
		case cfg.DatabaseURL != "":
			plan[s] = dbServer
		default:
			plan[s] = dbLocal
		}
	}
	return plan
}

// setupDatabases gives every service a database URL, starting the local
// cluster when some service needs it.
func (s *Stack) setupDatabases(ctx context.Context, services []string) (map[string]string, error) {
	plan := planDatabases(services, s.cfg)
	urls := map[string]string{}
	for _, name := range services {
		switch plan[name] {
		case dbOwnURL:
			urls[name] = s.cfg.ServiceDatabaseURLs[name]
			s.logf("%s uses %s (%s)", name, Redact(urls[name]), ServiceDatabaseEnv(name))
		case dbServer:
			u, err := DatabaseURLFor(s.cfg.DatabaseURL, name)
			if err != nil {
				return nil, err
			}
			if err := pgcluster.CreateDatabase(ctx, s.cfg.DatabaseURL, name); err != nil {
				return nil, fmt.Errorf("create database %s on %s: %w", name, Redact(s.cfg.DatabaseURL), err)
			}
			urls[name] = u
			s.logf("%s uses %s (created on DATABASE_URL's server)", name, Redact(u))
		case dbLocal:
			if s.pg == nil {
				if err := s.startPostgres(ctx); err != nil {
					return nil, err
				}
			}
			if err := s.pg.CreateDatabase(ctx, name); err != nil {
				return nil, fmt.Errorf("create database %s: %w", name, err)
			}
			urls[name] = s.pg.URL(name)
		}
	}
	return urls, nil
}

// startPostgres starts the throwaway cluster in StateDir/pg, its log going
// to the "postgres" tag.
func (s *Stack) startPostgres(ctx context.Context) error {
	dir := filepath.Join(s.cfg.StateDir, "pg")
	s.logf("starting PostgreSQL in %s (wiped first)", dir)
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		lw := s.mux.Writer("postgres")
		_, _ = io.Copy(lw, r)
		lw.Close()
		r.Close()
	}()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Port: s.cfg.PGPort, Log: w})
	if err != nil {
		w.Close()
		<-logDone
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	// w stays open for a restart of the server (RestartPostgres); shutdown
	// closes it.
	s.pg, s.pgLog, s.pgLogDone = c, w, logDone
	if pid := postmasterPID(filepath.Join(dir, "data")); pid != 0 {
		s.addPID(pid)
	}
	s.logf("PostgreSQL listens on 127.0.0.1:%d", c.Port)
	return nil
}

// RestartPostgres restarts the stack's own PostgreSQL cluster on the same
// data (fast shutdown: every connection is cut), as a database crash or
// failover would, and returns once it accepts connections again. The
// services reconnect by themselves.
func (s *Stack) RestartPostgres(ctx context.Context) error {
	if s.pg == nil {
		return errors.New("the stack runs no PostgreSQL of its own")
	}
	s.logf("restarting PostgreSQL")
	if err := s.pg.Restart(ctx); err != nil {
		return fmt.Errorf("restart PostgreSQL: %w", err)
	}
	s.addPID(s.pg.PID())
	s.logf("PostgreSQL is back on 127.0.0.1:%d (pid %d)", s.pg.Port, s.pg.PID())
	return nil
}

// postmasterPID reads the server's pid from its data directory.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscanf(string(b), "%d", &pid)
	return pid
}
