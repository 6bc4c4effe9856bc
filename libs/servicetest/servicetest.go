// Package servicetest is the test kit the services' transport tests share:
// a service under test over a fresh database, served by httptest; access
// tokens minted for each role as the auth service signs them; an
// envelope-aware client; and the OpenAPI checks that run against the
// running service (see OpenAPI).
//
// A test builds its service's handler over Server.Pool, Server.Verifier,
// Server.Idempotency and Server.Metrics and serves it with Server.Serve:
//
//	s := servicetest.New(t, store.Migrations())
//	s.Serve("profit", transport.NewHandler(endpoint.New(svc), s.Verifier(), s.Idempotency(), s.Metrics()))
//	s.Do("GET", "/api/v1/profit/allocations", s.Token(1, "admin"), nil).OK(t, 200, &list)
package servicetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/auth/authtest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// The issuer and audience of access tokens (docs/api.md#authentication).
const (
	Issuer   = "fund-auth"
	Audience = "fund-api"
)

// TokenTTL is an access token's lifetime, as the auth service signs them.
const TokenTTL = 15 * time.Minute

// Server is one service under test over a fresh database.
type Server struct {
	T    testing.TB
	URL  string // set by Serve
	Pool *pgxpool.Pool

	// RawPaths are /api/v1/ paths whose bodies are not the envelope
	// (a JWKS, say); every other /api/v1/ answer must be one.
	RawPaths []string
	// Check, when set, runs on every answer (say, to assert a header the
	// service sends on every response).
	Check func(method, path string, resp *http.Response)
	// Doc, when set (CheckServed sets it), is the document every answer
	// must match (openapitest.CheckResponse).
	Doc *openapi3.T

	key ed25519.PrivateKey
	jti atomic.Int64
}

// New migrates a fresh database (pgtest.New) and makes a signing key; the
// service is not served until Serve. migrations nil means no database.
func New(t testing.TB, migrations fs.FS) *Server {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{T: t, key: key}
	if migrations != nil {
		s.Pool = pgtest.New(t, migrations)
	}
	return s
}

// Serve serves h, wrapped as the services' main does
// (observability.HTTPHandler), until the test ends.
func (s *Server) Serve(service string, h http.Handler) {
	srv := httptest.NewServer(observability.HTTPHandler(h, service))
	s.T.Cleanup(srv.Close)
	s.URL = srv.URL
}

// Verifier trusts the tokens Token mints.
func (s *Server) Verifier() *libauth.Verifier {
	pub := s.key.Public().(ed25519.PublicKey)
	return libauth.NewVerifier(libauth.StaticKeys{libauth.Thumbprint(pub): pub}, Issuer, Audience)
}

// Idempotency is the Idempotency-Key middleware over the test's database.
func (s *Server) Idempotency() func(http.Handler) http.Handler {
	return idempotency.Middleware(s.Pool, idempotency.Options{})
}

// Metrics is the HTTP metrics middleware on a registry of its own.
func (s *Server) Metrics() func(route string, h http.Handler) http.Handler {
	return observability.NewHTTPMetrics(prometheus.NewRegistry(), nil).Wrap
}

// Token signs an access token as the auth service does
// (docs/api.md#authentication): EdDSA, kid the key's thumbprint, sub the
// user id, the role and the teams, a unique jti.
func (s *Server) Token(userID int64, role string, teams ...int64) string {
	s.T.Helper()
	if teams == nil {
		teams = []int64{}
	}
	now := time.Now()
	return authtest.Sign(s.T, jwt.SigningMethodEdDSA, s.key, libauth.Thumbprint(s.key.Public().(ed25519.PublicKey)), jwt.MapClaims{
		"iss": Issuer, "aud": Audience, "sub": strconv.FormatInt(userID, 10), "role": role, "teams": teams,
		"iat": now.Unix(), "exp": now.Add(TokenTTL).Unix(), "jti": fmt.Sprint(s.jti.Add(1)),
	})
}

// Admin, Viewer and User mint a token for each role.
func (s *Server) Admin(userID int64) string  { return s.Token(userID, libauth.RoleAdmin) }
func (s *Server) Viewer(userID int64) string { return s.Token(userID, libauth.RoleViewer) }
func (s *Server) User(userID int64, teams ...int64) string {
	return s.Token(userID, libauth.RoleUser, teams...)
}

// Envelope is every /api/v1/ answer's body (docs/api.md#response-envelope).
type Envelope struct {
	IsOK    bool            `json:"isOK"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Total   *int64          `json:"total"`
}

// ErrData is an error envelope's data (docs/api.md#errors), as the
// services write it.
type ErrData = httpx.ErrorData

// Result is one answer.
type Result struct {
	Req    string // the request's method and path
	Status int
	Header http.Header
	Env    Envelope // the decoded body of an /api/v1/ answer
	Raw    []byte
}

// Do sends a request; body may be a string or []byte (sent as is) or a
// value (JSON); headers are name, value pairs, set last. Every answer must
// carry X-Request-Id, and an /api/v1/ answer must be the envelope.
func (s *Server) Do(method, path, token string, body any, headers ...string) Result {
	s.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Result{Req: method + " " + path, Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if resp.Header.Get(httpx.RequestIDHeader) == "" {
		s.T.Errorf("%s %s: no X-Request-Id on the response", method, path)
	}
	if strings.HasPrefix(path, "/api/v1/") && !slices.Contains(s.RawPaths, path) {
		if err := json.Unmarshal(raw, &r.Env); err != nil {
			s.T.Fatalf("%s %s: body is not the envelope: %s", method, path, raw)
		}
	}
	if s.Check != nil {
		s.Check(method, path, resp)
	}
	if s.Doc != nil {
		openapitest.CheckResponse(s.T, s.Doc, method, path, r.Status, r.Header, r.Raw)
	}
	return r
}

// OK asserts a success envelope with the status and decodes data into v
// (unless nil).
func (r Result) OK(t testing.TB, status int, v any) Result {
	t.Helper()
	if r.Status != status || !r.Env.IsOK || r.Env.Message != "Success" {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if v != nil {
		if err := json.Unmarshal(r.Env.Data, v); err != nil {
			t.Fatalf("data: %v: %s", err, r.Raw)
		}
	}
	return r
}

// List asserts a 200 list envelope (docs/api.md#pagination), decodes its
// items into v and returns its total.
func (r Result) List(t testing.TB, v any) int64 {
	t.Helper()
	r.OK(t, http.StatusOK, v)
	if r.Env.Total == nil {
		t.Fatalf("list without a total: %s", r.Raw)
	}
	return *r.Env.Total
}

// Fails asserts an error envelope with the status and code
// (docs/api.md#errors) and returns its data.
func (r Result) Fails(t testing.TB, status int, code string) ErrData {
	t.Helper()
	var d ErrData
	_ = json.Unmarshal(r.Env.Data, &d)
	if r.Status != status || r.Env.IsOK || d.ErrorCode != status || d.Code != code || r.Env.Message == "" {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
	}
	return d
}

// FailsOn is Fails that also asserts, when field is not "", that the
// fields name field: the input a validation error is about.
func (r Result) FailsOn(t testing.TB, status int, code, field string) ErrData {
	t.Helper()
	d := r.Fails(t, status, code)
	if field != "" && d.Fields[field] == "" {
		t.Errorf("%s: fields = %v, want %s named", r.Req, d.Fields, field)
	}
	return d
}

// Client sends requests as one caller.
type Client struct {
	S     *Server
	Token string // "" sends none
}

// As is a client that sends token.
func (s *Server) As(token string) Client { return Client{S: s, Token: token} }

// OK sends a request, asserts a 2xx success envelope and returns its data.
func (c Client) OK(t testing.TB, method, path string, body any) json.RawMessage {
	t.Helper()
	r := c.S.Do(method, path, c.Token, body)
	if r.Status/100 != 2 {
		t.Fatalf("%s %s = %d, want 2xx: %s", method, path, r.Status, r.Raw)
	}
	return r.OK(t, r.Status, nil).Env.Data
}

// Fails sends a request and asserts an error envelope with the status and
// code.
func (c Client) Fails(t testing.TB, method, path string, body any, status int, code string) ErrData {
	t.Helper()
	return c.S.Do(method, path, c.Token, body).Fails(t, status, code)
}

// Edit is a copy of a request body with k set to v, or removed when v is
// nil: a valid body with one thing wrong.
func Edit(body map[string]any, k string, v any) map[string]any {
	m := maps.Clone(body)
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}
