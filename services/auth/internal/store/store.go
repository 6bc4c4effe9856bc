// Package store is the auth service's PostgreSQL adapter: it implements
// identity.Store with pgx, and embeds the service's migrations.
package store

import (
	"context"
	"crypto/ed25519"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the service's schema migrations.
func Migrations() fs.FS { return pg.EmbeddedMigrations(migrationFiles, "migrations") }

// Store implements identity.Store.
type Store struct{ pg.Store }

var _ identity.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pg.Store{Pool: pool}} }

const userColumns = `u.id, u.email, u.username, u.role, u.is_active, u.created_at, u.updated_at, u.tokens_valid_after,
	COALESCE((SELECT array_agg(m.team_id ORDER BY m.team_id) FROM team_members m WHERE m.user_id = u.id), '{}')`

func scanUser(row pgx.Row) (identity.User, error) {
	var u identity.User
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.Role, &u.IsActive, &u.CreatedAt, &u.UpdatedAt, &u.TokensValidAfter, &u.TeamIDs)
	if err = pg.ReadErr(err, identity.ErrUserNotFound, "read user"); err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

func userByID(ctx context.Context, q pg.Querier, id int64) (identity.User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
}

// CreateUser implements identity.Store.
func (s *Store) CreateUser(ctx context.Context, email, username, hash, role string, now time.Time) (identity.User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `
		WITH u AS (
			INSERT INTO users (email, username, password_hash, role, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING *)
		SELECT `+userColumns+` FROM u`, email, username, hash, role, now))
	if pg.IsUniqueViolation(err, "users_email_key") {
		return identity.User{}, identity.ErrEmailTaken
	}
	if err != nil {
		return identity.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// BootstrapAdmin implements identity.Store: the advisory lock makes
// concurrent replicas starting at once create a single admin.
func (s *Store) BootstrapAdmin(ctx context.Context, email, username, hash string, now time.Time) (bool, error) {
	created := false
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('auth.bootstrap'))`); err != nil {
			return fmt.Errorf("lock bootstrap: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO users (email, username, password_hash, role, created_at, updated_at)
			SELECT $1, $2, $3, 'admin', $4, $4 WHERE NOT EXISTS (SELECT 1 FROM users)`, email, username, hash, now)
		if err != nil {
			return fmt.Errorf("insert admin: %w", err)
		}
		created = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("create the first admin: %w", err)
	}
	return created, nil
}

// UserByID implements identity.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (identity.User, error) {
	return userByID(ctx, s.Pool, id)
}

// UserHash implements identity.Store.
func (s *Store) UserHash(ctx context.Context, id int64) (string, error) {
	var h string
	err := s.Pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, id).Scan(&h)
	if err = pg.ReadErr(err, identity.ErrUserNotFound, fmt.Sprintf("password hash of user %d", id)); err != nil {
		return "", err
	}
	return h, nil
}

// ListUsers implements identity.Store.
func (s *Store) ListUsers(ctx context.Context, f identity.UserFilter, p httpx.Pagination) ([]identity.User, int64, error) {
	var q pg.Filter
	if f.Role != nil {
		q.Where("u.role = " + q.Arg(*f.Role))
	}
	if f.IsActive != nil {
		q.Where("u.is_active = " + q.Arg(*f.IsActive))
	}
	return pg.List(ctx, s.Pool, pg.Listing{What: "users", Columns: userColumns, From: "users u", Order: "u.id DESC"}, &q, p.Limit, p.Offset, scanUser)
}

// UpdateUser implements identity.Store.
func (s *Store) UpdateUser(ctx context.Context, id int64, now time.Time, fn func(u *identity.User, hash *string, activeAdmins int) (bool, error)) (identity.User, error) {
	var out identity.User
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		// Lock the active admins first (always in id order) so two
		// concurrent demotions cannot both see a second admin.
		var admins int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR UPDATE) a`).Scan(&admins); err != nil {
			return fmt.Errorf("lock active admins: %w", err)
		}
		var hash string
		if err := pg.ReadErr(tx.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&hash), identity.ErrUserNotFound, "lock user"); err != nil {
			return err
		}
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		role := u.Role
		revoke, err := fn(&u, &hash, admins)
		if err != nil {
			return err // the service's decision (identity's errors)
		}
		// Ending the sessions or changing the role cuts off the access
		// tokens issued so far (identity.Me).
		cut := revoke || u.Role != role
		if _, err := tx.Exec(ctx, `UPDATE users SET username = $2, role = $3, is_active = $4, password_hash = $5, updated_at = $6,
				tokens_valid_after = CASE WHEN $7 THEN $6 ELSE tokens_valid_after END WHERE id = $1`,
			id, u.Username, u.Role, u.IsActive, hash, now, cut); err != nil {
			return fmt.Errorf("write user: %w", err)
		}
		if revoke {
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, id, now); err != nil {
				return fmt.Errorf("revoke refresh tokens: %w", err)
			}
		}
		out, err = userByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return identity.User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return out, nil
}

// loginState reads the state of a login for email from client on q.
func loginState(ctx context.Context, q pg.Querier, email, client string, since time.Time) (identity.LoginState, error) {
	var st identity.LoginState
	var id *int64
	var hash *string
	err := q.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM login_failures WHERE email = $1 AND failed_at >= $3),
			COALESCE((SELECT array_agg(failed_at) FROM login_failures WHERE email = $1 AND client = $2 AND failed_at >= $3), '{}'),
			u.id, u.password_hash
		FROM (SELECT 1) one LEFT JOIN users u ON u.email = $1`, email, client, since).
		Scan(&st.EmailFailures, &st.PairFailures, &id, &hash)
	if err != nil {
		return st, fmt.Errorf("read login state: %w", err)
	}
	if id == nil {
		return st, nil // no such account: the service still compares, at the same cost
	}
	u, err := userByID(ctx, q, *id)
	if err != nil {
		return st, err
	}
	st.User, st.Hash = &u, *hash
	return st, nil
}

// LoginState implements identity.Store: reads on the pool, no transaction.
func (s *Store) LoginState(ctx context.Context, email, client string, since time.Time) (identity.LoginState, error) {
	return loginState(ctx, s.Pool, email, client, since)
}

// purgeBatch bounds the expired failures one failed login deletes: more
// than the one it adds, so the backlog drains, and never a long statement.
const purgeBatch = 100

// RecordLogin implements identity.Store. A transaction-scoped advisory lock
// on the email serialises its attempts (the previous release takes the
// same lock), so parallel guesses cannot slip past the failure count.
func (s *Store) RecordLogin(ctx context.Context, email, client string, since, now time.Time, fn func(identity.LoginState) (identity.LoginOutcome, error)) error {
	var fnErr error
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('auth.login:' || $1))`, email); err != nil {
			return fmt.Errorf("lock login attempts: %w", err)
		}
		st, err := loginState(ctx, tx, email, client, since)
		if err != nil {
			return err
		}
		var outcome identity.LoginOutcome
		outcome, fnErr = fn(st)
		switch outcome {
		case identity.LoginFailed:
			if _, err = tx.Exec(ctx, `INSERT INTO login_failures (email, client, failed_at) VALUES ($1, $2, $3)`, email, client, now); err == nil {
				// Failures of every email, older than the window, in a
				// bounded batch; rows another login is purging are skipped.
				_, err = tx.Exec(ctx, `DELETE FROM login_failures WHERE id IN (
					SELECT id FROM login_failures WHERE failed_at < $1 ORDER BY failed_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, since, purgeBatch)
			}
		case identity.LoginSucceeded:
			_, err = tx.Exec(ctx, `DELETE FROM login_failures WHERE email = $1 AND client = $2`, email, client)
		}
		if err != nil {
			return fmt.Errorf("record login outcome: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return fnErr
}

// ClearLoginFailures implements identity.Store.
func (s *Store) ClearLoginFailures(ctx context.Context, userID int64) (int64, error) {
	var users, cleared int64
	err := s.Pool.QueryRow(ctx, `
		WITH u AS (SELECT email FROM users WHERE id = $1),
		d AS (DELETE FROM login_failures WHERE email IN (SELECT email FROM u) RETURNING 1)
		SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM d)`, userID).Scan(&users, &cleared)
	if err != nil {
		return 0, fmt.Errorf("clear login failures of user %d: %w", userID, err)
	}
	if users == 0 {
		return 0, identity.ErrUserNotFound
	}
	return cleared, nil
}

// CreateRefreshToken implements identity.Store.
func (s *Store) CreateRefreshToken(ctx context.Context, t identity.RefreshToken, now time.Time) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.UserID, t.FamilyID, t.ExpiresAt, now)
	if err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

// lockToken reads and locks the token with this hash (nil if none), and
// returns the hash of its successor (nil if it has none).
func lockToken(ctx context.Context, tx pgx.Tx, hash []byte) (*identity.RefreshToken, []byte, error) {
	var t identity.RefreshToken
	var next []byte
	err := tx.QueryRow(ctx, `SELECT token_hash, user_id, family_id, expires_at, used_at, revoked_at, successor_hash, successor_sealed
		FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.Hash, &t.UserID, &t.FamilyID, &t.ExpiresAt, &t.UsedAt, &t.RevokedAt, &next, &t.SuccessorSealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lock refresh token: %w", err)
	}
	return &t, next, nil
}

// RotateRefreshToken implements identity.Store. The row lock makes two
// concurrent uses of one token see each other: the second finds it used.
// The successor is locked after its predecessor, the order of rotations.
func (s *Store) RotateRefreshToken(ctx context.Context, hash []byte, now time.Time, decide func(identity.RefreshToken, identity.User) identity.RotateDecision) error {
	var decision identity.RotateDecision
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		t, next, err := lockToken(ctx, tx, hash)
		if err != nil || t == nil {
			decision = identity.RotateDecision{Err: identity.ErrInvalidRefreshToken}
			return err
		}
		if next != nil {
			if t.Successor, _, err = lockToken(ctx, tx, next); err != nil {
				return err
			}
		}
		u, err := userByID(ctx, tx, t.UserID)
		if err != nil {
			return err
		}
		decision = decide(*t, u)
		return applyRotation(ctx, tx, *t, decision, now)
	})
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	return decision.Err
}

func applyRotation(ctx context.Context, tx pgx.Tx, t identity.RefreshToken, d identity.RotateDecision, now time.Time) error {
	if d.RevokeFamily {
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, t.FamilyID, now); err != nil {
			return fmt.Errorf("revoke token family: %w", err)
		}
	}
	if n := d.Next; n != nil {
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4 WHERE token_hash = $1`,
			t.Hash, now, n.Hash, d.Seal); err != nil {
			return fmt.Errorf("mark refresh token used: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
			n.Hash, n.UserID, n.FamilyID, n.ExpiresAt, now); err != nil {
			return fmt.Errorf("create next refresh token: %w", err)
		}
	}
	return nil
}

// RevokeFamilyOf implements identity.Store.
func (s *Store) RevokeFamilyOf(ctx context.Context, hash []byte, userID int64, now time.Time) error {
	_, err := s.Pool.Exec(ctx, `
		UPDATE refresh_tokens SET revoked_at = $3
		WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)`,
		hash, userID, now)
	if err != nil {
		return fmt.Errorf("revoke token family of user %d: %w", userID, err)
	}
	return nil
}

const teamColumns = `t.id, t.name, t.description, t.created_at, t.updated_at,
	COALESCE((SELECT array_agg(m.user_id ORDER BY m.user_id) FROM team_members m WHERE m.team_id = t.id), '{}')`

func scanTeam(row pgx.Row) (identity.Team, error) {
	var t identity.Team
	err := row.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt, &t.UpdatedAt, &t.MemberIDs)
	if err = pg.ReadErr(err, identity.ErrTeamNotFound, "read team"); err != nil {
		return t, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

func teamByID(ctx context.Context, q pg.Querier, id int64) (identity.Team, error) {
	return scanTeam(q.QueryRow(ctx, `SELECT `+teamColumns+` FROM teams t WHERE t.id = $1`, id))
}

// CreateTeam implements identity.Store.
func (s *Store) CreateTeam(ctx context.Context, name, description string, now time.Time) (identity.Team, error) {
	t, err := scanTeam(s.Pool.QueryRow(ctx, `
		WITH t AS (INSERT INTO teams (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING *)
		SELECT `+teamColumns+` FROM t`, name, description, now))
	if pg.IsUniqueViolation(err, "teams_name_key") {
		return identity.Team{}, identity.ErrTeamNameTaken
	}
	if err != nil {
		return identity.Team{}, fmt.Errorf("create team: %w", err)
	}
	return t, nil
}

// TeamByID implements identity.Store.
func (s *Store) TeamByID(ctx context.Context, id int64) (identity.Team, error) {
	return teamByID(ctx, s.Pool, id)
}

// ListTeams implements identity.Store.
func (s *Store) ListTeams(ctx context.Context, memberOf *int64, p httpx.Pagination) ([]identity.Team, int64, error) {
	var q pg.Filter
	if memberOf != nil {
		q.Where(`EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = t.id AND m.user_id = ` + q.Arg(*memberOf) + `)`)
	}
	return pg.List(ctx, s.Pool, pg.Listing{What: "teams", Columns: teamColumns, From: "teams t", Order: "t.id DESC"}, &q, p.Limit, p.Offset, scanTeam)
}

func (s *Store) changeMembership(ctx context.Context, teamID, userID int64, now time.Time, add bool) (identity.Team, error) {
	var out identity.Team
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := pg.ReadErr(tx.QueryRow(ctx, `SELECT true FROM teams WHERE id = $1 FOR UPDATE`, teamID).Scan(&exists), identity.ErrTeamNotFound, "lock team"); err != nil {
			return err
		}
		if err := pg.ReadErr(tx.QueryRow(ctx, `SELECT true FROM users WHERE id = $1`, userID).Scan(&exists), identity.ErrUserNotFound, "read user"); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		var err error
		if add {
			tag, err = tx.Exec(ctx, `INSERT INTO team_members (team_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, teamID, userID, now)
		} else {
			tag, err = tx.Exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, teamID, userID)
		}
		if err != nil {
			return fmt.Errorf("write membership: %w", err)
		}
		if tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, `UPDATE teams SET updated_at = $2 WHERE id = $1`, teamID, now); err != nil {
				return fmt.Errorf("touch team: %w", err)
			}
		}
		out, err = teamByID(ctx, tx, teamID)
		return err
	})
	if err != nil {
		op := "add"
		if !add {
			op = "remove"
		}
		return identity.Team{}, fmt.Errorf("%s user %d as member of team %d: %w", op, userID, teamID, err)
	}
	return out, nil
}

// AddMember implements identity.Store; adding a member twice is a no-op.
func (s *Store) AddMember(ctx context.Context, teamID, userID int64, now time.Time) (identity.Team, error) {
	return s.changeMembership(ctx, teamID, userID, now, true)
}

// RemoveMember implements identity.Store; removing a non-member is a no-op.
func (s *Store) RemoveMember(ctx context.Context, teamID, userID int64, now time.Time) (identity.Team, error) {
	return s.changeMembership(ctx, teamID, userID, now, false)
}

// RegisterSigningKey records the key now signing tokens and retires every
// other key that was still current. A key retired at once (RetireSigningKey)
// is refused: it must not sign again.
func (s *Store) RegisterSigningKey(ctx context.Context, kid string, pub ed25519.PublicKey, now time.Time) error {
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM signing_keys WHERE kid = $1`, kid).Scan(&revoked)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read key: %w", err)
		}
		if revoked {
			return fmt.Errorf("signing key %s was retired with -retire-key: configure a new key", kid)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, public_key, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (kid) DO UPDATE SET retired_at = NULL`, kid, []byte(pub), now); err != nil {
			return fmt.Errorf("record key: %w", err)
		}
		if _, err = tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL`, kid, now); err != nil {
			return fmt.Errorf("rotate out the other keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("register signing key %s: %w", kid, err)
	}
	return nil
}

// SigningKey is one key that has signed tokens.
type SigningKey struct {
	KID       string
	CreatedAt time.Time
	RetiredAt *time.Time
	RevokedAt *time.Time
}

// SigningKeys lists every key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.Pool.Query(ctx, `SELECT kid, created_at, retired_at, revoked_at FROM signing_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SigningKey])
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return keys, nil
}

// ErrCurrentKey is returned when the key to retire still signs tokens.
var ErrCurrentKey = errors.New("the key still signs tokens: rotate to a new key first")

// ErrUnknownKey is returned for a kid that never signed a token.
var ErrUnknownKey = errors.New("no such signing key")

// RetireSigningKey retires a key that no longer signs tokens at once: it
// leaves the JWKS now rather than a token lifetime after its rotation.
// Retiring a key again changes nothing.
func (s *Store) RetireSigningKey(ctx context.Context, kid string, now time.Time) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		var current bool
		err := tx.QueryRow(ctx, `SELECT retired_at IS NULL FROM signing_keys WHERE kid = $1 FOR UPDATE`, kid).Scan(&current)
		if err = pg.ReadErr(err, ErrUnknownKey, "lock key"); err != nil {
			return err
		}
		if current {
			return ErrCurrentKey
		}
		if _, err = tx.Exec(ctx, `UPDATE signing_keys SET revoked_at = $2 WHERE kid = $1 AND revoked_at IS NULL`, kid, now); err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		return nil
	})
}

// PublishedKeys returns the keys still to be served: current ones and those
// retired after retiredSince.
func (s *Store) PublishedKeys(ctx context.Context, retiredSince time.Time) ([]ed25519.PublicKey, error) {
	rows, err := s.Pool.Query(ctx, `SELECT public_key FROM signing_keys
		WHERE revoked_at IS NULL AND (retired_at IS NULL OR retired_at > $1) ORDER BY created_at DESC`, retiredSince)
	if err != nil {
		return nil, fmt.Errorf("published keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ed25519.PublicKey, error) {
		var b []byte
		err := r.Scan(&b)
		return ed25519.PublicKey(b), err
	})
	if err != nil {
		return nil, fmt.Errorf("published keys: %w", err)
	}
	return keys, nil
}
