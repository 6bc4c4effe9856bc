package pg

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether err is a fault of the database or of the
// connection to it — one that passes without anything changing in the work
// that met it — rather than a refusal of that work:
//
//   - SQLSTATE class 08 (connection exception), 40 (transaction rollback:
//     serialization failure, deadlock; not 40002, an integrity violation
//     found at commit), 53 (insufficient resources: disk full, out of
//     memory, too many connections), 57 (operator intervention: statement
//     timeout, admin or crash shutdown, cannot connect now), 58 (system
//     error: I/O) and 55P03 (lock timeout);
//   - a connection that could not be made, was closed or reset, or timed
//     out, and a context deadline.
//
// Callers that retry transient errors must retry them without limit (with
// backoff): giving up would turn an outage into a lost or refused event.
// Unique and check violations, bad input and the like are not transient.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch class := pgErr.Code[:2]; {
		case class == "08", class == "53", class == "57", class == "58":
			return true
		case class == "40":
			return pgErr.Code != "40002"
		default:
			return pgErr.Code == "55P03"
		}
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		isClosedConn(err)
}

// isClosedConn: pgx reports a statement on a connection it already knows
// to be dead (the server terminated it) with a plain error.
func isClosedConn(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "conn closed" {
			return true
		}
	}
	return false
}
