// Package identity is the auth service's domain: users, teams, and the
// credentials that prove who a caller is (passwords, access and refresh
// tokens). It holds the rules of docs/api.md#auth-service and knows nothing of
// HTTP or PostgreSQL; those live in the transport and store packages.
package identity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// User is an account as the API shows it (never with its password hash).
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	IsActive  bool      `json:"is_active"`
	TeamIDs   []int64   `json:"team_ids"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// TokensValidAfter cuts off the access tokens issued before it (Me);
	// nil: none. Not part of the API.
	TokensValidAfter *time.Time `json:"-"`
}

// Team is a group of users that profit can be allocated to.
type Team struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	MemberIDs   []int64   `json:"member_ids"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Caller is the authenticated principal of a request.
type Caller = auth.Caller

// TokenPair is what login and refresh return.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// RefreshToken is a stored refresh token; only its hash is kept.
type RefreshToken struct {
	Hash      []byte
	UserID    int64
	FamilyID  uuid.UUID
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	// SuccessorSealed is the token this one was rotated to, sealed with a
	// key only this token's holder can derive (sealSuccessor); Successor is
	// that token's row, read by the store. Both are nil until a rotation.
	SuccessorSealed []byte
	Successor       *RefreshToken
}

// LoginAttempt is the input of Login: the credentials and the client
// address they came from (transport.ClientAddress).
type LoginAttempt struct {
	Email    string
	Password string
	Client   string
}

// Unlocked is what clearing a user's login failures answers.
type Unlocked struct {
	Cleared int64 `json:"cleared"`
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// UserPatch is the input of UpdateUser; nil fields are left alone.
type UserPatch struct {
	Role        *string `json:"role"`
	IsActive    *bool   `json:"is_active"`
	Username    *string `json:"username"`
	Password    *string `json:"password"`
	OldPassword *string `json:"old_password"`
}

// NewTeam is the input of CreateTeam.
type NewTeam struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	Role     *string
	IsActive *bool
}

// Errors of the domain; the transport maps each to a status and code.
var (
	ErrInvalidCredentials  = errors.New("invalid email or password")
	ErrLockedOut           = errors.New("too many failed logins; try again later")
	ErrAccountDisabled     = errors.New("account is disabled")
	ErrInvalidRefreshToken = errors.New("refresh token is invalid or expired")
	ErrRefreshTokenReused  = errors.New("refresh token was already used; its session has been revoked")
	ErrForbidden           = errors.New("not allowed")
	ErrNotFound            = errors.New("not found")
	ErrUserNotFound        = errors.New("user not found")
	ErrTeamNotFound        = errors.New("team not found")
	ErrEmailTaken          = errors.New("email is already registered")
	ErrTeamNameTaken       = errors.New("team name is already taken")
	ErrLastAdmin           = errors.New("the last active admin cannot be demoted or deactivated")
	ErrUnauthenticated     = errors.New("authentication required")
)

// LockedOutError is ErrLockedOut with the time the lock ends.
type LockedOutError struct{ Until time.Time }

func (e *LockedOutError) Error() string { return ErrLockedOut.Error() }
func (e *LockedOutError) Unwrap() error { return ErrLockedOut }

// Service is what the auth service does.
type Service interface {
	Login(ctx context.Context, in LoginAttempt) (TokenPair, error)
	Refresh(ctx context.Context, refreshToken string) (TokenPair, error)
	Logout(ctx context.Context, caller Caller, refreshToken string) error
	Me(ctx context.Context, caller Caller) (User, error)

	CreateUser(ctx context.Context, caller Caller, in NewUser) (User, error)
	ListUsers(ctx context.Context, caller Caller, f UserFilter, p httpx.Pagination) ([]User, int64, error)
	GetUser(ctx context.Context, caller Caller, id int64) (User, error)
	UpdateUser(ctx context.Context, caller Caller, id int64, patch UserPatch) (User, error)
	UnlockUser(ctx context.Context, caller Caller, id int64) (Unlocked, error)

	CreateTeam(ctx context.Context, caller Caller, in NewTeam) (Team, error)
	ListTeams(ctx context.Context, caller Caller, p httpx.Pagination) ([]Team, int64, error)
	GetTeam(ctx context.Context, caller Caller, id int64) (Team, error)
	AddMember(ctx context.Context, caller Caller, teamID, userID int64) (Team, error)
	RemoveMember(ctx context.Context, caller Caller, teamID, userID int64) (Team, error)
}

// LoginState is what the store knows about an email when a login is tried:
// the account (nil when no account has the email), the times of the recent
// failed attempts from the attempt's client address, and the number of
// recent failed attempts from every address.
type LoginState struct {
	User          *User
	Hash          string
	PairFailures  []time.Time
	EmailFailures int
}

// LoginOutcome is what a login attempt leaves behind.
type LoginOutcome int

// Login outcomes.
const (
	LoginRefused   LoginOutcome = iota // refused without checking: nothing recorded
	LoginFailed                        // wrong credentials: a failure is recorded
	LoginSucceeded                     // the failures of the (email, client) pair are cleared
)

// RotateDecision tells the store what to do with a presented refresh token.
type RotateDecision struct {
	Next         *RefreshToken // store it and mark the presented one used
	Seal         []byte        // with Next: its token sealed for the presented one's holder
	RevokeFamily bool          // revoke every token of the presented one's family
	Err          error         // returned to the caller after the store commits
}

// Store is the persistence the service needs; the pgx adapter in the store
// package implements it. Methods taking a closure run it inside one
// transaction with the rows it concerns locked.
type Store interface {
	CreateUser(ctx context.Context, email, username, hash, role string, now time.Time) (User, error)
	BootstrapAdmin(ctx context.Context, email, username, hash string, now time.Time) (bool, error)
	UserByID(ctx context.Context, id int64) (User, error)
	UserHash(ctx context.Context, id int64) (string, error)
	ListUsers(ctx context.Context, f UserFilter, p httpx.Pagination) ([]User, int64, error)
	// UpdateUser locks the user and calls fn with it and the number of
	// active admins; fn edits u (and may set a new hash) and reports
	// whether the user's refresh tokens must be revoked.
	UpdateUser(ctx context.Context, id int64, now time.Time, fn func(u *User, hash *string, activeAdmins int) (revoke bool, err error)) (User, error)

	// LoginState reads the state of a login for email from client
	// (failures since `since`) and returns with no connection held.
	LoginState(ctx context.Context, email, client string, since time.Time) (LoginState, error)
	// RecordLogin serialises attempts for one email in a short
	// transaction: it reads the state again, calls fn with it, then records
	// a failure of the pair (purging a bounded batch of failures older than
	// since) or clears the pair's failures, as fn's outcome says.
	RecordLogin(ctx context.Context, email, client string, since, now time.Time, fn func(LoginState) (LoginOutcome, error)) error
	// ClearLoginFailures deletes every failure of the user's email and
	// returns how many there were (ErrUserNotFound if no such user).
	ClearLoginFailures(ctx context.Context, userID int64) (int64, error)

	CreateRefreshToken(ctx context.Context, t RefreshToken, now time.Time) error
	// RotateRefreshToken locks the token with this hash (ErrInvalidRefreshToken
	// if none) and its successor if it has one, calls decide with them and
	// its user, and applies the decision.
	RotateRefreshToken(ctx context.Context, hash []byte, now time.Time, decide func(RefreshToken, User) RotateDecision) error
	// RevokeFamilyOf revokes the family of the token with this hash if it
	// belongs to userID.
	RevokeFamilyOf(ctx context.Context, hash []byte, userID int64, now time.Time) error

	CreateTeam(ctx context.Context, name, description string, now time.Time) (Team, error)
	TeamByID(ctx context.Context, id int64) (Team, error)
	ListTeams(ctx context.Context, memberOf *int64, p httpx.Pagination) ([]Team, int64, error)
	AddMember(ctx context.Context, teamID, userID int64, now time.Time) (Team, error)
	RemoveMember(ctx context.Context, teamID, userID int64, now time.Time) (Team, error)
}

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// Issue signs an access token for the user with its teams, valid from
	// now for the issuer's TTL; it returns the token and its lifetime.
	Issue(u User, now time.Time) (string, time.Duration, error)
}
