package transport

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddress is the address a request came from, as the login lock-out
// counts it (docs/api.md#auth-service), with no proxy in front of the
// edge: ClientAddressBehind(r, 0).
func ClientAddress(r *http.Request) string { return ClientAddressBehind(r, 0) }

// ClientAddressBehind is the address a request came from when hops
// proxies in front of the edge each append to X-Forwarded-For (XFF_TRUSTED_HOPS,
// the edge's xff_num_trusted_hops): the entry hops places before the last
// of X-Forwarded-For — with fewer entries than that, the last one (the
// request reached the edge without those proxies) —, else the host of the
// connection's peer.
//
// The service runs behind an edge, Envoy (use_remote_address) or the dev
// edge's Go reverse proxy, and both append the peer they saw to
// X-Forwarded-For: whatever a client sends comes before that entry, so the
// last one cannot be forged. Addresses are written canonically (an
// IPv4-mapped IPv6 address as IPv4, no port, no zone), so one client is one
// address; a last entry that is no address at all did not come from an edge,
// and the peer is used instead.
func ClientAddressBehind(r *http.Request, hops int) string {
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		entries := strings.Split(strings.Join(values, ","), ",")
		i := len(entries) - 1 - hops
		if i < 0 {
			i = len(entries) - 1
		}
		if a, ok := parseAddr(entries[i]); ok {
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
