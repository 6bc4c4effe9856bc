// Package backup dumps and restores the services' PostgreSQL databases.
//
// A backup is a directory holding one pg_dump archive (custom format) per
// service database and a manifest (manifest.json) that records, for each
// database, what the dump contains as of its snapshot: the goose migration
// version, the consumers' stored positions (libs/inbox's consumer_offsets)
// and the outbox backlog (libs/outbox rows not yet published). Each dump is
// consistent on its own: pg_dump reads a snapshot exported by the same
// transaction that reads the manifest's figures. Dumps of different
// databases are not taken at one instant; the platform does not need that,
// because every consumer rewinds with its own database (see Restore).
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPGBin is where Debian installs the PostgreSQL 15 client programs.
const DefaultPGBin = "/usr/lib/postgresql/15/bin"

// ManifestFile is the manifest's name inside a backup directory.
const ManifestFile = "manifest.json"

// Target is one service database.
type Target struct {
	Service string
	// URL is the service's own database URL (the one it is given as
	// DATABASE_URL).
	URL string
}

// Manifest describes a backup.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	Tool          Tool      `json:"tool"`
	// GitCommit is the repository's HEAD when known.
	GitCommit string     `json:"git_commit,omitempty"`
	Databases []Database `json:"databases"`
}

// Tool names the programs that made the backup.
type Tool struct {
	Go            string `json:"go"`
	PGDump        string `json:"pg_dump"`
	ServerVersion string `json:"server_version"`
}

// Database is one dumped database, as of its dump's snapshot.
type Database struct {
	Service  string    `json:"service"`
	Database string    `json:"database"`
	File     string    `json:"file"`
	Bytes    int64     `json:"bytes"`
	SHA256   string    `json:"sha256"`
	DumpedAt time.Time `json:"dumped_at"`
	// GooseVersion is the highest migration applied (0: no goose table).
	GooseVersion int64 `json:"goose_version"`
	// ConsumerOffsets are the stored next offsets of every consumer group
	// (empty for a service that consumes nothing).
	ConsumerOffsets []ConsumerOffset `json:"consumer_offsets"`
	// ProcessedEvents is the number of event ids the consumers remember.
	ProcessedEvents int64 `json:"processed_events"`
	// Outbox is the outbox backlog; nil for a service without an outbox.
	Outbox *OutboxBacklog `json:"outbox,omitempty"`
}

// ConsumerOffset is one partition's stored position.
type ConsumerOffset struct {
	GroupID    string `json:"group_id"`
	Topic      string `json:"topic"`
	Partition  int    `json:"partition"`
	NextOffset int64  `json:"next_offset"`
}

// OutboxBacklog counts the outbox rows.
type OutboxBacklog struct {
	Pending         int64      `json:"pending"`
	OldestPendingAt *time.Time `json:"oldest_pending_at,omitempty"`
	Published       int64      `json:"published"`
}

// Options configure Backup and Restore.
type Options struct {
	// PGBin holds pg_dump and pg_restore; default DefaultPGBin.
	PGBin string
	// RepoDir, when set, is asked for its git commit.
	RepoDir string
	// Logf receives progress messages; nil discards them.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.PGBin == "" {
		o.PGBin = DefaultPGBin
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Backup dumps every target into dir (created; it must not hold a manifest
// yet) and writes the manifest last, so a directory with a manifest is a
// complete backup.
func Backup(ctx context.Context, dir string, targets []Target, opts Options) (Manifest, error) {
	opts = opts.withDefaults()
	if len(targets) == 0 {
		return Manifest{}, errors.New("backup: no database to dump")
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return Manifest{}, fmt.Errorf("backup: %s already holds a backup", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Manifest{}, err
	}
	m := Manifest{FormatVersion: 1, StartedAt: time.Now().UTC(), Tool: Tool{Go: runtime.Version()}}
	if out, err := exec.CommandContext(ctx, filepath.Join(opts.PGBin, "pg_dump"), "--version").Output(); err == nil {
		m.Tool.PGDump = strings.TrimSpace(string(out))
	} else {
		return Manifest{}, fmt.Errorf("backup: %s/pg_dump: %w", opts.PGBin, err)
	}
	if opts.RepoDir != "" {
		m.GitCommit = gitCommit(ctx, opts.RepoDir)
	}
	for _, t := range targets {
		db, server, err := dumpOne(ctx, dir, t, opts)
		if err != nil {
			return Manifest{}, fmt.Errorf("backup %s: %w", t.Service, err)
		}
		m.Tool.ServerVersion = server
		m.Databases = append(m.Databases, db)
		opts.Logf("dumped %s (database %s, %d bytes, migration %d, %d consumer positions)",
			t.Service, db.Database, db.Bytes, db.GooseVersion, len(db.ConsumerOffsets))
	}
	m.FinishedAt = time.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o600); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// dumpOne dumps one database from a snapshot that the manifest's figures
// are read from too.
func dumpOne(ctx context.Context, dir string, t Target, opts Options) (Database, string, error) {
	name, err := DatabaseName(t.URL)
	if err != nil {
		return Database{}, "", err
	}
	conn, err := pgx.Connect(ctx, t.URL)
	if err != nil {
		return Database{}, "", err
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Database{}, "", err
	}
	defer tx.Rollback(context.Background())
	var snapshot, server string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot(), current_setting('server_version')`).Scan(&snapshot, &server); err != nil {
		return Database{}, "", err
	}
	db := Database{Service: t.Service, Database: name, File: t.Service + ".dump", DumpedAt: time.Now().UTC()}
	if err := readFigures(ctx, tx, &db); err != nil {
		return Database{}, "", err
	}
	path := filepath.Join(dir, db.File)
	cmd := exec.CommandContext(ctx, filepath.Join(opts.PGBin, "pg_dump"), "--format=custom", "--snapshot="+snapshot,
		"--file="+path, "--dbname="+t.URL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return Database{}, "", fmt.Errorf("pg_dump: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if db.Bytes, db.SHA256, err = fileDigest(path); err != nil {
		return Database{}, "", err
	}
	return db, server, nil
}

// tableExists reports whether a table of that name is visible.
func tableExists(ctx context.Context, q pgx.Tx, table string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok)
	return ok, err
}

// readFigures fills the manifest's view of one database.
func readFigures(ctx context.Context, tx pgx.Tx, db *Database) error {
	db.ConsumerOffsets = []ConsumerOffset{}
	if ok, err := tableExists(ctx, tx, "goose_db_version"); err != nil {
		return err
	} else if ok {
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&db.GooseVersion); err != nil {
			return err
		}
	}
	offsets, err := ReadConsumerOffsets(ctx, tx)
	if err != nil {
		return err
	}
	db.ConsumerOffsets = offsets
	if ok, err := tableExists(ctx, tx, "processed_events"); err != nil {
		return err
	} else if ok {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM processed_events`).Scan(&db.ProcessedEvents); err != nil {
			return err
		}
	}
	if ok, err := tableExists(ctx, tx, "outbox"); err != nil {
		return err
	} else if ok {
		var o OutboxBacklog
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE published_at IS NULL),
			min(created_at) FILTER (WHERE published_at IS NULL), count(*) FILTER (WHERE published_at IS NOT NULL)
			FROM outbox`).Scan(&o.Pending, &o.OldestPendingAt, &o.Published); err != nil {
			return err
		}
		db.Outbox = &o
	}
	return nil
}

// ReadConsumerOffsets reads libs/inbox's stored positions (none when the
// database has no consumer_offsets table).
func ReadConsumerOffsets(ctx context.Context, tx pgx.Tx) ([]ConsumerOffset, error) {
	out := []ConsumerOffset{}
	if ok, err := tableExists(ctx, tx, "consumer_offsets"); err != nil || !ok {
		return out, err
	}
	rows, err := tx.Query(ctx, `SELECT group_id, topic, partition, next_offset FROM consumer_offsets ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows(out, rows, pgx.RowToStructByPos[ConsumerOffset])
}

// ConsumerOffsets reads the stored positions of a live database.
func ConsumerOffsets(ctx context.Context, dbURL string) ([]ConsumerOffset, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	return ReadConsumerOffsets(ctx, tx)
}

func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func gitCommit(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	cmd = exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		commit += "-dirty"
	}
	return commit
}

// ReadManifest reads a backup directory's manifest.
func ReadManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("%s is not a complete backup: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.FormatVersion != 1 {
		return Manifest{}, fmt.Errorf("%s: unknown format version %d", ManifestFile, m.FormatVersion)
	}
	return m, nil
}

// Find returns the manifest's entry for a service.
func (m Manifest) Find(service string) (Database, bool) {
	for _, d := range m.Databases {
		if d.Service == service {
			return d, true
		}
	}
	return Database{}, false
}

// DatabaseName is the database a postgres URL names.
func DatabaseName(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("not a postgres:// URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("URL %s names no database", u.Redacted())
	}
	return name, nil
}

// withDatabase is dbURL naming another database on the same server.
func withDatabase(dbURL, name string) string {
	u, _ := url.Parse(dbURL)
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}
