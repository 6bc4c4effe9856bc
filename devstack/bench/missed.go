package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
)

// missed is one missed target in the report's "Missed targets" section:
// the figure, and the data of the run that shows where the time or the
// CPU went.
type missed struct {
	Section, Figure, Measured, Target string
	// Data are the run's figures on the phase the target was measured in.
	Data []string
	// Profile names the CPU profile summary of the service that used the
	// most CPU in that phase; Top is the head of it.
	Profile, Top string
}

// sectionPhase maps a figures section to the phase (procWatch.mark) it
// was measured in and the CPU profile taken during its measured step.
var sectionPhase = map[string]struct{ phase, profile string }{
	"(a) withdrawals":   {"withdrawals", "withdrawals-half-peak"},
	"(b) NAV → stats":   {"nav", "nav-paced"},
	"(c) stats queries": {"stats", "stats-queries"},
}

// profileInfo is what the report knows of the run's CPU profiles.
type profileInfo struct {
	Dir  string            // where the summaries are, relative to the report ("" when none)
	Tops map[string]string // "<phase>-<service>" → `go tool pprof -top` output
	Why  string            // why there are none
}

// topLines is how many lines of a profile's cumulative top the report
// quotes.
const topLines = 20

// missedTargets lists every row whose target is missed, with the data of
// its phase: the CPU of every process during it, the dominant service's
// profile and, for the NAV lag, the legs of the traced NAVs and the
// stages' backlogs.
func missedTargets(rows []row, res runResults, phases []string, prof profileInfo) []missed {
	var out []missed
	// The ratio to pgbench at each concurrency has a target too.
	for _, st := range steps(res) {
		if st.RatioTarget.met(st.Ratio) == "**no**" {
			rows = append(rows, row{Section: "(a) withdrawals", Figure: fmt.Sprintf("withdrawals/s ÷ pgbench tps at concurrency %d", st.Clients),
				Measured: fmt.Sprintf("%s × pgbench (%s req/s, pgbench %s tps)", num(st.Ratio), num(st.RPS), num(st.TPS)),
				Target:   st.RatioTarget.String(), Met: "**no**"})
		}
	}
	for _, r := range rows {
		if !strings.HasPrefix(r.Met, "**no**") {
			continue
		}
		m := missed{Section: r.Section, Figure: r.Figure, Measured: r.Measured, Target: r.Target}
		sp, ok := sectionPhase[r.Section]
		if !ok {
			out = append(out, m)
			continue
		}
		i := slices.Index(phases, sp.phase)
		if i >= 0 {
			cpu, top := phaseCPU(res.Procs, i)
			m.Data = append(m.Data, fmt.Sprintf("CPU seconds during the %s phase: %s.", sp.phase, cpu))
			if top != "" {
				name := sp.profile + "-" + top
				if t, ok := prof.Tops[name]; ok {
					m.Profile, m.Top = filepath.ToSlash(filepath.Join(prof.Dir, name+".txt")), headLines(t, topLines)
				} else {
					m.Data = append(m.Data, fmt.Sprintf("No CPU profile of %s for this phase: %s.", top, orText(prof.Why, "none was written")))
				}
			}
		}
		if r.Section == "(b) NAV → stats" && res.NAV != nil {
			m.Data = append(m.Data, navData(res.NAV)...)
			if svc := slowestLegService(res.NAV.Hops); svc != "" && prof.Tops[sp.profile+"-"+svc] != "" && m.Profile != "" &&
				!strings.HasSuffix(m.Profile, "-"+svc+".txt") {
				path := filepath.ToSlash(filepath.Join(prof.Dir, sp.profile+"-"+svc+".txt"))
				m.Data = append(m.Data, fmt.Sprintf("The leg with the largest p99 is the %s service's; its profile over the same step: [%s](%s).",
					svc, filepath.Base(path), path))
			}
		}
		out = append(out, m)
	}
	return out
}

// phaseCPU lists the CPU of every process in phase i, largest first, and
// names the service (not PostgreSQL, not the bench process) that used
// the most.
func phaseCPU(procs []procUsage, i int) (string, string) {
	type use struct {
		name string
		cpu  time.Duration
	}
	var uses []use
	top, most := "", time.Duration(-1)
	for _, p := range procs {
		if i >= len(p.PhaseCPU) {
			continue
		}
		uses = append(uses, use{p.Name, p.PhaseCPU[i]})
		if slices.Contains(edge.Services, p.Name) && p.PhaseCPU[i] > most {
			top, most = p.Name, p.PhaseCPU[i]
		}
	}
	slices.SortStableFunc(uses, func(a, b use) int { return int(b.cpu - a.cpu) })
	parts := make([]string, len(uses))
	for k, u := range uses {
		parts[k] = fmt.Sprintf("%s %.1f", u.name, u.cpu.Seconds())
	}
	return strings.Join(parts, ", "), top
}

// navData is what the NAV trace measured of where the lag went: each
// leg, the leg with the largest p99, and the stages' backlogs.
func navData(n *navResult) []string {
	var out []string
	if len(n.Hops) > 0 {
		out = append(out, "Legs of the traced NAVs (p50 / p99 each; they add up per NAV, not per percentile): "+hopsSummary(n.Hops)+".")
		worst := slices.MaxFunc(n.Hops, func(a, b hop) int { return int(a.P99 - b.P99) })
		out = append(out, fmt.Sprintf("The leg with the largest p99 is %s: %.1f ms of the lag's p99 of %.1f ms.",
			worst.Name, worst.P99.Seconds()*1000, ms(percentile(n.CommitLags, 99))))
	}
	if n.HopsErr != "" {
		out = append(out, "The NAVs were not traced: "+n.HopsErr+".")
	}
	if n.Backlog != "" {
		out = append(out, "Largest backlog of each stage during the paced step and its drain: "+n.Backlog+".")
	}
	return out
}

// slowestLegService is the service whose leg has the largest p99 (each
// leg's name names its service), "" when none does.
func slowestLegService(hops []hop) string {
	if len(hops) == 0 {
		return ""
	}
	worst := slices.MaxFunc(hops, func(a, b hop) int { return int(a.P99 - b.P99) })
	for _, svc := range []string{edge.Stats, edge.Profit, edge.Portfolio} {
		if strings.Contains(worst.Name, svc) {
			return svc
		}
	}
	return ""
}

// headLines is the first n lines of a pprof top, without the lines
// naming the file, its build and its time.
func headLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if !strings.HasPrefix(l, "File: ") && !strings.HasPrefix(l, "Build ID: ") && !strings.HasPrefix(l, "Time: ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// renderMissed writes the "Missed targets" section.
func renderMissed(b *strings.Builder, ms []missed) {
	fmt.Fprintf(b, "\n## Missed targets\n\n")
	if len(ms) == 0 {
		fmt.Fprintf(b, "None: every figure with a target met it.\n")
		return
	}
	quoted := map[string]bool{}
	for _, m := range ms {
		fmt.Fprintf(b, "### %s: %s\n\n", m.Section, m.Figure)
		fmt.Fprintf(b, "Measured %s; target %s.\n\n", m.Measured, m.Target)
		for _, d := range m.Data {
			fmt.Fprintf(b, "- %s\n", d)
		}
		if len(m.Data) > 0 {
			b.WriteString("\n")
		}
		if m.Profile != "" && quoted[m.Profile] {
			fmt.Fprintf(b, "The CPU profile of the service with the most CPU in that phase is quoted above ([%s](%s)).\n\n", filepath.Base(m.Profile), m.Profile)
		} else if m.Profile != "" {
			quoted[m.Profile] = true
			fmt.Fprintf(b, "The top of the CPU profile of the service with the most CPU in that phase, over the step its name gives, by cumulative time ([%s](%s)):\n\n```\n%s\n```\n\n",
				filepath.Base(m.Profile), m.Profile, m.Top)
		}
	}
}
