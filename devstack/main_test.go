package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig([]string{"-repo", "/r"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RepoDir != "/r" || cfg.EdgeAddr != "127.0.0.1:8080" || cfg.KafkaPort != 9092 || cfg.PGPort != 0 ||
		cfg.Ports["auth"] != 8081 || cfg.Ports["portfolio"] != 8082 || cfg.Ports["profit"] != 8083 ||
		cfg.Ports["withdrawal"] != 8084 || cfg.Ports["stats"] != 8085 ||
		cfg.ReadyTimeout != time.Minute || cfg.StopTimeout != 10*time.Second || cfg.Restart ||
		cfg.DatabaseURL != "" || len(cfg.KafkaBrokers) != 0 || len(cfg.ServiceDatabaseURLs) != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestParseConfigEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"DEVSTACK_REPO": "/envrepo", "DEVSTACK_BIN": "/envbin", "EDGE_ADDR": ":9000",
		"AUTH_PORT": "9001", "STATS_PORT": "9005", "PG_PORT": "5433", "KAFKA_PORT": "0",
		"DEVSTACK_TIMEOUT": "5s", "DEVSTACK_RESTART": "true",
		"DATABASE_URL": "postgres://admin@db/postgres", "PROFIT_DATABASE_URL": "postgres://p@db/p",
		"KAFKA_BROKERS": "k1:9092, k2:9092,", "BOOTSTRAP_ADMIN_EMAIL": "root@x", "BOOTSTRAP_ADMIN_PASSWORD": "pw",
		"JWT_SIGNING_KEY_FILE": "/k.pem", "DEVSTACK_REPLICAS": "3", "KAFKA_PARTITIONS": "4",
	})
	cfg, err := parseConfig([]string{"-auth-port", "7001", "-timeout", "7s", "-replicas", "2"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RepoDir != "/envrepo" || cfg.BinDir != "/envbin" || cfg.EdgeAddr != ":9000" || cfg.PGPort != 5433 || cfg.KafkaPort != 0 {
		t.Errorf("env not applied: %+v", cfg)
	}
	if cfg.Ports["auth"] != 7001 || cfg.Ports["stats"] != 9005 || cfg.Ports["profit"] != 8083 {
		t.Errorf("ports: %v (flag must win over env)", cfg.Ports)
	}
	if cfg.Replicas != 2 || cfg.Partitions != 4 {
		t.Errorf("replicas %d partitions %d, want 2 (flag over env) and 4", cfg.Replicas, cfg.Partitions)
	}
	if cfg.ReadyTimeout != 7*time.Second || !cfg.Restart {
		t.Errorf("timeout %v restart %v", cfg.ReadyTimeout, cfg.Restart)
	}
	if cfg.DatabaseURL != "postgres://admin@db/postgres" || cfg.ServiceDatabaseURLs["profit"] != "postgres://p@db/p" || len(cfg.ServiceDatabaseURLs) != 1 {
		t.Errorf("databases: %q %v", cfg.DatabaseURL, cfg.ServiceDatabaseURLs)
	}
	if strings.Join(cfg.KafkaBrokers, ",") != "k1:9092,k2:9092" {
		t.Errorf("brokers: %q", cfg.KafkaBrokers)
	}
	if cfg.AdminEmail != "root@x" || cfg.AdminPassword != "pw" || cfg.SigningKeyFile != "/k.pem" {
		t.Errorf("auth settings: %+v", cfg)
	}
}

func TestParseConfigRejectsBadValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"AUTH_PORT": "http"}},
		{nil, map[string]string{"KAFKA_PORT": "70000"}},
		{nil, map[string]string{"DEVSTACK_TIMEOUT": "soon"}},
		{nil, map[string]string{"DEVSTACK_RESTART": "maybe"}},
		{[]string{"-auth-port", "-1"}, nil},
		{[]string{"-replicas", "0"}, nil},
		{[]string{"-replicas", "21"}, nil},
		{[]string{"-partitions", "0"}, nil},
		{[]string{"extra"}, nil},
		{[]string{"-nope"}, nil},
	} {
		if _, err := parseConfig(append([]string{"-repo", "/r"}, c.args...), env(c.env), io.Discard); err == nil {
			t.Errorf("args %q env %v accepted", c.args, c.env)
		}
	}
}

func TestHelpListsEveryFlagAndVariable(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"-repo", "-bin", "-edge-addr", "EDGE_ADDR", "-auth-port", "AUTH_PORT",
		"-stats-port", "STATS_PORT", "PG_PORT", "KAFKA_PORT", "-timeout", "-restart", "-replicas", "DEVSTACK_REPLICAS", "-partitions", "KAFKA_PARTITIONS", "DATABASE_URL",
		"AUTH_DATABASE_URL", "KAFKA_BROKERS", "BOOTSTRAP_ADMIN_EMAIL", "BOOTSTRAP_ADMIN_PASSWORD",
		"JWT_SIGNING_KEY_FILE", "by hand"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if code := run([]string{"-h"}, env(nil), io.Discard, io.Discard); code != 0 {
		t.Errorf("-h exits %d", code)
	}
	if code := run([]string{"-bogus"}, env(nil), io.Discard, io.Discard); code != 2 {
		t.Errorf("a bad flag exits %d, want 2", code)
	}
}

func TestFindRepo(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "services", "auth", "cmd")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := findRepo(deep)
	if err != nil || got != root {
		t.Fatalf("findRepo = %q, %v; want %q", got, err, root)
	}
	if _, err := findRepo(t.TempDir()); err == nil {
		t.Fatal("found a repo where there is none")
	}
}
