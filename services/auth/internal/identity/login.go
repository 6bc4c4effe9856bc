package identity

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// The lock-out and slow-down rules of docs/api.md#auth-service ("Login").

// pairLockedUntil says whether the failures of one (email, client address)
// pair in the window lock it, and until when: until fewer than
// MaxLoginFailures remain in the trailing window.
func pairLockedUntil(failures []time.Time) (time.Time, bool) {
	if len(failures) < MaxLoginFailures {
		return time.Time{}, false
	}
	newest := slices.SortedFunc(slices.Values(failures), func(a, b time.Time) int { return b.Compare(a) })
	return newest[MaxLoginFailures-1].Add(LockoutWindow), true
}

// loginDelay is how long a login for an email waits, before its password is
// checked, when the email has failures failed attempts in the window from
// every address: nothing below SlowdownFailures, then 1 s doubling with
// each further failure up to MaxLoginDelay. It slows a guesser spread over
// many addresses down without refusing the owner, whose right password
// still logs in.
func loginDelay(failures int) time.Duration {
	over := failures - SlowdownFailures
	switch {
	case over < 0:
		return 0
	case over >= 16: // no shift past the cap
		return MaxLoginDelay
	}
	return min(time.Second<<over, MaxLoginDelay)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkLoginInput refuses, before any database or bcrypt work, credentials
// no account can have.
func checkLoginInput(email, password string) error {
	if err := httpx.MaxLength("email", email, MaxEmailLength); err != nil {
		return err
	}
	return passwordFits("password", password)
}

// Login reads the state with no transaction, checks the password with no
// connection held (a bcrypt comparison takes tens of milliseconds: inside a
// transaction a few concurrent logins would fill the pool), then records
// the outcome in a short transaction that checks the lock again, so
// parallel guesses from one address cannot get past MaxLoginFailures.
func (s *service) Login(ctx context.Context, in LoginAttempt) (TokenPair, error) {
	email := NormalizeEmail(in.Email)
	if err := checkLoginInput(email, in.Password); err != nil {
		return TokenPair{}, err
	}
	if email == "" || in.Password == "" {
		return TokenPair{}, ErrInvalidCredentials
	}
	now := s.now()
	since := now.Add(-LockoutWindow)
	st, err := s.store.LoginState(ctx, email, in.Client, since)
	if err != nil {
		return TokenPair{}, err
	}
	if until, locked := pairLockedUntil(st.PairFailures); locked {
		return TokenPair{}, &LockedOutError{Until: until}
	}
	if d := loginDelay(st.EmailFailures); d > 0 {
		if err := s.opts.Sleep(ctx, d); err != nil {
			return TokenPair{}, err
		}
	}
	// An unknown email costs the same comparison, against a dummy hash.
	hash := s.dummyHash
	if st.User != nil {
		hash = []byte(st.Hash)
	}
	matched := s.opts.compare(hash, []byte(in.Password)) == nil && st.User != nil
	var user User
	err = s.store.RecordLogin(ctx, email, in.Client, since, now, func(cur LoginState) (LoginOutcome, error) {
		if until, locked := pairLockedUntil(cur.PairFailures); locked {
			return LoginRefused, &LockedOutError{Until: until}
		}
		// The hash compared must still be the account's: a password
		// changed in between makes the old one wrong.
		if !matched || cur.User == nil || cur.Hash != st.Hash {
			return LoginFailed, ErrInvalidCredentials
		}
		if !cur.User.IsActive {
			return LoginRefused, ErrAccountDisabled
		}
		user = *cur.User
		return LoginSucceeded, nil
	})
	if err != nil {
		return TokenPair{}, err
	}
	pair, rt, err := s.pair(user, uuid.New(), now)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.store.CreateRefreshToken(ctx, *rt, now); err != nil {
		return TokenPair{}, err
	}
	return pair, nil
}

// UnlockUser clears every login failure of the user's email, from every
// address: an admin's answer to a lock-out.
func (s *service) UnlockUser(ctx context.Context, caller Caller, id int64) (Unlocked, error) {
	if !canSeeUser(caller, id) {
		return Unlocked{}, ErrNotFound
	}
	if caller.Role != auth.RoleAdmin {
		return Unlocked{}, ErrForbidden
	}
	n, err := s.store.ClearLoginFailures(ctx, id)
	if errors.Is(err, ErrUserNotFound) {
		return Unlocked{}, ErrNotFound
	}
	return Unlocked{Cleared: n}, err
}
