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
// table (and its expiry index); MigrationEffectSQL, the second step, adds
// the effect_at mark. They belong to the service that uses the middleware,
// in that service's own database and migration history, so they are not
// applied on their own: add them to the service's migrations with
// WithMigration.
//
//go:embed migration.sql
var MigrationSQL string

//go:embed migration_effect.sql
var MigrationEffectSQL string

// migrationSteps are the library's migrations, in order.
var migrationSteps = []*string{&MigrationSQL, &MigrationEffectSQL}

// WithMigration returns migrations (a service's embedded goose migrations,
// SQL files at the root) with the library's migrations added under names,
// one name per step in order (MigrationSQL, MigrationEffectSQL). Each must
// be a goose file name whose version the service does not use yet, such as
// "00004_idempotency_keys.sql" and "00005_idempotency_effect.sql". Once
// released, keep the names: goose records the versions as applied; a new
// step of the library comes with a new name for each service.
//
//	//go:embed migrations/*.sql
//	var migrationFiles embed.FS
//
//	func Migrations() fs.FS {
//		sub, err := fs.Sub(migrationFiles, "migrations")
//		if err != nil {
//			panic(err)
//		}
//		return idempotency.WithMigration(sub, "00004_idempotency_keys.sql", "00005_idempotency_effect.sql")
//	}
//
// It panics if a name is not a plain "*.sql" file name or is already in
// migrations, or if names do not name every step: programming errors found
// by the first test run.
func WithMigration(migrations fs.FS, names ...string) fs.FS {
	if len(names) != len(migrationSteps) {
		panic(fmt.Sprintf("idempotency: WithMigration needs %d migration names (one per step), got %d", len(migrationSteps), len(names)))
	}
	m := &migrationFS{base: migrations, files: map[string]string{}}
	for i, name := range names {
		if !fs.ValidPath(name) || strings.Contains(name, "/") || path.Ext(name) != ".sql" {
			panic(fmt.Sprintf("idempotency: migration name %q is not a *.sql file name", name))
		}
		if _, err := fs.Stat(migrations, name); err == nil {
			panic(fmt.Sprintf("idempotency: migration %q already exists", name))
		}
		if _, dup := m.files[name]; dup {
			panic(fmt.Sprintf("idempotency: migration name %q given twice", name))
		}
		m.files[name] = *migrationSteps[i]
	}
	return m
}

// migrationFS is base with extra files at its root.
type migrationFS struct {
	base  fs.FS
	files map[string]string // name → content
}

var _ fs.ReadDirFS = (*migrationFS)(nil)

func (m *migrationFS) Open(name string) (fs.File, error) {
	if content, ok := m.files[name]; ok {
		return &memFile{info: fileInfo{name: name, size: int64(len(content))}, r: bytes.NewReader([]byte(content))}, nil
	}
	if name == "." {
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
	for name, content := range m.files {
		entries = append(entries, fs.FileInfoToDirEntry(fileInfo{name: name, size: int64(len(content))}))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

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

// memFile is an extra file, read from its step's SQL.
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

type fileInfo struct {
	name string
	size int64
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
