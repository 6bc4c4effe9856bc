// Package pgtest gives integration tests a real PostgreSQL database: a fresh
// database, migrated, per call. The server is TEST_DATABASE_URL when set (it
// needs the right to create databases; `make test` sets it to one throwaway
// cluster for the whole run), or else a throwaway cluster started once per
// test binary.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgcluster"
)

var (
	once     sync.Once
	adminURL string
	cluster  *pgcluster.Cluster
	startErr error
)

func server() (string, error) {
	once.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			adminURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cluster, startErr = pgcluster.Start(ctx, pgcluster.Options{})
		if startErr == nil {
			adminURL = cluster.URL("postgres")
		}
	})
	return adminURL, startErr
}

// Main runs the tests of a package and stops the cluster it may have
// started; use it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	return code
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// New creates a fresh database, applies migrations (nil: none) and returns
// a pool to it; the database is dropped when the test ends.
func New(t testing.TB, migrations fs.FS) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewWithURL(t, migrations)
	return pool
}

// NewWithURL is New that also returns the database's URL, for code under
// test that connects by itself.
func NewWithURL(t testing.TB, migrations fs.FS) (*pgxpool.Pool, string) {
	t.Helper()
	admin, err := server()
	if err != nil {
		t.Fatalf("pgtest: no PostgreSQL: %v", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(suffix)
	ctx := context.Background()
	if err := pgcluster.CreateDatabase(ctx, admin, name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	pool, err := pg.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	if migrations != nil {
		if err := pg.Migrate(ctx, pool, migrations); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return pool, dbURL
}

// withDatabase swaps the database name of a postgres:// URL.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}
