package idempotency

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// MigrationSQL is the goose SQL migration that creates the idempotency_keys
// table (and its expiry index). It belongs to the service that uses the
// middleware, in that service's own database and migration history, so it
// is not applied on its own: add it to the service's migrations with
// WithMigration.
//
//go:embed migration.sql
var MigrationSQL string

// WithMigration returns migrations (a service's embedded goose migrations,
// SQL files at the root) with MigrationSQL added as the file name, which must
// be a goose file name whose version the service does not use yet, such as
// "00004_idempotency_keys.sql". Once released, keep the name: goose records
// the version as applied.
//
//	//go:embed migrations/*.sql
//	var migrationFiles embed.FS
//
//	func Migrations() fs.FS {
//		sub, err := fs.Sub(migrationFiles, "migrations")
//		if err != nil {
//			panic(err)
//		}
//		return idempotency.WithMigration(sub, "00004_idempotency_keys.sql")
//	}
//
// It panics if name is not a plain "*.sql" file name or is already in
// migrations, which are programming errors found by the first test run.
func WithMigration(migrations fs.FS, name string) fs.FS {
	if !fs.ValidPath(name) || strings.Contains(name, "/") || path.Ext(name) != ".sql" {
		panic(fmt.Sprintf("idempotency: migration name %q is not a *.sql file name", name))
	}
	if _, err := fs.Stat(migrations, name); err == nil {
		panic(fmt.Sprintf("idempotency: migration %q already exists", name))
	}
	return &migrationFS{base: migrations, name: name}
}

// migrationFS is base with one extra file at its root.
type migrationFS struct {
	base fs.FS
	name string
}

var _ fs.ReadDirFS = (*migrationFS)(nil)

func (m *migrationFS) Open(name string) (fs.File, error) {
	switch name {
	case m.name:
		return &memFile{info: m.info(), r: bytes.NewReader([]byte(MigrationSQL))}, nil
	case ".":
		f, err := m.base.Open(name)
		if err != nil {
			return nil, err
		}
		entries, err := m.ReadDir(name)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		return &rootDir{File: f, entries: entries}, nil
	}
	return m.base.Open(name)
}

func (m *migrationFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(m.base, name)
	if err != nil || name != "." {
		return entries, err
	}
	entries = append(entries, fs.FileInfoToDirEntry(m.info()))
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

func (m *migrationFS) info() fileInfo { return fileInfo{name: m.name} }

// rootDir is the root directory, listing the extra file too.
type rootDir struct {
	fs.File
	entries []fs.DirEntry
}

func (d *rootDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

// memFile is the extra file, read from MigrationSQL.
type memFile struct {
	info fileInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Seek(off int64, whence int) (int64, error) {
	return f.r.Seek(off, whence)
}
func (f *memFile) Close() error { return nil }

var _ io.ReadSeeker = (*memFile)(nil)

type fileInfo struct{ name string }

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return int64(len(MigrationSQL)) }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
