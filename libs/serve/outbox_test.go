package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

// runToyBackend is a backend service's main, as MainBackend runs it, that
// is never started: for its commands.
func runToyBackend() {
	MainBackend[BackendConfig]("toy", "127.0.0.1:0", nil, func(context.Context, BackendConfig, *Deps) (Parts, error) {
		return Parts{}, errors.New("not reached in these tests")
	})
}

// backendRun runs the toy backend's binary with args against databaseURL
// and returns its stdout, stderr and exit code.
func backendRun(t *testing.T, databaseURL string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SERVE_TEST_MAIN=backend", "DATABASE_URL="+databaseURL, "KAFKA_BROKERS=127.0.0.1:9092")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func addEvents(t *testing.T, pool *pgxpool.Pool, keys ...string) []eventbus.Envelope {
	t.Helper()
	var envs []eventbus.Envelope
	ctx := context.Background()
	for i, key := range keys {
		env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "portfolio/"+key,
			map[string]any{"portfolio_id": i + 1, "name": "P", "user_id": 7, "team_id": 3, "currency": "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, eventbus.TopicPortfolio, key, env) }); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	return envs
}

// TestOutboxCommands: a backend service's binary lists the unpublished
// outbox rows oldest first (-outbox-pending) and skips one
// (-outbox-skip=<id>): it prints the row, payload included, then marks it
// published, and the listing starts at the next row.
func TestOutboxCommands(t *testing.T) {
	migrations := fstest.MapFS{"00001_outbox.sql": {Data: []byte(outbox.Migration)}}
	pool, url := pgtest.NewWithURL(t, migrations)

	stdout, _, code := backendRun(t, url, "-outbox-pending")
	if code != 0 || strings.TrimSpace(stdout) != "no unpublished outbox rows" {
		t.Fatalf("empty outbox: exit %d, %q", code, stdout)
	}

	envs := addEvents(t, pool, "1", "2", "1")
	var ids []int64
	if rows, err := pool.Query(context.Background(), `SELECT id FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	} else if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := backendRun(t, url, "-outbox-pending")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "3 unpublished outbox rows") ||
		strings.Join(strings.Fields(lines[1]), " ") != "ID EVENT_ID TYPE TOPIC KEY SIZE CREATED_AT" {
		t.Fatalf("-outbox-pending printed:\n%s", stdout)
	}
	for i, line := range lines[2:] {
		f := strings.Fields(line)
		size, _ := strconv.Atoi(f[5])
		key := []string{`"1"`, `"2"`, `"1"`}[i]
		if len(f) != 7 || f[0] != strconv.FormatInt(ids[i], 10) || f[1] != envs[i].ID || f[2] != eventbus.TypePortfolioCreated ||
			f[3] != eventbus.TopicPortfolio || f[4] != key || size < 100 || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT`).MatchString(f[6]) {
			t.Fatalf("row %d printed as %q", i, line)
		}
	}

	stdout, stderr, code = backendRun(t, url, "-outbox-skip="+strconv.FormatInt(ids[0], 10))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var kept struct {
		ID      int64           `json:"id"`
		EventID string          `json:"event_id"`
		Key     string          `json:"key"`
		Topic   string          `json:"topic"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(stdout), &kept); err != nil {
		t.Fatalf("-outbox-skip printed %q: %v", stdout, err)
	}
	if want, _ := json.Marshal(envs[0]); kept.ID != ids[0] || kept.EventID != envs[0].ID || kept.Key != "1" ||
		kept.Topic != eventbus.TopicPortfolio || string(kept.Payload) != string(want) {
		t.Fatalf("-outbox-skip printed %s, want row %d with payload %s", stdout, ids[0], want)
	}
	if !strings.Contains(stderr, "never receive it") {
		t.Fatalf("-outbox-skip says %q, want the consequence", stderr)
	}
	var published bool
	if err := pool.QueryRow(context.Background(), `SELECT published_at IS NOT NULL FROM outbox WHERE id = $1`, ids[0]).Scan(&published); err != nil || !published {
		t.Fatalf("skipped row published_at set: %v, %v", published, err)
	}
	stdout, _, _ = backendRun(t, url, "-outbox-pending")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); !strings.HasPrefix(lines[0], "2 unpublished") ||
		!strings.HasPrefix(lines[2], strconv.FormatInt(ids[1], 10)+" ") {
		t.Fatalf("after the skip, -outbox-pending printed:\n%s", stdout)
	}

	// What it refuses, exiting 1 without changing anything.
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"a published row": {[]string{"-outbox-skip=" + strconv.FormatInt(ids[0], 10)}, outbox.ErrNotPending.Error()},
		"an unknown row":  {[]string{"-outbox-skip=" + strconv.FormatInt(ids[2]+1, 10)}, outbox.ErrNotPending.Error()},
		"both":            {[]string{"-outbox-pending", "-outbox-skip=" + strconv.FormatInt(ids[1], 10)}, "not both"},
		"a negative id":   {[]string{"-outbox-skip=-3"}, "positive"},
		"id 0":            {[]string{"-outbox-skip=0"}, "positive"},
		"not a number":    {[]string{"-outbox-skip=x"}, "a row id is a number"},
	} {
		stdout, stderr, code := backendRun(t, url, c.args...)
		wantCode := 1
		if name == "not a number" {
			wantCode = 2 // the flag package's usage error
		}
		if code != wantCode || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and %q", name, code, stdout, stderr, wantCode, c.want)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows unpublished (%v), want 2", n, err)
	}
}

// TestOutboxCommandsWithoutAnOutbox: a service that publishes nothing (no
// outbox table) says so.
func TestOutboxCommandsWithoutAnOutbox(t *testing.T) {
	_, url := pgtest.NewWithURL(t, nil)
	for _, arg := range []string{"-outbox-pending", "-outbox-skip=1"} {
		_, stderr, code := backendRun(t, url, arg)
		if code != 1 || !strings.Contains(stderr, "no outbox table") {
			t.Errorf("%s: exit %d, %q", arg, code, stderr)
		}
	}
}

// TestOutboxSkipKeepsARowItCannotPrint: when the row cannot be printed
// (stdout closed), it is not marked.
func TestOutboxSkipKeepsARowItCannotPrint(t *testing.T) {
	migrations := fstest.MapFS{"00001_outbox.sql": {Data: []byte(outbox.Migration)}}
	pool, _ := pgtest.NewWithURL(t, migrations)
	addEvents(t, pool, "1")
	var id int64
	if err := pool.QueryRow(context.Background(), `SELECT id FROM outbox`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := skipRow(context.Background(), failingWriter{}, &stderr, pool, id)
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("skipRow with a failing stdout: %v", err)
	}
	var unpublished bool
	if err := pool.QueryRow(context.Background(), `SELECT published_at IS NULL FROM outbox WHERE id = $1`, id).Scan(&unpublished); err != nil || !unpublished {
		t.Fatalf("row still unpublished: %v, %v", unpublished, err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout is closed") }

// TestOutboxSkipUnblocksARunningRelay: a relay blocked by a row larger
// than its topic accepts reports it; -outbox-pending lists it first; once
// -outbox-skip marks it, the rows after it (of its key) are published in
// order and the relay is no longer blocked.
func TestOutboxSkipUnblocksARunningRelay(t *testing.T) {
	migrations := fstest.MapFS{"00001_outbox.sql": {Data: []byte(outbox.Migration)}}
	pool, url := pgtest.NewWithURL(t, migrations)
	cluster := kafkatest.StartCluster(t)
	if err := cluster.CreateTopic(eventbus.TopicPortfolio, kafkatest.Partitions, map[string]string{"max.message.bytes": "20000"}); err != nil {
		t.Fatal(err)
	}
	big, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "portfolio/1",
		map[string]any{"portfolio_id": 1, "name": strings.Repeat("x", 30_000), "user_id": 7, "team_id": 3, "currency": "USD"})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(big)
	var bigID int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO outbox (event_id, topic, key, type, payload)
		VALUES ($1, $2, '1', $3, $4) RETURNING id`, big.ID, eventbus.TopicPortfolio, big.Type, string(payload)).Scan(&bigID); err != nil {
		t.Fatal(err)
	}
	after := addEvents(t, pool, "1", "1")

	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: cluster.ListenAddrs(), PollInterval: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, reg)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Background(t, "relay", 10*time.Second, relay.Run)
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	testkit.Eventually(t, 15*time.Second, "the relay blocked", func() bool { return gauge("fund_outbox_blocked") == 1 })
	if got := gauge("fund_outbox_blocked_row_id"); got != float64(bigID) {
		t.Fatalf("fund_outbox_blocked_row_id = %v, want %d", got, bigID)
	}
	stdout, stderr, code := backendRun(t, url, "-outbox-pending")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[2], strconv.FormatInt(bigID, 10)+" ") {
		t.Fatalf("-outbox-pending: exit %d, %s%s", code, stdout, stderr)
	}
	if _, stderr, code := backendRun(t, url, "-outbox-skip="+strconv.FormatInt(bigID, 10)); code != 0 {
		t.Fatalf("-outbox-skip: exit %d, %s", code, stderr)
	}
	testkit.Eventually(t, 15*time.Second, "the rows after it published, the relay unblocked", func() bool {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0 && gauge("fund_outbox_blocked") == 0 && gauge("fund_outbox_blocked_row_id") == 0
	})
	var got []string
	for _, m := range kafkatest.ReadAll(t, cluster.ListenAddrs(), eventbus.TopicPortfolio, len(after)+1, 3*time.Second) {
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, env.ID)
	}
	if want := []string{after[0].ID, after[1].ID}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("published %v, want %v in order (the skipped %s never)", got, want, big.ID)
	}
}
