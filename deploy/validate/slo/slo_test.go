package slo

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/prometheus/rules/slo.yml")

const (
	objectivesFile = "../../prometheus/slo-objectives.yml"
	rulesFile      = "../../prometheus/rules/slo.yml"
)

// The rules file is what Render makes of the objectives file.
func TestRulesAreGenerated(t *testing.T) {
	data, err := os.ReadFile(objectivesFile)
	if err != nil {
		t.Fatal(err)
	}
	objectives, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", objectivesFile, err)
	}
	want := Render(objectives)
	if *update {
		if err := os.WriteFile(rulesFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not generated from %s: run `make slo`", filepath.Base(rulesFile), filepath.Base(objectivesFile))
	}
}

func TestParseRefusesBadObjectives(t *testing.T) {
	ok := "slos:\n  - name: a\n    journey: j\n    objective: 0.99\n    description: d\n    total: sum(rate(x[WINDOW]))\n"
	for name, tc := range map[string]string{
		"objective of 1":       strings.Replace(ok, "0.99", "1", 1) + "    bad: sum(rate(y[WINDOW]))\n",
		"neither bad nor good": ok,
		"both bad and good":    ok + "    bad: sum(rate(y[WINDOW]))\n    good: sum(rate(z[WINDOW]))\n",
		"no window":            ok + "    bad: sum(rate(y[5m]))\n",
		"unknown field":        ok + "    bad: sum(rate(y[WINDOW]))\n    target: 3\n",
		"named twice":          "slos:\n" + strings.Repeat(strings.TrimPrefix(ok, "slos:\n")+"    bad: sum(rate(y[WINDOW]))\n", 2),
		"empty":                "slos: []\n",
	} {
		if _, err := Parse([]byte(tc)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	if _, err := Parse([]byte(ok + "    bad: sum(rate(y[WINDOW]))\n")); err != nil {
		t.Fatalf("a valid file: %v", err)
	}
}
