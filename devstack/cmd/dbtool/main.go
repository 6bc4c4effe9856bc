// Command dbtool backs up and restores the services' databases (see package
// backup). Against the dev stack (`make run`) it needs no flags: it reads
// each service's DATABASE_URL from the stack's .devstack/<service>.env.
//
//	go run ./devstack/cmd/dbtool backup  [-out DIR] [-services stats,withdrawal] [-db name=URL ...]
//	go run ./devstack/cmd/dbtool restore -from DIR [-services stats] [-db name=URL ...] [-service-control process|none]
//
// backup writes one pg_dump archive per database and manifest.json into
// DIR (default .devstack/backups/<UTC time>) and prints DIR last. restore
// replaces each database with the backup's dump, stopping the service
// before the swap and starting it afterwards; run `make check-invariants`
// once the stack is quiet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fundplatform/platform/devstack/backup"
	"github.com/fundplatform/platform/devstack/edge"
)

const usage = `usage:
  dbtool backup  [flags]   dump every service database and write a manifest
  dbtool restore [flags]   restore databases from a backup directory
Run "dbtool backup -h" or "dbtool restore -h" for the flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "backup":
		err = runBackup(ctx, os.Args[2:])
	case "restore":
		err = runRestore(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtool:", err)
		os.Exit(1)
	}
}

// dbFlags maps service=URL pairs given with -db.
type dbFlags map[string]string

func (d dbFlags) String() string { return "" }

func (d dbFlags) Set(v string) error {
	name, u, ok := strings.Cut(v, "=")
	if !ok || name == "" || u == "" {
		return errors.New("want service=postgres://…")
	}
	d[name] = u
	return nil
}

// common are the flags both subcommands share.
type common struct {
	stateDir string
	services string
	dbs      dbFlags
	pgBin    string
}

// subcommand is the flag set of the subcommand name, with the flags of
// every subcommand registered into the common returned.
func subcommand(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	c := &common{}
	c.register(fs)
	return fs, c
}

func (c *common) register(fs *flag.FlagSet) {
	c.dbs = dbFlags{}
	fs.StringVar(&c.stateDir, "state-dir", ".devstack", "the dev stack's state directory (its <service>.env files name the databases)")
	fs.StringVar(&c.services, "services", "", "comma-separated services (default: every service; with -db, those named by -db)")
	fs.Var(c.dbs, "db", "service=URL: that service's database URL instead of the one in its .env file (repeatable)")
	fs.StringVar(&c.pgBin, "pg-bin", backup.DefaultPGBin, "directory of pg_dump and pg_restore")
}

// selected lists the services to work on.
func (c *common) selected(defaults []string) ([]string, error) {
	var names []string
	switch {
	case c.services != "":
		names = strings.Split(c.services, ",")
	case len(c.dbs) > 0:
		for name := range c.dbs {
			names = append(names, name)
		}
		slices.SortFunc(names, func(a, b string) int { return slices.Index(edge.Services, a) - slices.Index(edge.Services, b) })
	default:
		names = defaults
	}
	for _, n := range names {
		if !slices.Contains(edge.Services, n) {
			return nil, fmt.Errorf("unknown service %q (services: %s)", n, strings.Join(edge.Services, ", "))
		}
	}
	return names, nil
}

// targets resolves the database URL of each selected service (see
// selected; defaults are the services to work on without -services or -db)
// and the dev stack's view of it (nil entries for services given with
// -db).
func (c *common) targets(defaults []string) ([]backup.Target, map[string]backup.DevService, error) {
	names, err := c.selected(defaults)
	if err != nil {
		return nil, nil, err
	}
	devs := map[string]backup.DevService{}
	var targets []backup.Target
	for _, n := range names {
		if u, ok := c.dbs[n]; ok {
			targets = append(targets, backup.Target{Service: n, URL: u})
			continue
		}
		ds, err := backup.DevServices(c.stateDir, []string{n})
		if err != nil {
			return nil, nil, err
		}
		devs[n] = ds[0]
		targets = append(targets, backup.Target{Service: n, URL: ds[0].Env["DATABASE_URL"]})
	}
	return targets, devs, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dbtool: "+format+"\n", args...)
}

func runBackup(ctx context.Context, args []string) error {
	fs, c := subcommand("backup")
	out := fs.String("out", "", "backup directory to create (default: <state-dir>/backups/<UTC time>)")
	repo := fs.String("repo", ".", "repository whose git commit the manifest records")
	_ = fs.Parse(args)
	targets, _, err := c.targets(edge.Services)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(c.stateDir, "backups", time.Now().UTC().Format("20060102T150405.000Z"))
	}
	m, err := backup.Backup(ctx, dir, targets, backup.Options{PGBin: c.pgBin, RepoDir: *repo, Logf: logf})
	if err != nil {
		return err
	}
	logf("backup of %d database(s) complete (%s, server %s, commit %s)", len(m.Databases), m.Tool.PGDump, m.Tool.ServerVersion, orUnknown(m.GitCommit))
	fmt.Println(dir)
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func runRestore(ctx context.Context, args []string) error {
	fs, c := subcommand("restore")
	from := fs.String("from", "", "backup directory (required)")
	admin := fs.String("admin-url", "", "URL of a role allowed to create and drop databases (default: each database's URL naming the postgres database)")
	control := fs.String("service-control", "process",
		"process: stop the service's process before the swap and start it again after (the `make run` stack); none: leave that to the caller")
	bin := fs.String("bin", "", "the dev stack's service binaries (default: <state-dir>/bin)")
	_ = fs.Parse(args)
	if *from == "" {
		return errors.New("restore: -from DIR is required")
	}
	m, err := backup.ReadManifest(*from)
	if err != nil {
		return err
	}
	var inBackup []string
	for _, d := range m.Databases {
		inBackup = append(inBackup, d.Service)
	}
	targets, devs, err := c.targets(inBackup)
	if err != nil {
		return err
	}
	opts := backup.RestoreOptions{Options: backup.Options{PGBin: c.pgBin, Logf: logf}, AdminURL: *admin}
	switch *control {
	case "none":
		opts.Control = backup.NoControl{}
	case "process":
		binDir := *bin
		if binDir == "" {
			binDir = filepath.Join(c.stateDir, "bin")
		}
		opts.Control = &backup.ProcessControl{StateDir: c.stateDir, BinDir: binDir, Services: devs, Logf: logf}
	default:
		return fmt.Errorf("restore: -service-control must be process or none")
	}
	for _, t := range targets {
		res, err := backup.Restore(ctx, *from, t, opts)
		if err != nil {
			return err
		}
		logf("%s restored from %s; %d sequence(s) kept ahead; its consumers resume from the backup's positions:", res.Service, *from, res.SequencesKept)
		for _, o := range res.Offsets {
			logf("  %s %s[%d] next offset %d", o.GroupID, o.Topic, o.Partition, o.NextOffset)
		}
	}
	logf("done; once the stack is quiet, run: make check-invariants")
	return nil
}
