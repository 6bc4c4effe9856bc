package serve

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
)

// pendingShown is how many rows -outbox-pending lists.
const pendingShown = 20

// outboxCommand is the operator's commands on the service's outbox
// (libs/outbox), for a relay blocked by a row the broker refuses
// (docs/operations.md#fundoutboxblocked); every backend service's binary
// has them (BackendProgram):
//
//	-outbox-pending          the number of unpublished rows and the oldest of them, in publishing order
//	-outbox-skip=<row id>    print that unpublished row as JSON (payload included), then mark it
//	                         published without publishing it
//
// They use DATABASE_URL only, beside a running service.
func outboxCommand[C Configuration](stdout, stderr io.Writer) Command[C] {
	var listPending bool
	var skip rowID
	return Command[C]{
		Register: func(fs *flag.FlagSet) {
			fs.BoolVar(&listPending, "outbox-pending", false,
				fmt.Sprintf("print the number of unpublished outbox rows and the oldest %d, then exit", pendingShown))
			fs.Var(&skip, "outbox-skip",
				"print the unpublished outbox row with this id as JSON, then mark it published without publishing it "+
					"(its event never reaches its consumers), and exit")
		},
		Run: func(ctx context.Context, cfg C) (bool, error) {
			if !listPending && !skip.set {
				return false, nil
			}
			if listPending && skip.set {
				return true, errors.New("give -outbox-pending or -outbox-skip, not both")
			}
			// A given -outbox-skip=0 must not fall through to serving.
			if skip.set && skip.id <= 0 {
				return true, fmt.Errorf("-outbox-skip=%d: a row id is positive", skip.id)
			}
			// Skip waits for the relay's current attempt to end.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			pool, err := pg.Connect(ctx, cfg.Database())
			if err != nil {
				return true, err
			}
			defer pool.Close()
			var table *string
			if err := pool.QueryRow(ctx, `SELECT to_regclass('outbox')::text`).Scan(&table); err != nil {
				return true, err
			}
			if table == nil {
				return true, errors.New("this service's database has no outbox table (the service publishes no events)")
			}
			if listPending {
				return true, printPending(ctx, stdout, pool)
			}
			return true, skipRow(ctx, stdout, stderr, pool, skip.id)
		},
	}
}

// rowID is the value of -outbox-skip, which remembers whether it was given.
type rowID struct {
	id  int64
	set bool
}

func (v *rowID) String() string {
	if v == nil || !v.set {
		return ""
	}
	return strconv.FormatInt(v.id, 10)
}

func (v *rowID) Set(s string) error {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("a row id is a number")
	}
	v.id, v.set = id, true
	return nil
}

func printPending(ctx context.Context, w io.Writer, pool *pgxpool.Pool) error {
	total, rows, err := outbox.Pending(ctx, pool, pendingShown)
	if err != nil {
		return err
	}
	if total == 0 {
		_, err := fmt.Fprintln(w, "no unpublished outbox rows")
		return err
	}
	fmt.Fprintf(w, "%d unpublished outbox rows; the oldest %d, in the order the relay publishes them:\n", total, len(rows))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEVENT_ID\tTYPE\tTOPIC\tKEY\tSIZE\tCREATED_AT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%q\t%d\t%s\n", r.ID, r.EventID, r.Type, r.Topic, r.Key, r.Size, r.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	return tw.Flush()
}

// skipRow prints the row as JSON on stdout (for the operator to keep),
// and only once that is written marks it published.
func skipRow(ctx context.Context, stdout, stderr io.Writer, pool *pgxpool.Pool, id int64) error {
	var kept outbox.PendingRow
	err := outbox.Skip(ctx, pool, id, func(r outbox.PendingRow) error {
		kept = r
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		// Unbuffered: once Write returns, the row has left the process.
		if _, err := stdout.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("print the row (nothing changed): %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "outbox row %d (event %s, %s, topic %s, key %q) is marked published without being published: "+
		"its consumers will never receive it; the row is printed above\n", kept.ID, kept.EventID, kept.Type, kept.Topic, kept.Key)
	return err
}
