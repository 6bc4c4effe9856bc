package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDatabaseURLFor(t *testing.T) {
	cases := []struct{ admin, want string }{
		{"postgres://admin:pw@db:5432/postgres?sslmode=disable", "postgres://admin:pw@db:5432/profit?sslmode=disable"},
		{"postgresql://db/", "postgresql://db/profit"},
		{"postgres://db", "postgres://db/profit"},
	}
	for _, c := range cases {
		got, err := DatabaseURLFor(c.admin, "profit")
		if err != nil || got != c.want {
			t.Errorf("DatabaseURLFor(%q) = %q, %v; want %q", c.admin, got, err, c.want)
		}
	}
	for _, bad := range []string{"host=db dbname=x", "mysql://db/x", "postgres:///x", "::"} {
		if _, err := DatabaseURLFor(bad, "profit"); err == nil {
			t.Errorf("DatabaseURLFor(%q) accepted", bad)
		}
	}
}

func TestPlanDatabases(t *testing.T) {
	services := []string{"auth", "portfolio", "stats"}
	cfg := Config{ServiceDatabaseURLs: map[string]string{"stats": "postgres://x/stats"}}
	got := planDatabases(services, cfg)
	want := map[string]dbSource{"auth": dbLocal, "portfolio": dbLocal, "stats": dbOwnURL}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("no DATABASE_URL: %v, want %v", got, want)
	}
	cfg.DatabaseURL = "postgres://admin@db/postgres"
	got = planDatabases(services, cfg)
	want = map[string]dbSource{"auth": dbServer, "portfolio": dbServer, "stats": dbOwnURL}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with DATABASE_URL: %v, want %v", got, want)
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") || !strings.Contains(got, "u:xxxxx@h/db") {
		t.Fatalf("Redact = %q", got)
	}
	if got := Redact("postgres://u@h/db?sslmode=disable"); got != "postgres://u@h/db?sslmode=disable" {
		t.Fatalf("Redact changed a URL without password: %q", got)
	}
}

func TestMergeEnvReplacesOurVariables(t *testing.T) {
	got := MergeEnv([]string{"PATH=/bin", "HTTP_ADDR=:1", "X=1", "DATABASE_URL=admin"},
		[]string{"HTTP_ADDR=127.0.0.1:8081", "DATABASE_URL=svc"})
	want := []string{"PATH=/bin", "X=1", "HTTP_ADDR=127.0.0.1:8081", "DATABASE_URL=svc"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MergeEnv = %q, want %q", got, want)
	}
}

func TestEnvFileRoundTripsThroughTheShell(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.env")
	env := []string{"A=plain", "B=has space", "C=it's", "D=postgres://u:p@h/db?sslmode=disable", "E="}
	if err := writeEnvFile(path, env); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	out, err := exec.Command("/bin/sh", "-c", `set -a; . "$0"; printf '%s|%s|%s|%s|%s' "$A" "$B" "$C" "$D" "${E-unset}"`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := string(out), "plain|has space|it's|postgres://u:p@h/db?sslmode=disable|"; got != want {
		t.Fatalf("sourced %q, want %q", got, want)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := NewPassword(24)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 24 || strings.Trim(p, passwordAlphabet) != "" ||
			!strings.ContainsAny(p, "0123456789") || !strings.ContainsAny(p, "abcdefghijklmnopqrstuvwxyz") ||
			!strings.ContainsAny(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("bad password %q", p)
		}
		if seen[p] {
			t.Fatalf("password repeated: %q", p)
		}
		seen[p] = true
	}
}

func TestWriteSigningKeyReplacesAndRestricts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSigningKey(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n") {
		t.Fatalf("not a PRIVATE KEY PEM: %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
}

func TestBannerShowsWhatADeveloperNeeds(t *testing.T) {
	r := Ready{
		EdgeURL:       "http://127.0.0.1:8080",
		Services:      []ServiceInfo{{Name: "auth", Port: 8081, URL: "http://127.0.0.1:8081", DatabaseURL: "postgres://u:pw@h/auth"}},
		Skipped:       []string{"stats"},
		KafkaBrokers:  []string{"127.0.0.1:9092"},
		KafkaEmbedded: true,
		PostgresURL:   "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable",
		AdminEmail:    "admin@fund.local", AdminPassword: "Secret123secret123XYZ",
		SigningKeyFile: "/r/.devstack/jwt-signing-key.pem",
	}
	b := r.Banner()
	for _, want := range []string{"http://127.0.0.1:8080", "auth", "8081", "stats (no binary)", "127.0.0.1:9092",
		"postgres://postgres@127.0.0.1:5433/postgres", "postgres://u:xxxxx@h/auth", "admin@fund.local",
		"Secret123secret123XYZ", "Ctrl-C"} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, ":pw@") {
		t.Errorf("banner shows a database password:\n%s", b)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{RepoDir: "/r"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "/r/.devstack" || c.BinDir != "/r/.devstack/bin" || c.AdminEmail != DefaultAdminEmail ||
		c.ReadyTimeout.Seconds() != 60 || c.StopTimeout.Seconds() != 10 {
		t.Fatalf("defaults: %+v", c)
	}
	if _, err := (Config{}).withDefaults(); err == nil {
		t.Fatal("a config without RepoDir or StateDir was accepted")
	}
	if _, err := (Config{RepoDir: "/r", Services: []string{"billing"}}).withDefaults(); err == nil {
		t.Fatal("an unknown service was accepted")
	}
	d := DefaultConfig("/r")
	if d.EdgeAddr != "127.0.0.1:8080" || d.KafkaPort != 9092 || d.Ports["auth"] != 8081 || d.Ports["stats"] != 8085 {
		t.Fatalf("DefaultConfig: %+v", d)
	}
	d.Ports["auth"] = 1
	if DefaultPorts["auth"] != 8081 {
		t.Fatal("DefaultConfig shares DefaultPorts")
	}
}
