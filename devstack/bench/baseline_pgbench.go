package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fundplatform/platform/devstack/migrationlint"
	"github.com/jackc/pgx/v5"
)

// pgbenchBin is Debian's PostgreSQL 15 pgbench.
const pgbenchBin = "/usr/lib/postgresql/15/bin/pgbench"

// baselineStep is one pgbench run at one concurrency.
type baselineStep struct {
	Clients   int
	TPS       float64
	Latencies []time.Duration // from pgbench's per-transaction log
	Failed    int
}

// baselineResult is scenario (e).
type baselineResult struct {
	Steps []baselineStep
	Err   string // set when the baseline could not be measured
}

// at is the step at c clients (nil when none).
func (b baselineResult) at(c int) *baselineStep {
	for i := range b.Steps {
		if b.Steps[i].Clients == c {
			return &b.Steps[i]
		}
	}
	return nil
}

// baselineAccounts is how many funded accounts the script spreads over,
// like the withdrawal scenario.
const baselineDB = "bench_baseline"

// withdrawalScript does, in SQL, the writes of one POST /api/v1/withdrawals
// (services/withdrawal/internal/store RequestWithdrawal and
// libs/idempotency): claim the Idempotency-Key; in one transaction create
// and lock the account and its hold account, insert the withdrawal, the
// transfer, its two hash-chained entries, update both accounts and add the
// outbox row; then store the response under the key. SHA-256 is computed
// by PostgreSQL here, by Go in the service.
const withdrawalScript = `\set uid random(1, :accounts)
\set k random(1, 9000000000000000000)
INSERT INTO idempotency_keys (caller, key, request_hash, method, path, created_at)
  VALUES ('1', 'pgb-' || :k, sha256(convert_to('pgb-' || :k, 'UTF8')), 'POST', '/api/v1/withdrawals', now());
BEGIN;
INSERT INTO accounts (account, owner_type, owner_id) VALUES ('held:user:' || :uid, 'hold', :uid) ON CONFLICT (account) DO NOTHING;
INSERT INTO accounts (account, owner_type, owner_id) VALUES ('user:' || :uid, 'user', :uid) ON CONFLICT (account) DO NOTHING;
SELECT account, available::text, last_hash FROM accounts WHERE account = ANY (ARRAY['held:user:' || :uid, 'user:' || :uid]) ORDER BY account FOR UPDATE;
INSERT INTO withdrawals (from_type, owner_id, account, amount, status, requested_by)
  VALUES ('user', :uid, 'user:' || :uid, 0.0001, 'pending', 1) RETURNING id AS wid \gset
INSERT INTO transfers (kind, ref_type, ref_id, created_at) VALUES ('withdrawal_hold', 'withdrawal', :wid, now()) RETURNING id AS tid \gset
INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash)
  SELECT :tid, account, -0.0001, 'withdrawal_hold', 'withdrawal', :wid, now(), last_hash,
         sha256(coalesce(last_hash, ''::bytea) || convert_to(account || '|-0.0001|' || :tid, 'UTF8'))
    FROM accounts WHERE account = 'user:' || :uid;
INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash)
  SELECT :tid, account, 0.0001, 'withdrawal_hold', 'withdrawal', :wid, now(), last_hash,
         sha256(coalesce(last_hash, ''::bytea) || convert_to(account || '|0.0001|' || :tid, 'UTF8'))
    FROM accounts WHERE account = 'held:user:' || :uid;
UPDATE accounts SET held = held + 0.0001, balance = balance - 0.0001,
       last_hash = (SELECT hash FROM entries WHERE transfer_id = :tid AND account = 'user:' || :uid) WHERE account = 'user:' || :uid;
UPDATE accounts SET balance = balance + 0.0001,
       last_hash = (SELECT hash FROM entries WHERE transfer_id = :tid AND account = 'held:user:' || :uid) WHERE account = 'held:user:' || :uid;
INSERT INTO outbox (event_id, topic, key, type, payload, headers)
  VALUES (gen_random_uuid(), 'withdrawal.events', 'user:' || :uid, 'withdrawal.requested',
    ('{"id":"' || gen_random_uuid() || '","type":"withdrawal.requested","version":1,"source":"withdrawal","time":"' || now() ||
     '","subject":"withdrawal/' || :wid || '","data":{"withdrawal_id":' || :wid || ',"from_type":"user","owner_id":' || :uid ||
     ',"account":"user:' || :uid || '","amount":"0.00010000","status":"pending","reason":null}}')::json, '{}');
COMMIT;
UPDATE idempotency_keys SET status = 201, response_body = convert_to('{"isOK":true,"message":"Success","data":{"id":' || :wid || '}}', 'UTF8'),
       response_headers = '{}', completed_at = now()
 WHERE caller = '1' AND key = 'pgb-' || :k AND status IS NULL;
`

// migrationUp is the Up part of a goose migration.
func migrationUp(sql string) string {
	up, _, _ := strings.Cut(sql, "-- +goose Down")
	return up
}

// prepareBaseline creates the scratch database with the withdrawal
// service's own migrations (read from the repository) and funds the
// accounts.
func prepareBaseline(ctx context.Context, repo, adminURL string, accounts int) (string, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+baselineDB); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+baselineDB); err != nil {
		return "", err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + baselineDB
	dbURL := u.String()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// The service's whole history, its own files and the libraries' (outbox,
	// inbox, Idempotency-Key store) in goose order.
	history, err := migrationlint.History(repo, "withdrawal")
	if err != nil {
		return "", err
	}
	for _, m := range history {
		// Simple protocol: a file is many statements.
		if _, err := conn.PgConn().Exec(ctx, migrationUp(m.Content)).ReadAll(); err != nil {
			return "", fmt.Errorf("migration %s: %w", filepath.Base(m.Path), err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO accounts (account, owner_type, owner_id, credited, balance)
		SELECT 'user:' || g, 'user', g, 1000000, 1000000 FROM generate_series(1, $1::int) g`, accounts); err != nil {
		return "", err
	}
	return dbURL, nil
}

// dropBaseline drops the scratch database and checkpoints, so that the
// scenarios measured after the baseline run neither beside its tables nor
// during the checkpoint of its writes.
func dropBaseline(ctx context.Context, p *progress, adminURL string) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err == nil {
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+baselineDB+" WITH (FORCE)")
	}
	if err == nil {
		_, err = admin.Exec(ctx, "CHECKPOINT")
	}
	if err != nil {
		p.stepf("pgbench: dropping the scratch database: %v", err)
	}
}

var (
	tpsLine    = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	failedLine = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// runPgbench runs the script at each concurrency for d.
func runPgbench(ctx context.Context, p *progress, repo, adminURL string, accounts int, clients []int, d time.Duration) baselineResult {
	if _, err := os.Stat(pgbenchBin); err != nil {
		return baselineResult{Err: "pgbench not found: " + err.Error()}
	}
	dbURL, err := prepareBaseline(ctx, repo, adminURL, accounts)
	if err != nil {
		return baselineResult{Err: "preparing the scratch database: " + err.Error()}
	}
	defer dropBaseline(ctx, p, adminURL)
	dir, err := os.MkdirTemp("", "bench-pgbench-")
	if err != nil {
		return baselineResult{Err: err.Error()}
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "withdrawal.sql")
	if err := os.WriteFile(script, []byte(withdrawalScript), 0o644); err != nil {
		return baselineResult{Err: err.Error()}
	}
	var out baselineResult
	for _, c := range clients {
		prefix := filepath.Join(dir, fmt.Sprintf("c%d", c))
		cmd := exec.CommandContext(ctx, pgbenchBin, "-n", "-c", strconv.Itoa(c), "-j", strconv.Itoa(min(c, 2)),
			"-T", strconv.Itoa(int(d.Seconds())), "-D", "accounts="+strconv.Itoa(accounts), "-f", script,
			"--log", "--log-prefix="+prefix, dbURL)
		cmd.Dir = dir
		raw, err := cmd.CombinedOutput()
		if err != nil {
			out.Err = fmt.Sprintf("pgbench -c %d: %v: %s", c, err, lastLines(string(raw), 5))
			return out
		}
		st := baselineStep{Clients: c}
		if m := tpsLine.FindStringSubmatch(string(raw)); m != nil {
			st.TPS, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := failedLine.FindStringSubmatch(string(raw)); m != nil {
			st.Failed, _ = strconv.Atoi(m[1])
		}
		st.Latencies, err = readPgbenchLogs(prefix)
		if err != nil {
			out.Err = err.Error()
			return out
		}
		out.Steps = append(out.Steps, st)
		p.stepf("pgbench: %d clients: %.0f tps, p50 %.1f ms, p99 %.1f ms", c, st.TPS,
			ms(percentile(st.Latencies, 50)), ms(percentile(st.Latencies, 99)))
	}
	return out
}

// readPgbenchLogs reads the per-transaction logs written under prefix
// (one file per thread): the third field is the latency in microseconds.
func readPgbenchLogs(prefix string) ([]time.Duration, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			lat = appendPgbenchLatency(lat, sc.Text())
		}
		fh.Close()
	}
	return lat, nil
}

// appendPgbenchLatency parses one line of pgbench's per-transaction log
// ("client_id transaction_no time script_no time_epoch time_us"); time is
// the latency in µs, or "failed"/"skipped".
func appendPgbenchLatency(lat []time.Duration, line string) []time.Duration {
	f := strings.Fields(line)
	if len(f) < 3 {
		return lat
	}
	us, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return lat
	}
	return append(lat, time.Duration(us)*time.Microsecond)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
