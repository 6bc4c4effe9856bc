package edge

import "strings"

// The services the edge routes to. Their names are also the names of their
// binaries, their databases and (elsewhere) their Envoy clusters.
const (
	Auth       = "auth"
	Portfolio  = "portfolio"
	Profit     = "profit"
	Withdrawal = "withdrawal"
	Stats      = "stats"
)

// Services lists every service the routes may name, in start order.
var Services = []string{Auth, Portfolio, Profit, Withdrawal, Stats}

// Route sends every request whose path matches Prefix to Service.
//
// How Prefix matches a request path (the query string never takes part):
//   - a Prefix ending in "/" is a plain string prefix: "/api/v1/auth/"
//     matches "/api/v1/auth/login" but not "/api/v1/auth";
//     Envoy: `match: {prefix: "/api/v1/auth/"}`.
//   - any other Prefix matches on a path-segment boundary: "/api/v1/users"
//     matches "/api/v1/users" and "/api/v1/users/5", not "/api/v1/usersX";
//     Envoy: `match: {path_separated_prefix: "/api/v1/users"}` (which by its
//     own rules may not end in "/").
//
// No two routes overlap today; should they ever, the longest Prefix wins
// (list the longer one first in an Envoy config to get the same result).
type Route struct {
	Prefix  string
	Service string
}

// Routes is the edge's one route table: the local dev-stack edge serves it
// as is, and the Envoy configuration in deploy/envoy must route the same
// prefixes to the same services. GET /api/v1/health is not here: the edge
// answers it itself (see HealthPath).
var Routes = []Route{
	{Prefix: "/.well-known/jwks.json", Service: Auth},
	{Prefix: "/api/v1/auth/", Service: Auth},
	{Prefix: "/api/v1/users", Service: Auth},
	{Prefix: "/api/v1/teams", Service: Auth},
	{Prefix: "/api/v1/portfolios", Service: Portfolio},
	{Prefix: "/api/v1/profit/", Service: Profit},
	{Prefix: "/api/v1/balances", Service: Withdrawal},
	{Prefix: "/api/v1/withdrawals", Service: Withdrawal},
	{Prefix: "/api/v1/reallocations", Service: Withdrawal},
	{Prefix: "/api/v1/ledger/", Service: Withdrawal},
	{Prefix: "/api/v1/stats/", Service: Stats},
}

// HealthPath is answered by the edge itself with {"status":"healthy"}.
const HealthPath = "/api/v1/health"

// SegmentPrefix reports whether the route matches on a path-segment
// boundary (Envoy's path_separated_prefix) rather than as a plain prefix.
func (r Route) SegmentPrefix() bool { return !strings.HasSuffix(r.Prefix, "/") }

// Matches reports whether the route takes a request for path (the URL path
// only, without the query).
func (r Route) Matches(path string) bool {
	if !strings.HasPrefix(path, r.Prefix) {
		return false
	}
	if !r.SegmentPrefix() {
		return true
	}
	rest := path[len(r.Prefix):]
	return rest == "" || rest[0] == '/'
}

// Match finds the route for path in routes: the matching route with the
// longest Prefix.
func Match(routes []Route, path string) (Route, bool) {
	var best Route
	found := false
	for _, r := range routes {
		if r.Matches(path) && (!found || len(r.Prefix) > len(best.Prefix)) {
			best, found = r, true
		}
	}
	return best, found
}
