package main

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// powersOfTwo labels a log-scale axis at 1, 2, 4, …
type powersOfTwo struct{}

func (powersOfTwo) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= max*1.01; v *= 2 {
		if v >= min*0.99 {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
		}
	}
	return ts
}

// writePlot draws the withdrawal and pgbench latency percentiles against
// concurrency into a PNG file.
func writePlot(path string, rows []stepRow) error {
	p := plot.New()
	p.Title.Text = "Withdrawal latency by concurrency (edge vs pgbench baseline)"
	p.X.Label.Text = "concurrency (clients)"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = powersOfTwo{}
	p.Legend.Top = true
	p.Legend.Left = true
	series := func(pick func(stepRow) float64) plotter.XYs {
		var xy plotter.XYs
		for _, r := range rows {
			if v := pick(r); !math.IsNaN(v) && v > 0 {
				xy = append(xy, plotter.XY{X: float64(r.Clients), Y: v})
			}
		}
		return xy
	}
	if err := plotutil.AddLinePoints(p,
		"withdrawals p50", series(func(r stepRow) float64 { return r.P50 }),
		"withdrawals p99", series(func(r stepRow) float64 { return r.P99 }),
		"pgbench p50", series(func(r stepRow) float64 { return r.BaseP50 }),
		"pgbench p99", series(func(r stepRow) float64 { return r.BaseP99 }),
	); err != nil {
		return err
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
