package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// target is a figure's goal: at most or at least a value, or none.
type target struct {
	Op    string // "<=", ">=" or "" (no target)
	Value float64
	Unit  string
}

func atMost(v float64, unit string) target  { return target{"<=", v, unit} }
func atLeast(v float64, unit string) target { return target{">=", v, unit} }
func none(unit string) target               { return target{Unit: unit} }

func (t target) String() string {
	switch t.Op {
	case "<=":
		return "≤ " + targetNum(t.Value) + " " + t.Unit
	case ">=":
		return "≥ " + targetNum(t.Value) + " " + t.Unit
	}
	return "—"
}

// met says whether v meets t: "yes", "**no**", or "—" without a target or
// a value.
func (t target) met(v float64) string {
	if t.Op == "" || math.IsNaN(v) {
		return "—"
	}
	if (t.Op == "<=" && v <= t.Value) || (t.Op == ">=" && v >= t.Value) {
		return "yes"
	}
	return "**no**"
}

// targetNum formats a target's value: whole numbers without decimals.
func targetNum(v float64) string {
	if v == math.Trunc(v) {
		return thousands(fmt.Sprintf("%.0f", v))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// num formats a figure: integers above 100 without decimals, with thin
// thousands separators; smaller values with up to two decimals.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 100:
		return thousands(fmt.Sprintf("%.0f", v))
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// thousands puts a space between groups of three digits of an integer.
func thousands(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteString(" ")
		}
		b.WriteRune(r)
	}
	return b.String()
}

// row is one line of the figures table.
type row struct {
	Section  string
	Figure   string
	Measured string
	Target   string
	Met      string
	Baseline string // the ratio to the pgbench baseline, or "—"
}

// figure makes a row from a measured value against its target.
func figure(section, name string, v float64, t target, baseline string) row {
	if baseline == "" {
		baseline = "—"
	}
	return row{Section: section, Figure: name, Measured: num(v) + " " + t.Unit, Target: t.String(), Met: t.met(v), Baseline: baseline}
}

// notMeasured makes a row for a figure that could not be measured.
func notMeasured(section, name string, t target, why string) row {
	return row{Section: section, Figure: name, Measured: why, Target: t.String(), Met: "—", Baseline: "—"}
}

// machine describes where the run happened.
type machine struct {
	CPU      string
	Cores    int
	RAM      int64
	Go       string
	Postgres string
	// LoadStart and LoadEnd are the load averages (1 / 5 / 15 min) when
	// the stack was up and when the scenarios were over.
	LoadStart, LoadEnd string
}

// report is everything docs/benchmarks.md shows.
type report struct {
	Machine  machine
	Date     time.Time
	Duration time.Duration
	Mode     string
	Command  string
	Rows     []row
	Steps    []stepRow // withdrawals vs pgbench per concurrency
	Procs    []procUsage
	Phases   []string
	Notes    []string
	Plot     string // file name of the latency plot, "" when none
	Missed   []missed
}

// stepRow is one concurrency of the withdrawal/pgbench comparison.
type stepRow struct {
	Clients               int
	RPS, P50, P99         float64
	Errors                int
	TPS, BaseP50, BaseP99 float64
	Ratio                 float64
	RatioTarget           target
}

const mib = 1 << 20

// render writes the report as Markdown.
func render(w io.Writer, r report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Measured by `%s` (package `devstack/bench`) in one run against the dev stack: the real service\n", r.Command)
	fmt.Fprintf(&b, "binaries, PostgreSQL, the in-process Kafka broker and the edge, all on one machine. Every figure\n")
	fmt.Fprintf(&b, "below comes from that run; where a target is missed, the table says **no**.\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Date | %s |\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "| CPU | %s |\n", r.Machine.CPU)
	fmt.Fprintf(&b, "| Cores | %d |\n", r.Machine.Cores)
	fmt.Fprintf(&b, "| RAM | %.1f GiB |\n", float64(r.Machine.RAM)/(1<<30))
	fmt.Fprintf(&b, "| Go | %s |\n", r.Machine.Go)
	fmt.Fprintf(&b, "| PostgreSQL | %s |\n", r.Machine.Postgres)
	if r.Machine.LoadStart != "" {
		fmt.Fprintf(&b, "| Load average (1 / 5 / 15 min) | %s at the start, %s at the end |\n", r.Machine.LoadStart, orText(r.Machine.LoadEnd, "unknown"))
	}
	fmt.Fprintf(&b, "| Mode | %s |\n", r.Mode)
	fmt.Fprintf(&b, "| Run time | %s |\n\n", r.Duration.Round(time.Second))

	fmt.Fprintf(&b, "## Figures\n\n")
	fmt.Fprintf(&b, "The baseline is pgbench running the same writes as one withdrawal (see Method) in the same run.\n\n")
	fmt.Fprintf(&b, "| | Figure | Measured | Target | Met | vs baseline |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.Section, x.Figure, cell(x.Measured), x.Target, x.Met, cell(x.Baseline))
	}
	renderMissed(&b, r.Missed)
	if len(r.Steps) > 0 {
		fmt.Fprintf(&b, "\n## Withdrawals and the pgbench baseline by concurrency\n\n")
		fmt.Fprintf(&b, "| Concurrency | Withdrawals/s | p50 ms | p99 ms | Errors | pgbench tps | pgbench p50 ms | pgbench p99 ms | Ratio | Target | Met |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Steps {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", s.Clients, num(s.RPS), num(s.P50), num(s.P99),
				s.Errors, num(s.TPS), num(s.BaseP50), num(s.BaseP99), num(s.Ratio), s.RatioTarget, s.RatioTarget.met(s.Ratio))
		}
	}
	if r.Plot != "" {
		fmt.Fprintf(&b, "\n![Latency percentiles by concurrency](%s)\n", r.Plot)
	}
	if len(r.Procs) > 0 {
		fmt.Fprintf(&b, "\n## CPU seconds by phase\n\n| Process | Peak RSS | CPU s |")
		for _, ph := range r.Phases {
			fmt.Fprintf(&b, " %s |", ph)
		}
		fmt.Fprintf(&b, "\n|---|---|---|%s\n", strings.Repeat("---|", len(r.Phases)))
		for _, p := range r.Procs {
			rss := "—"
			if p.PeakRSS > 0 {
				rss = fmt.Sprintf("%.1f MiB", float64(p.PeakRSS)/mib)
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f |", p.Name, rss, p.CPU.Seconds())
			for i := range r.Phases {
				v := 0.0
				if i < len(p.PhaseCPU) {
					v = p.PhaseCPU[i].Seconds()
				}
				fmt.Fprintf(&b, " %.1f |", v)
			}
			b.WriteString("\n")
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\n## Method\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a table cell on one line.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
