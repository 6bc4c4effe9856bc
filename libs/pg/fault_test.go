package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestTransient(t *testing.T) {
	code := func(c string) error { return fmt.Errorf("store: x: %w", &pgconn.PgError{Code: c}) }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection failure 08006", code("08006"), true},
		{"serialization failure", code("40001"), true},
		{"deadlock", code("40P01"), true},
		{"integrity violation at commit", code("40002"), false},
		{"disk full", code("53100"), true},
		{"too many connections", code("53300"), true},
		{"statement timeout", code("57014"), true},
		{"admin shutdown", code("57P01"), true},
		{"cannot connect now", code("57P03"), true},
		{"I/O error", code("58030"), true},
		{"lock timeout", code("55P03"), true},
		{"object in use", code("55006"), false},
		{"unique violation", code("23505"), false},
		{"check violation", code("23514"), false},
		{"raised by a rule", code("P0001"), false},
		{"numeric overflow", code("22003"), false},
		{"context deadline", fmt.Errorf("begin: %w", context.DeadlineExceeded), true},
		{"connection reset", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"closed connection", fmt.Errorf("commit: %w", errors.New("conn closed")), true},
		{"a business refusal", errors.New("portfolio 2 is not known here"), false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("%s (%v): Transient = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
