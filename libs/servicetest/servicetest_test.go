package servicetest_test

import (
	"net/http"
	"slices"
	"testing"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
)

// whoami answers the caller's claims, behind the kit's verifier.
func serve(t *testing.T) *servicetest.Server {
	s := servicetest.New(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/", httpx.NotFoundHandler())
	mux.Handle("GET /api/v1/teams", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteList(w, []int64{3, 4}, 9)
	}))
	mux.Handle("POST /api/v1/teams", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(r.Context(), w, httpx.Invalid("name", "is required").Client())
	}))
	mux.Handle("GET /api/v1/whoami", s.Verifier().Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := libauth.FromContext(r.Context())
		httpx.WriteOK(w, http.StatusOK, map[string]any{"id": c.UserID(), "role": c.Role, "teams": c.Teams})
	})))
	s.Serve("kit", mux)
	return s
}

type whoami struct {
	ID    int64   `json:"id"`
	Role  string  `json:"role"`
	Teams []int64 `json:"teams"`
}

func TestTokensForEachRole(t *testing.T) {
	s := serve(t)
	for _, tc := range []struct {
		token string
		want  whoami
	}{
		{s.Admin(1), whoami{1, "admin", []int64{}}},
		{s.Viewer(2), whoami{2, "viewer", []int64{}}},
		{s.User(7, 3, 4), whoami{7, "user", []int64{3, 4}}},
	} {
		var got whoami
		s.Do("GET", "/api/v1/whoami", tc.token, nil).OK(t, http.StatusOK, &got)
		if got.ID != tc.want.ID || got.Role != tc.want.Role || !slices.Equal(got.Teams, tc.want.Teams) {
			t.Errorf("whoami = %+v, want %+v", got, tc.want)
		}
	}
	if a, b := s.Admin(1), s.Admin(1); a == b {
		t.Error("two tokens for one caller are the same; each needs its own jti")
	}
}

func TestClient(t *testing.T) {
	s := serve(t)
	data := s.As(s.Viewer(5)).OK(t, "GET", "/api/v1/whoami", nil)
	if string(data) == "" {
		t.Fatal("no data")
	}
	s.As("").Fails(t, "GET", "/api/v1/whoami", nil, http.StatusUnauthorized, "unauthenticated")
	s.As("not-a-token").Fails(t, "GET", "/api/v1/whoami", nil, http.StatusUnauthorized, "unauthenticated")
	s.Do("GET", "/api/v1/nowhere", "", nil).Fails(t, http.StatusNotFound, "not_found")
}

func TestSample(t *testing.T) {
	got := openapitest.Sample("/api/v1/balances/{owner_type}/{owner_id}", map[string]string{"owner_type": "user"})
	if got != "/api/v1/balances/user/1" {
		t.Errorf("Sample = %s", got)
	}
}

func TestEdit(t *testing.T) {
	valid := map[string]any{"a": 1, "b": 2}
	if got := servicetest.Edit(valid, "a", 3); got["a"] != 3 || got["b"] != 2 || valid["a"] != 1 {
		t.Errorf("Edit set = %v (valid %v)", got, valid)
	}
	if got := servicetest.Edit(valid, "b", nil); len(got) != 1 || len(valid) != 2 {
		t.Errorf("Edit removed = %v (valid %v)", got, valid)
	}
}

// TestListsAndFields: List reads a list's items and total; FailsOn reads
// the field a validation error names.
func TestListsAndFields(t *testing.T) {
	s := serve(t)
	var teams []int64
	if total := s.Do("GET", "/api/v1/teams", s.Viewer(2), nil).List(t, &teams); total != 9 || !slices.Equal(teams, []int64{3, 4}) {
		t.Errorf("list = %v total %d", teams, total)
	}
	d := s.Do("POST", "/api/v1/teams", s.Admin(1), map[string]any{}).FailsOn(t, http.StatusBadRequest, "validation_failed", "name")
	if d.Fields["name"] != "is required" {
		t.Errorf("fields = %v", d.Fields)
	}
}

// TestConcurrently: every request is sent, and each answer stands where
// its request does.
func TestConcurrently(t *testing.T) {
	s := serve(t)
	rs := servicetest.Concurrently(6, func(i int) servicetest.Result {
		if i%2 == 0 {
			return s.Do("GET", "/api/v1/whoami", s.User(int64(i+1)), nil)
		}
		return s.Do("GET", "/api/v1/whoami", "", nil)
	})
	for i, r := range rs {
		var who whoami
		if i%2 == 0 && r.OK(t, http.StatusOK, &who).Status == http.StatusOK && who.ID != int64(i+1) {
			t.Errorf("answer %d = %+v", i, who)
		}
	}
	if got := servicetest.Statuses(rs); got[http.StatusOK] != 3 || got[http.StatusUnauthorized] != 3 || len(got) != 2 {
		t.Errorf("statuses = %v", got)
	}
}
