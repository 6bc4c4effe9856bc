package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/auth/internal/store"
)

// manageKeys runs -list-keys and -retire-key against the service's
// database, without starting the service: an operator runs it next to a
// running deployment (same DATABASE_URL).
func manageKeys(ctx context.Context, cfg config, list bool, retire string, out io.Writer) error {
	pool, err := pg.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, store.Migrations()); err != nil {
		return err
	}
	st := store.New(pool)
	if retire != "" {
		if err := st.RetireSigningKey(ctx, retire, time.Now().UTC()); err != nil {
			return fmt.Errorf("retire key %s: %w", retire, err)
		}
		fmt.Fprintf(out, "retired %s: it is no longer published and its tokens are refused\n", retire)
	}
	if !list {
		return nil
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSTATE\tCREATED\tRETIRED")
	for _, k := range keys {
		state, retired := "current", "-"
		switch {
		case k.RevokedAt != nil:
			state, retired = "retired-now", k.RevokedAt.UTC().Format(time.RFC3339)
		case k.RetiredAt != nil:
			state, retired = "rotated-out", k.RetiredAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, state, k.CreatedAt.UTC().Format(time.RFC3339), retired)
	}
	return tw.Flush()
}
