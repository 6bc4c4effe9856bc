package main

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
)

// describeMachine reads the CPU model and RAM from /proc and asks the
// stack's PostgreSQL for its version.
func describeMachine(ctx context.Context, pgURL string) machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), Go: runtime.Version(), Postgres: "unknown", LoadStart: loadAverage()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kib, ok := parseStatusKiB(b, "MemTotal"); ok {
			m.RAM = kib * 1024
		}
	}
	if pgURL != "" {
		if conn, err := pgx.Connect(ctx, pgURL); err == nil {
			var v string
			if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
				m.Postgres = v
			}
			conn.Close(ctx)
		}
	}
	return m
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute load averages: the
// machine may be shared with other work, which every figure includes.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " / ")
}
