package transport

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddress is the address a request came from, as the login lock-out
// counts it (docs/api.md#auth-service): the last entry of X-Forwarded-For
// when there is one, else the host of the connection's peer.
//
// The service runs behind an edge, Envoy (use_remote_address) or the dev
// edge's Go reverse proxy, and both append the peer they saw to
// X-Forwarded-For: whatever a client sends comes before that entry, so the
// last one cannot be forged. Addresses are written canonically (an
// IPv4-mapped IPv6 address as IPv4, no port, no zone), so one client is one
// address; a last entry that is no address at all did not come from an edge,
// and the peer is used instead.
func ClientAddress(r *http.Request) string {
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		list := strings.Join(values, ",")
		if a, ok := parseAddr(list[strings.LastIndexByte(list, ',')+1:]); ok {
			return a
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, ok := parseAddr(host); ok {
		return a
	}
	return host
}

// parseAddr reads an IP address, with or without a port, canonically.
func parseAddr(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone("").String(), true
	}
	return "", false
}
