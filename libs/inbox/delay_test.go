package inbox_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/testkit"
)

// The delay histogram measures from the event's time (its producer's
// commit), counts events applied and not duplicates, and the gauge keeps
// the newest event time applied per topic.
func TestEventDelayIsMeasuredFromTheEventsTime(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
	hourAgo := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	a, b := ratioEvent(t, 1), ratioEvent(t, 2)
	a.Time, b.Time = hourAgo, hourAgo.Add(50*time.Minute)
	produce(t, ctx, brokers, message(t, ctx, "1", a), message(t, ctx, "1", a), message(t, ctx, "2", b))

	c := start(t, pool, brokers, "stats", record, nil)
	testkit.Eventually(t, 20*time.Second, "all 3 messages done", func() bool { return storedTotal(t, pool, "stats") == 3 })
	c.stop()
	if h, d := counter(t, c.reg, inbox.ResultHandled), counter(t, c.reg, inbox.ResultDuplicate); h != 2 || d != 1 {
		t.Fatalf("handled %v, duplicate %v; want 2 and 1", h, d)
	}

	delay := family(t, c.reg, "fund_consumer_event_delay_seconds").GetHistogram()
	if delay.GetSampleCount() != 2 {
		t.Fatalf("delay histogram has %d samples, want 2 (the duplicate is not applied)", delay.GetSampleCount())
	}
	// a is an hour old, b ten minutes: both beyond the 300 s bucket.
	if min := (time.Hour + 10*time.Minute).Seconds(); delay.GetSampleSum() < min {
		t.Fatalf("delay sum %.0f s, want at least %.0f s", delay.GetSampleSum(), min)
	}
	for _, bk := range delay.GetBucket() {
		if bk.GetUpperBound() <= 300 && bk.GetCumulativeCount() != 0 {
			t.Fatalf("bucket le=%v has %d samples, want none", bk.GetUpperBound(), bk.GetCumulativeCount())
		}
	}
	newest := family(t, c.reg, "fund_consumer_last_event_timestamp_seconds").GetGauge().GetValue()
	if want := float64(b.Time.UnixNano()) / 1e9; newest != want {
		t.Fatalf("newest event time %v, want %v (b's)", newest, want)
	}
}

// family is the one metric of name in reg (the test's single topic).
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0]
		}
	}
	t.Fatalf("no single series of %s", name)
	return nil
}
