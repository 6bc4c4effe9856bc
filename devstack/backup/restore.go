package backup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Controller stops and starts a service around the swap of its database.
type Controller interface {
	Stop(ctx context.Context, service string) error
	Start(ctx context.Context, service string) error
}

// NoControl leaves the services alone: the caller stops the service before
// Restore and starts it afterwards.
type NoControl struct{}

// Stop implements Controller.
func (NoControl) Stop(context.Context, string) error { return nil }

// Start implements Controller.
func (NoControl) Start(context.Context, string) error { return nil }

// RestoreOptions configure Restore.
type RestoreOptions struct {
	Options
	// AdminURL is a URL of the server allowed to create and drop databases;
	// default: the target's URL naming the "postgres" database.
	AdminURL string
	// Control stops and starts the service; nil is NoControl.
	Control Controller
}

// Restored says what one Restore did.
type Restored struct {
	Service  string
	Database string
	// Offsets are the consumer positions the database holds again (the
	// backup's): its consumers re-consume everything after them.
	Offsets []ConsumerOffset
	// SequencesKept counts the sequences moved forward to the live
	// database's values, so no id handed out before the restore is handed
	// out again.
	SequencesKept int
}

// Restore replaces the target's database with the backup's dump of that
// service:
//
//  1. pg_restore the dump (in one transaction) into a new database
//     <name>_restore next to the live one, while the service still runs;
//  2. stop the service (Control);
//  3. move every sequence of the restored database forward to the live
//     database's value, when the live database is still there: ids handed
//     out after the backup (and already sent to other services in events)
//     are not handed out a second time;
//  4. drop the live database (closing any connection left) and rename the
//     restored one to its name;
//  5. start the service (Control).
//
// The consumer positions are the backup's, so the service's consumers
// re-consume every event after them.
func Restore(ctx context.Context, dir string, t Target, opts RestoreOptions) (Restored, error) {
	opts.Options = opts.Options.withDefaults()
	if opts.Control == nil {
		opts.Control = NoControl{}
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return Restored{}, err
	}
	entry, ok := m.Find(t.Service)
	if !ok {
		return Restored{}, fmt.Errorf("restore: the backup in %s has no %s database", dir, t.Service)
	}
	path := filepath.Join(dir, entry.File)
	if n, sum, err := fileDigest(path); err != nil {
		return Restored{}, err
	} else if n != entry.Bytes || sum != entry.SHA256 {
		return Restored{}, fmt.Errorf("restore: %s does not match the manifest (sha256 %s, want %s)", path, sum, entry.SHA256)
	}
	name, err := DatabaseName(t.URL)
	if err != nil {
		return Restored{}, err
	}
	admin := opts.AdminURL
	if admin == "" {
		admin = withDatabase(t.URL, "postgres")
	}
	tmp := name + "_restore"
	res := Restored{Service: t.Service, Database: name, Offsets: entry.ConsumerOffsets}

	owner, err := databaseOwner(ctx, admin, name)
	if err != nil {
		return res, err
	}
	if err := adminExec(ctx, admin,
		"DROP DATABASE IF EXISTS "+ident(tmp)+" WITH (FORCE)",
		"CREATE DATABASE "+ident(tmp)+ownerClause(owner)); err != nil {
		return res, fmt.Errorf("restore %s: create %s: %w", t.Service, tmp, err)
	}
	cleanup := func() {
		_ = adminExec(context.Background(), admin, "DROP DATABASE IF EXISTS "+ident(tmp)+" WITH (FORCE)")
	}
	tmpURL := withDatabase(t.URL, tmp)
	cmd := exec.CommandContext(ctx, filepath.Join(opts.PGBin, "pg_restore"), "--exit-on-error", "--single-transaction",
		"--no-owner", "--dbname="+tmpURL, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return res, fmt.Errorf("restore %s: pg_restore: %v: %s", t.Service, err, strings.TrimSpace(string(out)))
	}
	opts.Logf("restored the %s dump into %s; stopping %s", t.Service, tmp, t.Service)

	if err := opts.Control.Stop(ctx, t.Service); err != nil {
		cleanup()
		return res, fmt.Errorf("restore %s: stop the service: %w", t.Service, err)
	}
	if owner != "" {
		live, err := liveSequences(ctx, t.URL)
		if err != nil {
			opts.Logf("warning: cannot read the live %s database's sequences (%v): ids may be handed out again", name, err)
		} else if res.SequencesKept, err = keepSequences(ctx, tmpURL, live); err != nil {
			cleanup()
			return res, fmt.Errorf("restore %s: sequences: %w", t.Service, err)
		}
	} else {
		opts.Logf("warning: no live %s database: sequences are the backup's", name)
	}
	if err := adminExec(ctx, admin,
		"DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)",
		"ALTER DATABASE "+ident(tmp)+" RENAME TO "+ident(name)); err != nil {
		return res, fmt.Errorf("restore %s: swap the databases: %w", t.Service, err)
	}
	opts.Logf("database %s is the backup's now (migration %d, %d consumer positions); starting %s",
		name, entry.GooseVersion, len(entry.ConsumerOffsets), t.Service)
	if err := opts.Control.Start(ctx, t.Service); err != nil {
		return res, fmt.Errorf("restore %s: start the service: %w", t.Service, err)
	}
	return res, nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func ownerClause(owner string) string {
	if owner == "" {
		return ""
	}
	return " OWNER " + ident(owner)
}

// databaseOwner is the live database's owner, "" when it does not exist.
func databaseOwner(ctx context.Context, admin, name string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var owner string
	err = conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

func adminExec(ctx context.Context, admin string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

type sequence struct {
	Schema, Name string
	LastValue    int64
}

func liveSequences(ctx context.Context, dbURL string) ([]sequence, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE last_value IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[sequence])
}

// keepSequences moves each sequence of the restored database forward to
// the live value, and returns how many it moved.
func keepSequences(ctx context.Context, dbURL string, live []sequence) (int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	moved := 0
	for _, s := range live {
		var restored *int64
		err := conn.QueryRow(ctx, `SELECT last_value FROM pg_sequences WHERE schemaname = $1 AND sequencename = $2`,
			s.Schema, s.Name).Scan(&restored)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return moved, err
		}
		if restored != nil && *restored >= s.LastValue {
			continue
		}
		if _, err := conn.Exec(ctx, `SELECT setval($1::regclass, $2, true)`,
			pgx.Identifier{s.Schema, s.Name}.Sanitize(), s.LastValue); err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}
