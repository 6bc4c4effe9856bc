package transport_test

import (
	"fmt"
	"testing"
	"time"
)

// TestRevokedTokensRefusedOnWrites: a deactivation, a role change and a
// password change refuse the access tokens issued before them at once on
// every write (and on GET /api/v1/auth/me, the check the other services
// ask); reads keep the token's lifetime; a token issued afterwards writes.
func TestRevokedTokensRefusedOnWrites(t *testing.T) {
	e := newEnv(t)
	admin := e.login(adminEmail, adminPass).AccessToken
	team := map[string]string{"name": "t", "description": ""}
	newTeam := func(n int) map[string]string { team["name"] = fmt.Sprintf("team-%d", n); return team }

	// Deactivation: bob, an admin, writes before and not after.
	bob := e.createUser(admin, "bob@example.com", "admin")
	btk := e.login("bob@example.com", "user-password-123").AccessToken
	e.Do("POST", "/api/v1/teams", btk, newTeam(1)).OK(t, 201, nil)
	e.offset.Add(int64(2 * time.Second)) // iat has whole seconds
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin, map[string]any{"is_active": false}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/teams", btk, newTeam(2)).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/auth/me", btk, nil).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/teams", btk, nil).OK(t, 200, nil)
	// Reactivated, its old token stays cut off; a new login writes.
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin, map[string]any{"is_active": true}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/teams", btk, newTeam(3)).Fails(t, 401, "unauthenticated")

	// Role change: dora, an admin made a user, no longer writes as admin.
	dora := e.createUser(admin, "dora@example.com", "admin")
	dtk := e.login("dora@example.com", "user-password-123").AccessToken
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", dora.ID), admin, map[string]any{"role": "user"}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/teams", dtk, newTeam(4)).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/auth/me", dtk, nil).Fails(t, 401, "unauthenticated")

	// Password change: the token issued before it (a whole second before:
	// iat has seconds) is cut off, the next login's is not.
	erin := e.createUser(admin, "erin@example.com", "user")
	etk := e.login("erin@example.com", "user-password-123")
	e.offset.Add(int64(2 * time.Second))
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", erin.ID), etk.AccessToken,
		map[string]string{"password": "new-password-456", "old_password": "user-password-123"}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/auth/logout", etk.AccessToken, map[string]string{"refresh_token": etk.RefreshToken}).Fails(t, 401, "unauthenticated")
	fresh := e.login("erin@example.com", "new-password-456")
	e.Do("POST", "/api/v1/auth/logout", fresh.AccessToken, map[string]string{"refresh_token": fresh.RefreshToken}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/teams", admin, newTeam(5)).OK(t, 201, nil)
}
