package idempotency

import (
	_ "embed"
	"fmt"
	"io/fs"

	"github.com/fundplatform/platform/libs/pg"
)

// MigrationSQL is the goose SQL migration that creates the idempotency_keys
// table (and its expiry index); MigrationEffectSQL, the second step, adds
// the effect_at mark. They belong to the service that uses the middleware,
// in that service's own database and migration history, so they are not
// applied on their own: add them to the service's migrations with
// WithMigration (or MigrationFiles).
//
//go:embed migration.sql
var MigrationSQL string

//go:embed migration_effect.sql
var MigrationEffectSQL string

// migrationSteps are the library's migrations, in order.
var migrationSteps = []*string{&MigrationSQL, &MigrationEffectSQL}

// MigrationFiles are the library's migrations under names, one name per
// step in order (MigrationSQL, MigrationEffectSQL), for pg.WithMigrations.
// It panics if names do not name every step.
func MigrationFiles(names ...string) []pg.File {
	if len(names) != len(migrationSteps) {
		panic(fmt.Sprintf("idempotency: WithMigration needs %d migration names (one per step), got %d", len(migrationSteps), len(names)))
	}
	files := make([]pg.File, len(names))
	for i, name := range names {
		files[i] = pg.File{Name: name, SQL: *migrationSteps[i]}
	}
	return files
}

// WithMigration returns migrations (a service's embedded goose migrations,
// SQL files at the root) with the library's migrations added under names,
// one name per step in order (MigrationSQL, MigrationEffectSQL). Each must
// be a goose file name whose version the service does not use yet, such as
// "00004_idempotency_keys.sql" and "00005_idempotency_effect.sql". Once
// released, keep the names: goose records the versions as applied; a new
// step of the library comes with a new name for each service.
//
//	func Migrations() fs.FS {
//		return idempotency.WithMigration(pg.EmbeddedMigrations(migrationFiles, "migrations"),
//			"00004_idempotency_keys.sql", "00005_idempotency_effect.sql")
//	}
//
// It panics if a name is not a plain "*.sql" file name or is already in
// migrations, or if names do not name every step (see pg.WithMigrations):
// programming errors found by the first test run.
func WithMigration(migrations fs.FS, names ...string) fs.FS {
	return pg.WithMigrations(migrations, MigrationFiles(names...)...)
}
