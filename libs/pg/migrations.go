package pg

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one goose SQL migration a library contributes to a service's
// migrations (the outbox's, the inbox's, the Idempotency-Key store's): the
// library owns SQL, the service chooses Name, the file name, and so the
// version, under which it joins the service's own history.
type File struct {
	Name string
	SQL  string
}

// EmbeddedMigrations returns the goose migrations a service embeds under dir
// (fsys is its //go:embed dir/*.sql), with files added at the root (see
// WithMigrations):
//
//	//go:embed migrations/*.sql
//	var migrationFiles embed.FS
//
//	func Migrations() fs.FS {
//		return pg.EmbeddedMigrations(migrationFiles, "migrations", outbox.MigrationFile("00002_outbox.sql"))
//	}
//
// It panics if dir is not a valid path, or as WithMigrations does.
func EmbeddedMigrations(fsys fs.FS, dir string, files ...File) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	if len(files) == 0 {
		return sub
	}
	return WithMigrations(sub, files...)
}

// WithMigrations returns migrations (a service's goose migrations, SQL
// files at the root) with files added at the root under their names. Each
// name must be a goose file name whose version the service does not use
// yet. Once released, keep the names: goose records the versions as
// applied, so an existing database sees nothing new as long as the name and
// the SQL stay; a new step of a library comes with a new name for each
// service.
//
// It panics if a name is not a plain "*.sql" file name, is already in
// migrations or is given twice: programming errors found by the first
// test run.
func WithMigrations(migrations fs.FS, files ...File) fs.FS {
	m := &migrationFS{base: migrations, files: map[string]string{}}
	for _, f := range files {
		if !fs.ValidPath(f.Name) || strings.Contains(f.Name, "/") || path.Ext(f.Name) != ".sql" {
			panic(fmt.Sprintf("pg: migration name %q is not a *.sql file name", f.Name))
		}
		if _, err := fs.Stat(migrations, f.Name); err == nil {
			panic(fmt.Sprintf("pg: migration %q already exists", f.Name))
		}
		if _, dup := m.files[f.Name]; dup {
			panic(fmt.Sprintf("pg: migration name %q given twice", f.Name))
		}
		m.files[f.Name] = f.SQL
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

// rootDir is the root directory, listing the extra files too.
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

// memFile is an extra file, read from its File's SQL.
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
