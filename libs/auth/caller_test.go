package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fundplatform/platform/libs/httpx"
)

func TestCallerFrom(t *testing.T) {
	if _, err := CallerFrom(context.Background()); !errors.Is(err, httpx.ErrUnauthenticated) {
		t.Fatalf("no claims: err = %v, want ErrUnauthenticated", err)
	}
	claims := &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "7"}, Role: RoleUser, Teams: []int64{3, 4}}
	c, err := CallerFrom(WithClaims(context.Background(), claims))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != 7 || c.Role != RoleUser || len(c.Teams) != 2 || c.Teams[0] != 3 || c.Teams[1] != 4 {
		t.Fatalf("caller = %+v", c)
	}
}

func TestCallerRules(t *testing.T) {
	admin := Caller{UserID: 1, Role: RoleAdmin}
	viewer := Caller{UserID: 2, Role: RoleViewer}
	user := Caller{UserID: 3, Role: RoleUser, Teams: []int64{10}}
	nobody := Caller{UserID: 4, Role: "other", Teams: []int64{10}}
	for _, c := range []Caller{admin, viewer} {
		if !c.Privileged() || !c.CanReadOwned(99, 99) || !c.CanReadAccount(OwnerUser, 99) || !c.CanReadAccount("platform", 0) {
			t.Errorf("%s: should read everything", c.Role)
		}
	}
	if user.Privileged() || nobody.Privileged() {
		t.Error("user and unknown roles are not privileged")
	}
	owned := []struct {
		user, team int64
		want       bool
	}{{3, 99, true}, {99, 10, true}, {99, 99, false}}
	for _, tc := range owned {
		if got := user.CanReadOwned(tc.user, tc.team); got != tc.want {
			t.Errorf("user.CanReadOwned(%d, %d) = %v", tc.user, tc.team, got)
		}
		if nobody.CanReadOwned(tc.user, tc.team) {
			t.Errorf("unknown role reads portfolio (%d, %d)", tc.user, tc.team)
		}
	}
	accounts := []struct {
		typ  string
		id   int64
		want bool
	}{{OwnerUser, 3, true}, {OwnerTeam, 10, true}, {OwnerUser, 10, false}, {OwnerTeam, 3, false}, {"platform", 0, false}}
	for _, tc := range accounts {
		if got := user.CanReadAccount(tc.typ, tc.id); got != tc.want {
			t.Errorf("user.CanReadAccount(%s, %d) = %v", tc.typ, tc.id, got)
		}
		if nobody.CanReadAccount(tc.typ, tc.id) {
			t.Errorf("unknown role reads account %s:%d", tc.typ, tc.id)
		}
	}
}

func TestWithCaller(t *testing.T) {
	type req struct{ N int }
	ep := WithCaller(func(_ context.Context, c Caller, r req) httpx.Response {
		return httpx.OK([2]int64{c.UserID, int64(r.N)})
	})
	resp, err := ep(context.Background(), req{N: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(httpx.Response); !errors.Is(r.Err, httpx.ErrUnauthenticated) {
		t.Fatalf("without claims: %+v", r)
	}
	ctx := WithClaims(context.Background(), &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "8"}, Role: RoleAdmin})
	resp, _ = ep(ctx, req{N: 5})
	if r := resp.(httpx.Response); r.Err != nil || r.Data != [2]int64{8, 5} {
		t.Fatalf("with claims: %+v", r)
	}
	resp, _ = ep(ctx, "not a req")
	if r := resp.(httpx.Response); r.Data != [2]int64{8, 0} {
		t.Fatalf("other request type: %+v", r)
	}
}

func TestListScope(t *testing.T) {
	user := Caller{UserID: 7, Role: RoleUser, Teams: []int64{3}}
	for _, c := range []struct {
		caller     Caller
		all, lists bool
	}{
		{Caller{UserID: 1, Role: RoleAdmin}, true, true},
		{Caller{UserID: 2, Role: RoleViewer}, true, true},
		{user, false, true},
		{Caller{UserID: 9, Role: "auditor"}, false, false},
	} {
		scope, ok := c.caller.ListScope()
		switch {
		case ok != c.lists:
			t.Errorf("%s: lists = %v, want %v", c.caller.Role, ok, c.lists)
		case c.all && scope != nil, !c.all && c.lists && (scope == nil || scope.UserID != c.caller.UserID || len(scope.Teams) != len(c.caller.Teams)):
			t.Errorf("%s: scope = %+v", c.caller.Role, scope)
		}
	}
}
