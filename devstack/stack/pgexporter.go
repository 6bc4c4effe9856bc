package stack

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/fundplatform/platform/devstack/internal/supervisor"
)

// ExporterBinary is the PostgreSQL exporter the stack runs for each service
// database when it is installed (`make deps` installs Debian's package), as
// docker-compose.yml and the Helm chart do.
const ExporterBinary = "prometheus-postgres-exporter"

// ExporterQueries is the exporter's extra queries file, relative to the
// repository (docs/operations.md#postgresql).
const ExporterQueries = "deploy/postgres/exporter-queries.yaml"

// Exporter is a running PostgreSQL exporter: the service whose database it
// watches and where it serves /metrics.
type Exporter struct {
	Service string
	URL     string
}

// exporterName names the exporter of a service's database (its process and
// its port).
func exporterName(service string) string { return "pg-exporter-" + service }

// startExporters starts one exporter per service database, on a free port
// of 127.0.0.1 (picked by allocatePorts), supervised like the services; without the binary the stack
// runs without PostgreSQL metrics and says so.
func (s *Stack) startExporters(services []string, dbURLs map[string]string, ports map[string]int) error {
	if !s.cfg.PostgresExporters {
		return nil
	}
	path, err := exec.LookPath(ExporterBinary)
	if err != nil {
		s.logf("%s is not installed: no PostgreSQL metrics (make deps installs it)", ExporterBinary)
		return nil
	}
	for _, name := range services {
		addr := "127.0.0.1:" + strconv.Itoa(ports[exporterName(name)])
		args := []string{"--web.listen-address=" + addr, "--log.level=warn"}
		if s.cfg.RepoDir != "" {
			args = append(args, "--extend.query-path="+filepath.Join(s.cfg.RepoDir, ExporterQueries))
		}
		p, err := s.sup.Start(supervisor.Spec{
			Name:   exporterName(name),
			Path:   path,
			Args:   args,
			Env:    []string{"DATA_SOURCE_NAME=" + dbURLs[name]},
			Stdout: s.mux.Writer("pg-exporter"),
			Stderr: s.mux.Writer("pg-exporter"),
		})
		if err != nil {
			return fmt.Errorf("start the PostgreSQL exporter of %s: %w", name, err)
		}
		e := Exporter{Service: name, URL: "http://" + addr}
		s.ready.Exporters = append(s.ready.Exporters, e)
		s.logf("started the PostgreSQL exporter of %s on %s (pid %d)", name, e.URL, p.PID())
	}
	return nil
}
