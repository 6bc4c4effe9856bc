package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// Rules of docs/api.md#auth-service.
const (
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
	// MaxPasswordBytes is bcrypt's input limit; longer passwords are refused
	// rather than silently truncated.
	MaxPasswordBytes = 72
	// MaxEmailLength is the longest email, in characters.
	MaxEmailLength = 254
	// MaxLoginFailures within LockoutWindow from one client address lock
	// that (email, address) pair out.
	MaxLoginFailures = 5
	// SlowdownFailures within LockoutWindow from every address slow the
	// email's logins down (loginDelay) without locking anyone out.
	SlowdownFailures = 20
	// MaxLoginDelay caps that slow-down.
	MaxLoginDelay = 4 * time.Second
	// LockoutWindow is the window failures are counted in.
	LockoutWindow = 15 * time.Minute
	// RefreshRetryGrace is how long after its rotation a refresh token may
	// be presented again as a retry (Refresh) rather than as a reuse.
	RefreshRetryGrace = 10 * time.Second
	// DefaultBcryptCost is the production hashing cost (the minimum there).
	DefaultBcryptCost = 12
)

// Options configure the service.
type Options struct {
	RefreshTTL time.Duration
	BcryptCost int
	Now        func() time.Time
	// Sleep waits d (the login slow-down) or until ctx ends; nil waits
	// with a timer. Tests record the delays instead of waiting them.
	Sleep func(ctx context.Context, d time.Duration) error
	// compare checks a password against a bcrypt hash; nil is bcrypt's.
	// Tests wrap it to see what is held while it runs (export_test.go).
	compare func(hash, password []byte) error
}

type service struct {
	store  Store
	tokens TokenIssuer
	opts   Options
	// dummyHash is compared against when an email is unknown, so a login
	// takes as long whether or not the account exists.
	dummyHash []byte
}

// New returns the service.
func New(store Store, tokens TokenIssuer, opts Options) Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = DefaultBcryptCost
	}
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = 7 * 24 * time.Hour
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.compare == nil {
		opts.compare = bcrypt.CompareHashAndPassword
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte("dummy password for timing"), opts.BcryptCost)
	return &service{store: store, tokens: tokens, opts: opts, dummyHash: dummy}
}

func (s *service) now() time.Time { return s.opts.Now().UTC() }

// NormalizeEmail trims and lower-cases an email; emails are unique
// case-insensitively.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validateEmail(email string) error {
	if email == "" {
		return httpx.Invalid("email", "is required")
	}
	if err := httpx.MaxLength("email", email, MaxEmailLength); err != nil {
		return err
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return httpx.Invalid("email", "must be a valid email address")
	}
	return nil
}

// ValidatePassword checks the password rules.
func ValidatePassword(field, pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return httpx.Invalid(field, "must be at least 12 characters")
	}
	return passwordFits(field, pw)
}

// passwordFits checks bcrypt's input limit: a longer password is refused,
// never truncated, and at login cannot match any stored one.
func passwordFits(field, pw string) error {
	if len(pw) > MaxPasswordBytes {
		return httpx.Invalid(field, "must be at most 72 bytes")
	}
	return nil
}

func validateName(field, v string, max int) error {
	_, err := httpx.Text(field, v, max)
	return err
}

func validRole(r string) bool {
	return r == auth.RoleAdmin || r == auth.RoleViewer || r == auth.RoleUser
}

func (s *service) hash(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.opts.BcryptCost)
	return string(h), err
}

// --- tokens -----------------------------------------------------------------

func newOpaqueToken() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, HashRefreshToken(tok)
}

// HashRefreshToken is how refresh tokens are stored: only their SHA-256.
func HashRefreshToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

func (s *service) pair(u User, family uuid.UUID, now time.Time) (TokenPair, *RefreshToken, error) {
	access, ttl, err := s.tokens.Issue(u, now)
	if err != nil {
		return TokenPair{}, nil, err
	}
	refresh, hash := newOpaqueToken()
	rt := &RefreshToken{Hash: hash, UserID: u.ID, FamilyID: family, ExpiresAt: now.Add(s.opts.RefreshTTL)}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second)}, rt, nil
}

func (s *service) Logout(ctx context.Context, caller Caller, refreshToken string) error {
	if refreshToken == "" {
		return httpx.Invalid("refresh_token", "is required")
	}
	// Logging out ends the session: the token's whole family. A token that
	// is unknown or someone else's changes nothing (logout is idempotent).
	return s.store.RevokeFamilyOf(ctx, HashRefreshToken(refreshToken), caller.UserID, s.now())
}

// Me is also the revocation check of every service's writes
// (docs/api.md#authentication): the caller's token is refused when its user
// is gone or inactive, has another role than the token says, or had its
// tokens cut off (password change, deactivation, role change) after the
// token was issued. iat has whole seconds: a token issued in the second of
// the cut-off, before it, still passes.
func (s *service) Me(ctx context.Context, caller Caller) (User, error) {
	u, err := s.store.UserByID(ctx, caller.UserID)
	if errors.Is(err, ErrUserNotFound) || (err == nil && !u.IsActive) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, err
	}
	if u.Role != caller.Role || (u.TokensValidAfter != nil && caller.IssuedAt.Before(u.TokensValidAfter.Truncate(time.Second))) {
		return User{}, ErrUnauthenticated
	}
	return u, nil
}

// Bootstrap creates the first admin when there are no users; it reports
// whether it did.
func Bootstrap(ctx context.Context, store Store, email, password string, cost int, now time.Time) (bool, error) {
	email = NormalizeEmail(email)
	if err := validateEmail(email); err != nil {
		return false, err
	}
	if err := ValidatePassword("BOOTSTRAP_ADMIN_PASSWORD", password); err != nil {
		return false, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return false, err
	}
	return store.BootstrapAdmin(ctx, email, "admin", string(h), now)
}

// --- users ------------------------------------------------------------------

func (s *service) CreateUser(ctx context.Context, caller Caller, in NewUser) (User, error) {
	if caller.Role != auth.RoleAdmin {
		return User{}, ErrForbidden
	}
	in.Email = NormalizeEmail(in.Email)
	if err := validateEmail(in.Email); err != nil {
		return User{}, err
	}
	if err := validateName("username", in.Username, 100); err != nil {
		return User{}, err
	}
	if err := ValidatePassword("password", in.Password); err != nil {
		return User{}, err
	}
	if !validRole(in.Role) {
		return User{}, httpx.Invalid("role", "must be one of admin, viewer, user")
	}
	h, err := s.hash(in.Password)
	if err != nil {
		return User{}, err
	}
	return s.store.CreateUser(ctx, in.Email, strings.TrimSpace(in.Username), h, in.Role, s.now())
}

func (s *service) ListUsers(ctx context.Context, caller Caller, f UserFilter, p httpx.Pagination) ([]User, int64, error) {
	if caller.Role != auth.RoleAdmin && caller.Role != auth.RoleViewer {
		return nil, 0, ErrForbidden
	}
	if f.Role != nil && !validRole(*f.Role) {
		return nil, 0, httpx.Invalid("role", "must be one of admin, viewer, user")
	}
	return s.store.ListUsers(ctx, f, p)
}

// canSeeUser: admins and viewers see everyone, a user only itself.
func canSeeUser(c Caller, id int64) bool {
	return c.Role == auth.RoleAdmin || c.Role == auth.RoleViewer || c.UserID == id
}

func (s *service) GetUser(ctx context.Context, caller Caller, id int64) (User, error) {
	if !canSeeUser(caller, id) {
		return User{}, ErrNotFound
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, ErrNotFound
	}
	return u, err
}

func (s *service) UpdateUser(ctx context.Context, caller Caller, id int64, p UserPatch) (User, error) {
	if !canSeeUser(caller, id) {
		return User{}, ErrNotFound
	}
	adminFields := p.Role != nil || p.IsActive != nil || p.Username != nil
	if !adminFields && p.Password == nil {
		if p.OldPassword != nil {
			return User{}, httpx.Invalid("password", "is required with old_password")
		}
		return User{}, httpx.Invalid("body", "must set at least one of role, is_active, username, password")
	}
	if adminFields && caller.Role != auth.RoleAdmin {
		return User{}, ErrForbidden
	}
	if p.Password != nil && caller.UserID != id {
		// Nobody sets another user's password; an admin deactivates the
		// account or the user changes it with its old one.
		return User{}, ErrForbidden
	}
	if p.Role != nil && !validRole(*p.Role) {
		return User{}, httpx.Invalid("role", "must be one of admin, viewer, user")
	}
	if p.Username != nil {
		if err := validateName("username", *p.Username, 100); err != nil {
			return User{}, err
		}
	}
	var newHash string
	if p.Password != nil {
		if p.OldPassword == nil || *p.OldPassword == "" {
			return User{}, httpx.Invalid("old_password", "is required to change the password")
		}
		if err := ValidatePassword("password", *p.Password); err != nil {
			return User{}, err
		}
		h, err := s.hash(*p.Password)
		if err != nil {
			return User{}, err
		}
		newHash = h
	}
	u, err := s.store.UpdateUser(ctx, id, s.now(), func(u *User, hash *string, activeAdmins int) (bool, error) {
		revoke := false
		if p.Password != nil {
			if bcrypt.CompareHashAndPassword([]byte(*hash), []byte(*p.OldPassword)) != nil {
				return false, httpx.Invalid("old_password", "is incorrect")
			}
			*hash = newHash
			revoke = true // other sessions end with the old password
		}
		wasActiveAdmin := u.Role == auth.RoleAdmin && u.IsActive
		if p.Role != nil {
			u.Role = *p.Role
		}
		if p.IsActive != nil {
			if u.IsActive && !*p.IsActive {
				revoke = true
			}
			u.IsActive = *p.IsActive
		}
		if p.Username != nil {
			u.Username = strings.TrimSpace(*p.Username)
		}
		if wasActiveAdmin && (u.Role != auth.RoleAdmin || !u.IsActive) && activeAdmins <= 1 {
			return false, ErrLastAdmin
		}
		return revoke, nil
	})
	if errors.Is(err, ErrUserNotFound) {
		return User{}, ErrNotFound
	}
	return u, err
}

// --- teams ------------------------------------------------------------------

func (s *service) CreateTeam(ctx context.Context, caller Caller, in NewTeam) (Team, error) {
	if caller.Role != auth.RoleAdmin {
		return Team{}, ErrForbidden
	}
	if err := validateName("name", in.Name, 100); err != nil {
		return Team{}, err
	}
	if err := httpx.MaxLength("description", in.Description, 1000); err != nil {
		return Team{}, err
	}
	return s.store.CreateTeam(ctx, strings.TrimSpace(in.Name), in.Description, s.now())
}

func (s *service) ListTeams(ctx context.Context, caller Caller, p httpx.Pagination) ([]Team, int64, error) {
	var memberOf *int64
	if caller.Role == auth.RoleUser {
		memberOf = &caller.UserID
	}
	return s.store.ListTeams(ctx, memberOf, p)
}

func (s *service) GetTeam(ctx context.Context, caller Caller, id int64) (Team, error) {
	t, err := s.store.TeamByID(ctx, id)
	if errors.Is(err, ErrTeamNotFound) {
		return Team{}, ErrNotFound
	}
	if err != nil {
		return Team{}, err
	}
	// Membership is read from the database, not the token, so a user
	// removed from a team stops seeing it at once.
	if caller.Role == auth.RoleUser && !slices.Contains(t.MemberIDs, caller.UserID) {
		return Team{}, ErrNotFound
	}
	return t, nil
}

func (s *service) AddMember(ctx context.Context, caller Caller, teamID, userID int64) (Team, error) {
	if caller.Role != auth.RoleAdmin {
		return Team{}, ErrForbidden
	}
	return s.store.AddMember(ctx, teamID, userID, s.now())
}

func (s *service) RemoveMember(ctx context.Context, caller Caller, teamID, userID int64) (Team, error) {
	if caller.Role != auth.RoleAdmin {
		return Team{}, ErrForbidden
	}
	return s.store.RemoveMember(ctx, teamID, userID, s.now())
}
