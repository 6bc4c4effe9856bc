package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestScrapeBacklog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP fund_outbox_backlog unpublished rows
# TYPE fund_outbox_backlog gauge
fund_outbox_backlog 12
fund_consumer_lag{partition="0",topic="portfolio.events"} 300
fund_consumer_lag{partition="1",topic="portfolio.events"} 45
fund_consumer_lag_seconds 9
fund_outbox_backlog_total 1000
`)
	}))
	defer srv.Close()
	outbox, lag, err := scrapeBacklog(context.Background(), srv.URL)
	if err != nil || outbox != 12 || lag != 345 {
		t.Fatalf("scrapeBacklog = %v, %v, %v; want 12, 345", outbox, lag, err)
	}

	w := newPipelineWatch(map[string]string{"profit": srv.URL})
	w.sample(context.Background())
	if got := w.summary(true); got != "profit consumer 345, profit outbox 12" {
		t.Fatalf("summary = %q", got)
	}
}
