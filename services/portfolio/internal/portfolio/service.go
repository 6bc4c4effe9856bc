package portfolio

import (
	"context"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// Limits of a portfolio's texts.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
)

// Options configure the service.
type Options struct {
	Now func() time.Time
}

type service struct {
	store Store
	dir   Directory
	now   func() time.Time
}

// New returns the service.
func New(store Store, dir Directory, opts Options) Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &service{store: store, dir: dir, now: func() time.Time { return opts.Now().UTC().Truncate(time.Microsecond) }}
}

// ValidateCurrency checks an ISO 4217 code: three upper-case letters that
// name a currency.
func ValidateCurrency(code string) error {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return httpx.Invalid("currency", "must be an ISO 4217 code of three upper-case letters")
	}
	if _, err := currency.ParseISO(code); err != nil {
		return httpx.Invalid("currency", "is not an ISO 4217 currency code")
	}
	return nil
}

func validateName(name string) error {
	_, err := httpx.Text("name", name, MaxNameLength)
	return err
}

func validateDescription(d string) error {
	return httpx.MaxLength("description", d, MaxDescriptionLength)
}

func validateOwner(field string, id int64) error {
	if id <= 0 {
		return httpx.Invalid(field, "must be a positive integer")
	}
	return nil
}

// checkOwners asks the directory whether the given owners exist.
func (s *service) checkOwners(ctx context.Context, c Caller, userID, teamID *int64) error {
	if userID != nil {
		ok, err := s.dir.UserExists(ctx, c.Credentials, *userID)
		if err != nil {
			return err
		}
		if !ok {
			return ErrUserNotFound
		}
	}
	if teamID != nil {
		ok, err := s.dir.TeamExists(ctx, c.Credentials, *teamID)
		if err != nil {
			return err
		}
		if !ok {
			return ErrTeamNotFound
		}
	}
	return nil
}

func (s *service) CreatePortfolio(ctx context.Context, c Caller, in NewPortfolio) (Portfolio, error) {
	if c.Role != auth.RoleAdmin {
		return Portfolio{}, ErrForbidden
	}
	cur := DefaultCurrency
	if in.Currency != nil {
		cur = *in.Currency
	}
	name := strings.TrimSpace(in.Name)
	for _, err := range []error{
		validateName(name), validateDescription(in.Description),
		validateOwner("user_id", in.UserID), validateOwner("team_id", in.TeamID), ValidateCurrency(cur),
	} {
		if err != nil {
			return Portfolio{}, err
		}
	}
	if err := s.checkOwners(ctx, c, &in.UserID, &in.TeamID); err != nil {
		return Portfolio{}, err
	}
	now := s.now()
	p := Portfolio{Name: name, Description: in.Description, UserID: in.UserID, TeamID: in.TeamID,
		Currency: cur, CreatedAt: now, UpdatedAt: now}
	return s.store.CreatePortfolio(ctx, p, CreatedEvents)
}

func (s *service) ListPortfolios(ctx context.Context, c Caller, f Filter, p httpx.Pagination) ([]Portfolio, int64, error) {
	f.Visible = nil
	scope, ok := c.ListScope()
	if !ok {
		return nil, 0, ErrForbidden
	}
	if scope != nil {
		f.Visible = &Visibility{UserID: scope.UserID, TeamIDs: scope.Teams}
	}
	return s.store.ListPortfolios(ctx, f, p)
}

// visible returns the portfolio if the caller may read it, and
// ErrPortfolioNotFound otherwise (so ids cannot be probed).
func (s *service) visible(ctx context.Context, c Caller, id int64) (Portfolio, error) {
	p, err := s.store.Portfolio(ctx, id)
	if err != nil {
		return Portfolio{}, err
	}
	if !c.CanReadOwned(p.UserID, p.TeamID) {
		return Portfolio{}, ErrPortfolioNotFound
	}
	return p, nil
}

func (s *service) GetPortfolio(ctx context.Context, c Caller, id int64) (Portfolio, error) {
	return s.visible(ctx, c, id)
}

func (s *service) UpdatePortfolio(ctx context.Context, c Caller, id int64, patch Patch) (Portfolio, error) {
	if _, err := s.visible(ctx, c, id); err != nil {
		return Portfolio{}, err
	}
	if c.Role != auth.RoleAdmin {
		return Portfolio{}, ErrForbidden
	}
	if patch.Name == nil && patch.Description == nil && patch.UserID == nil && patch.TeamID == nil {
		return Portfolio{}, httpx.Invalid("body", "must set at least one of name, description, user_id, team_id")
	}
	var name string
	if patch.Name != nil {
		name = strings.TrimSpace(*patch.Name)
		if err := validateName(name); err != nil {
			return Portfolio{}, err
		}
	}
	if patch.Description != nil {
		if err := validateDescription(*patch.Description); err != nil {
			return Portfolio{}, err
		}
	}
	if patch.UserID != nil {
		if err := validateOwner("user_id", *patch.UserID); err != nil {
			return Portfolio{}, err
		}
	}
	if patch.TeamID != nil {
		if err := validateOwner("team_id", *patch.TeamID); err != nil {
			return Portfolio{}, err
		}
	}
	if err := s.checkOwners(ctx, c, patch.UserID, patch.TeamID); err != nil {
		return Portfolio{}, err
	}
	now := s.now()
	return s.store.UpdatePortfolio(ctx, id, func(p *Portfolio) (bool, error) {
		before := *p
		if patch.Name != nil {
			p.Name = name
		}
		if patch.Description != nil {
			p.Description = *patch.Description
		}
		if patch.UserID != nil {
			p.UserID = *patch.UserID
		}
		if patch.TeamID != nil {
			p.TeamID = *patch.TeamID
		}
		if *p == before {
			return false, nil
		}
		p.UpdatedAt = now
		return true, nil
	}, UpdatedEvents)
}

func (s *service) RecordNAV(ctx context.Context, c Caller, portfolioID int64, in NAVInput) (Snapshot, error) {
	// Everything that can refuse the request without touching it comes
	// first, so that a refusal stores nothing under an Idempotency-Key.
	if _, err := s.visible(ctx, c, portfolioID); err != nil {
		return Snapshot{}, err
	}
	if c.Role != auth.RoleAdmin {
		return Snapshot{}, ErrForbidden
	}
	if err := in.Validate(); err != nil {
		return Snapshot{}, err
	}
	now := s.now()
	if err := httpx.NotInFuture("as_of", in.AsOf, now); err != nil {
		return Snapshot{}, err
	}
	return s.store.RecordNAV(ctx, portfolioID, func(p Portfolio, prev *Snapshot) (Snapshot, error) {
		return NewSnapshot(p, prev, in, now)
	}, SnapshotEvents)
}

func (s *service) ListSnapshots(ctx context.Context, c Caller, portfolioID int64, f SnapshotFilter, p httpx.Pagination) ([]Snapshot, int64, error) {
	if _, err := s.visible(ctx, c, portfolioID); err != nil {
		return nil, 0, err
	}
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return nil, 0, httpx.Invalid("from", "must not be later than to")
	}
	return s.store.ListSnapshots(ctx, portfolioID, f, p)
}
