package stack

import (
	"fmt"
	"strings"
)

// Banner is the text printed once the stack is ready: where everything is
// and how to log in. Database passwords are redacted; the bootstrap admin's
// password is shown, as this is a throwaway local stack.
func (r Ready) Banner() string {
	var b strings.Builder
	line := strings.Repeat("=", 78)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-12s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "\n%s\n  Fund platform dev stack is ready\n\n", line)
	row("Edge", "%s   (try: curl %s/api/v1/health)", r.EdgeURL, r.EdgeURL)
	label := "Services"
	for _, s := range r.Services {
		replicas := s.Replicas
		if len(replicas) == 0 {
			replicas = []Replica{{Name: s.Name, Port: s.Port, URL: s.URL}}
		}
		for _, rep := range replicas {
			row(label, "%-13s port %d   %s/readyz", rep.Name, rep.Port, rep.URL)
			label = ""
		}
		if s.InternalURL != "" && s.InternalURL != s.URL {
			row("", "%-13s %s   (balanced over its replicas for the other services)", "", s.InternalURL)
		}
	}
	if len(r.Services) == 0 {
		row("Services", "none started")
	}
	if len(r.Skipped) > 0 {
		row("Not started", "%s (no binary)", strings.Join(r.Skipped, ", "))
	}
	kafka := strings.Join(r.KafkaBrokers, ",")
	if r.KafkaEmbedded {
		kafka += "   (in-process kfake, data lost on stop)"
	}
	row("Kafka", "%s", kafka)
	if r.PostgresURL != "" {
		row("PostgreSQL", "%s   (throwaway cluster, wiped at next start)", Redact(r.PostgresURL))
	}
	for _, s := range r.Services {
		row("  "+s.Name, "%s", Redact(s.DatabaseURL))
	}
	for i, e := range r.Exporters {
		label := ""
		if i == 0 {
			label = "PG metrics"
		}
		row(label, "%-11s %s/metrics", e.Service, e.URL)
	}
	if r.TracesFile != "" {
		row("Traces", "%s   (OTLP/HTTP in at %s)", r.TracesFile, r.OTLPEndpoint)
		row("", "go run ./devstack/cmd/traces -trace <trace_id of a log line>")
	}
	fmt.Fprintln(&b)
	row("Admin", "%s", r.AdminEmail)
	row("Password", "%s", r.AdminPassword)
	if r.authDBKept {
		row("", "(the auth service creates this admin only if its database has no users yet)")
	}
	row("Signing key", "%s", r.SigningKeyFile)
	fmt.Fprintf(&b, "\n  Log in:  curl -s %s/api/v1/auth/login -H 'Content-Type: application/json' \\\n", r.EdgeURL)
	fmt.Fprintf(&b, "             -d '{\"email\":\"%s\",\"password\":\"%s\"}'\n", r.AdminEmail, r.AdminPassword)
	fmt.Fprintf(&b, "  Ctrl-C stops everything.\n%s\n\n", line)
	return b.String()
}
