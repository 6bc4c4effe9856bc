package inbox

import (
	_ "embed"

	"github.com/fundplatform/platform/libs/pg"
)

// Migration is the goose migration (Up and Down) that creates the inbox
// tables. It belongs to the owning service's database and migration
// history: add it to the service's migrations with MigrationFile.
//
//go:embed inbox.sql
var Migration string

// MigrationFile is Migration under name, a goose file name whose version
// the service does not use otherwise, for pg.EmbeddedMigrations or
// pg.WithMigrations. Once released, the service keeps the name: goose
// records the version as applied.
func MigrationFile(name string) pg.File { return pg.File{Name: name, SQL: Migration} }
