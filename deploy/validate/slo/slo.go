// Package slo generates the Prometheus rules of the platform's service-level
// objectives (deploy/prometheus/rules/slo.yml) from the one file that states
// them (deploy/prometheus/slo-objectives.yml): for every objective its SLI
// as a bad-event ratio over each window, the burn rates, and the
// multi-window, multi-burn-rate alerts of the Google SRE workbook
// ("Alerting on SLOs") for a 30-day budget. TestRulesAreGenerated keeps the
// rules file in step (`make slo` rewrites it).
package slo

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// Objective is one entry of slo-objectives.yml.
type Objective struct {
	Name        string  `json:"name"`
	Journey     string  `json:"journey"`
	Objective   float64 `json:"objective"`
	Description string  `json:"description"`
	Total       string  `json:"total"`
	Bad         string  `json:"bad"`
	Good        string  `json:"good"`
}

// Windows are the SLI windows: the alerts' pairs below and the 30-day
// budget window.
var Windows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}

// Burn is one multi-window alert: it fires while the burn rate over both
// the long and the short window is above Factor (the short window makes it
// stop soon after the burn does).
type Burn struct {
	Alert, Long, Short, Severity, For string
	Factor                            float64
	Spent                             string // the budget spent at that rate over Long
}

// Burns are the workbook's four: 2% of a 30-day budget in an hour or 5% in
// six hours page; 10% in a day or in three days open a ticket.
var Burns = []Burn{
	{Alert: "FundSLOFastBurn", Long: "1h", Short: "5m", Factor: 14.4, Severity: "critical", For: "2m", Spent: "2% of the 30-day budget in an hour"},
	{Alert: "FundSLOMediumBurn", Long: "6h", Short: "30m", Factor: 6, Severity: "critical", For: "15m", Spent: "5% of the 30-day budget in six hours"},
	{Alert: "FundSLOSlowBurn", Long: "1d", Short: "2h", Factor: 3, Severity: "warning", For: "1h", Spent: "10% of the 30-day budget in a day"},
	{Alert: "FundSLOSlowestBurn", Long: "3d", Short: "6h", Factor: 1, Severity: "warning", For: "3h", Spent: "10% of the 30-day budget in three days"},
}

// Parse reads slo-objectives.yml and checks every entry.
func Parse(data []byte) ([]Objective, error) {
	var file struct {
		SLOs []Objective `json:"slos"`
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range file.SLOs {
		switch {
		case o.Name == "" || o.Journey == "" || o.Description == "":
			return nil, fmt.Errorf("slo %q: name, journey and description are required", o.Name)
		case seen[o.Name]:
			return nil, fmt.Errorf("slo %q: named twice", o.Name)
		case o.Objective <= 0 || o.Objective >= 1:
			return nil, fmt.Errorf("slo %q: objective %v is not in (0, 1)", o.Name, o.Objective)
		case (o.Bad == "") == (o.Good == ""):
			return nil, fmt.Errorf("slo %q: give exactly one of bad and good", o.Name)
		}
		for _, e := range []string{o.Total, o.Bad + o.Good} {
			if !strings.Contains(e, "[WINDOW]") {
				return nil, fmt.Errorf("slo %q: expression %q has no [WINDOW]", o.Name, e)
			}
		}
		seen[o.Name] = true
	}
	if len(file.SLOs) == 0 {
		return nil, fmt.Errorf("no slos")
	}
	return file.SLOs, nil
}

// errorRatio is o's bad-event ratio over window.
func (o Objective) errorRatio(window string) string {
	at := func(e string) string { return strings.ReplaceAll(e, "[WINDOW]", "["+window+"]") }
	total := at(o.Total)
	if o.Good != "" {
		return fmt.Sprintf("(%s - %s) / %s", total, at(o.Good), total)
	}
	// No bad series yet reads as none bad, not as no SLI.
	return fmt.Sprintf("(%s or %s * 0) / %s", at(o.Bad), total, total)
}

// Render is the rules file for objectives.
func Render(objectives []Objective) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Generated from deploy/prometheus/slo-objectives.yml by `make slo` (deploy/validate/slo): do not edit.")
	w("# Series: slo:objective:ratio, slo:sli_error:ratio_rate<window>, slo:burn_rate:ratio_rate<window>,")
	w("# slo:burn_rate:min_<long>_<short> and slo:error_budget_remaining:ratio, each labelled slo and journey.")
	w("# Alerts: docs/operations.md#service-level-objectives.")
	w("groups:")
	w("  - name: fund-slo.objectives")
	w("    rules:")
	for _, o := range objectives {
		w("      - record: slo:objective:ratio")
		w("        expr: vector(%v)", o.Objective)
		w("        labels: {slo: %s, journey: %s}", o.Name, o.Journey)
	}
	w("")
	w("  - name: fund-slo.sli")
	w("    rules:")
	for _, o := range objectives {
		w("      # %s: %s", o.Name, o.Description)
		for _, win := range Windows {
			w("      - record: slo:sli_error:ratio_rate%s", win)
			w("        expr: %s", o.errorRatio(win))
			w("        labels: {slo: %s, journey: %s}", o.Name, o.Journey)
		}
	}
	w("")
	w("  - name: fund-slo.burn")
	w("    rules:")
	w("      # How many times faster than the objective allows the budget is spent.")
	for _, win := range Windows {
		w("      - record: slo:burn_rate:ratio_rate%s", win)
		w("        expr: slo:sli_error:ratio_rate%s / on (slo, journey) group_left () (1 - slo:objective:ratio)", win)
	}
	w("      # The smaller of a long and a short window's burn rate: above a factor only while both are.")
	for _, br := range Burns {
		w("      - record: slo:burn_rate:min_%s_%s", br.Long, br.Short)
		w("        expr: slo:burn_rate:ratio_rate%s < slo:burn_rate:ratio_rate%s or slo:burn_rate:ratio_rate%s", br.Long, br.Short, br.Short)
	}
	w("      # The share of the 30-day budget left (negative once overspent).")
	w("      - record: slo:error_budget_remaining:ratio")
	w("        expr: 1 - slo:burn_rate:ratio_rate30d")
	w("")
	w("  - name: fund-slo.alerts")
	w("    rules:")
	for _, br := range Burns {
		w("      - alert: %s", br.Alert)
		w("        expr: slo:burn_rate:min_%s_%s > %v", br.Long, br.Short, br.Factor)
		w("        for: %s", br.For)
		w("        labels:")
		w("          severity: %s", br.Severity)
		w("        annotations:")
		w("          summary: \"{{ $labels.slo }} is spending its error budget %v× too fast\"", br.Factor)
		w("          description: \"{{ $labels.journey }} journey, SLO {{ $labels.slo }}: over the last %s and the last %s the budget burns {{ $value | humanize }}× faster than the objective allows (%s at %v×).\"",
			br.Long, br.Short, br.Spent, br.Factor)
		w("          runbook_url: https://github.com/fundplatform/platform/blob/main/docs/operations.md#%s", strings.ToLower(br.Alert))
		w("")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
