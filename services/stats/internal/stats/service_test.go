package stats_test

import (
	"cmp"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// fakeStore knows portfolio 1 (user 7, team 3); the rest answers empty.
type fakeStore struct{ stats.Store }

func (fakeStore) PortfolioOwners(_ context.Context, id int64) (stats.Owners, error) {
	if id == 1 {
		return stats.Owners{PortfolioID: 1, UserID: 7, TeamID: 3}, nil
	}
	return stats.Owners{}, stats.ErrPortfolioNotFound
}
func (fakeStore) PortfolioTotals(_ context.Context, id int64) (stats.PortfolioTotals, error) {
	return stats.ZeroTotals(id, "USD"), nil
}
func (fakeStore) Overview(context.Context) (stats.Overview, error) { return stats.Overview{}, nil }
func (fakeStore) Hourly(context.Context, stats.Owner, string, stats.Range, httpx.Pagination) ([]stats.HourlyProfit, int64, error) {
	return nil, 0, nil
}
func (fakeStore) Summary(context.Context, string, string, stats.Range, httpx.Pagination) ([]stats.SummaryRow, int64, error) {
	return nil, 0, nil
}
func (fakeStore) LastEventAt(context.Context) (*time.Time, error) { return nil, nil }

func TestReadRules(t *testing.T) {
	svc := stats.New(fakeStore{})
	ctx := context.Background()
	admin, viewer := stats.Caller{UserID: 1, Role: auth.RoleAdmin}, stats.Caller{UserID: 2, Role: auth.RoleViewer}
	owner, member := stats.Caller{UserID: 7, Role: auth.RoleUser}, stats.Caller{UserID: 8, Role: auth.RoleUser, Teams: []int64{3}}
	stranger, nobody := stats.Caller{UserID: 9, Role: auth.RoleUser, Teams: []int64{5}}, stats.Caller{UserID: 10, Role: "auditor"}

	for _, c := range []stats.Caller{admin, viewer} {
		if _, err := svc.Overview(ctx, c); err != nil {
			t.Errorf("%s overview: %v", c.Role, err)
		}
		if _, err := svc.AccProfit(ctx, c, 99); err != nil {
			t.Errorf("%s acc_profit of an unknown portfolio: %v, want zeros", c.Role, err)
		}
	}
	for _, c := range []stats.Caller{owner, nobody} {
		if _, err := svc.Overview(ctx, c); !errors.Is(err, stats.ErrForbidden) {
			t.Errorf("%s overview: %v, want forbidden", c.Role, err)
		}
		if _, _, err := svc.Summary(ctx, c, stats.GroupDay, "", stats.Range{}, everything); !errors.Is(err, stats.ErrForbidden) {
			t.Errorf("%s summary: %v, want forbidden", c.Role, err)
		}
	}
	for c, want := range map[*stats.Caller]error{&owner: nil, &member: nil, &stranger: stats.ErrPortfolioNotFound, &nobody: stats.ErrPortfolioNotFound} {
		if _, err := svc.AccProfit(ctx, *c, 1); !errors.Is(err, want) {
			t.Errorf("user %d acc_profit/1: %v, want %v", c.UserID, err, want)
		}
	}
	if _, err := svc.AccProfit(ctx, owner, 99); !errors.Is(err, stats.ErrPortfolioNotFound) {
		t.Errorf("user acc_profit of an unknown portfolio: %v", err)
	}

	cases := []struct {
		c     stats.Caller
		owner stats.Owner
		want  error
	}{
		{viewer, stats.Owner{Type: auth.OwnerPlatform}, nil},
		{owner, stats.Owner{Type: auth.OwnerUser, ID: 7}, nil},
		{member, stats.Owner{Type: auth.OwnerTeam, ID: 3}, nil},
		{member, stats.Owner{Type: auth.OwnerUser, ID: 7}, stats.ErrNotFound},
		{owner, stats.Owner{Type: auth.OwnerTeam, ID: 3}, stats.ErrNotFound},
		{owner, stats.Owner{Type: auth.OwnerPlatform}, stats.ErrNotFound},
	}
	for _, tc := range cases {
		if _, _, err := svc.Hourly(ctx, tc.c, tc.owner, "", stats.Range{}, everything); !errors.Is(err, tc.want) {
			t.Errorf("user %d hourly %+v: %v, want %v", tc.c.UserID, tc.owner, err, tc.want)
		}
	}
	if f, err := svc.Freshness(ctx); err != nil || !f.Equal(time.Unix(0, 0)) {
		t.Errorf("freshness before any event = %v, %v; want the epoch", f, err)
	}
}

// TestReadValidation: bad owners, group_bys and ranges — reversed, or with
// both bounds more than MaxRange apart — are validation errors.
func TestReadValidation(t *testing.T) {
	svc := stats.New(fakeStore{})
	ctx := context.Background()
	admin, viewer := stats.Caller{UserID: 1, Role: auth.RoleAdmin}, stats.Caller{UserID: 2, Role: auth.RoleViewer}
	hourlyIn := func(o stats.Owner, currency string, r stats.Range) error {
		_, _, err := svc.Hourly(ctx, admin, o, currency, r, everything)
		return err
	}
	hourly := func(o stats.Owner, r stats.Range) error { return hourlyIn(o, "", r) }
	summaryIn := func(groupBy, currency string, r stats.Range) error {
		_, _, err := svc.Summary(ctx, viewer, groupBy, currency, r, everything)
		return err
	}
	summary := func(groupBy string, r stats.Range) error { return summaryIn(groupBy, "", r) }
	var ve *httpx.ValidationError
	from, to := time.Now(), time.Now().Add(-time.Hour)
	now := time.Now()
	yearAgo, longAgo := now.Add(-stats.MaxRange), now.Add(-stats.MaxRange-time.Hour)
	platform := stats.Owner{Type: auth.OwnerPlatform}
	for _, err := range []error{
		hourly(stats.Owner{Type: "ledger"}, stats.Range{}),
		hourly(stats.Owner{Type: auth.OwnerUser}, stats.Range{}),
		hourly(stats.Owner{Type: auth.OwnerPlatform, ID: 1}, stats.Range{}),
		hourly(platform, stats.Range{From: &from, To: &to}),
		hourly(platform, stats.Range{From: &longAgo, To: &now}),
		summary("week", stats.Range{}),
		summary(stats.GroupHour, stats.Range{From: &from, To: &to}),
		summary(stats.GroupDay, stats.Range{From: &longAgo, To: &now}),
		hourlyIn(platform, "usd", stats.Range{}),
		hourlyIn(platform, "USDD", stats.Range{}),
		summaryIn(stats.GroupDay, "JP", stats.Range{}),
		summaryIn(stats.GroupDay, "J1Y", stats.Range{}),
	} {
		if !errors.As(err, &ve) {
			t.Errorf("err = %v, want a validation error", err)
		}
	}
	if err := cmp.Or(hourlyIn(platform, "JPY", stats.Range{}), summaryIn(stats.GroupUser, "EUR", stats.Range{})); err != nil {
		t.Errorf("a currency filter: %v", err)
	}
	if err := hourly(platform, stats.Range{From: &yearAgo, To: &now}); err != nil {
		t.Errorf("a range of 366 days: %v", err)
	}
}

// everything is a page that holds every row of these small tests.
var everything = httpx.Pagination{Limit: 1000}
