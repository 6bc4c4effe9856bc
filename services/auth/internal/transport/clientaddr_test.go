package transport_test

import (
	"net/http/httptest"
	"testing"

	"github.com/fundplatform/platform/services/auth/internal/transport"
)

// TestClientAddress: the last X-Forwarded-For entry (the one the edge
// appended), else the peer's host, written canonically.
func TestClientAddress(t *testing.T) {
	cases := []struct {
		name, remote string
		xff          []string // header lines, in order
		want         string
	}{
		{"no header: the peer", "10.0.0.1:51000", nil, "10.0.0.1"},
		{"one entry", "192.0.2.1:443", []string{"10.0.0.2"}, "10.0.0.2"},
		{"a forged first entry is ignored", "192.0.2.1:443", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.2"},
		{"the last of several lines", "192.0.2.1:443", []string{"10.0.0.1", "10.0.0.3, 10.0.0.2"}, "10.0.0.2"},
		{"spaces around", "192.0.2.1:443", []string{"10.0.0.1 ,  10.0.0.2  "}, "10.0.0.2"},
		{"with a port", "192.0.2.1:443", []string{"10.0.0.2:8443"}, "10.0.0.2"},
		{"IPv6, canonical", "192.0.2.1:443", []string{"2001:DB8:0:0::1"}, "2001:db8::1"},
		{"IPv6 with a port", "192.0.2.1:443", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4-mapped IPv6 is IPv4", "192.0.2.1:443", []string{"::ffff:10.0.0.2"}, "10.0.0.2"},
		{"a last entry that is no address: the peer", "10.0.0.1:51000", []string{"10.0.0.2, evil"}, "10.0.0.1"},
		{"an empty last entry: the peer", "10.0.0.1:51000", []string{"10.0.0.2,"}, "10.0.0.1"},
		{"an IPv6 peer", "[2001:db8::7]:51000", nil, "2001:db8::7"},
		{"a peer without a port", "10.0.0.1", nil, "10.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/login", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := transport.ClientAddress(r); got != c.want {
				t.Fatalf("ClientAddress = %q, want %q", got, c.want)
			}
		})
	}
}

// TestClientAddressBehindProxies: with proxies in front of the edge, the
// entry that many before the last (the one the first trusted proxy
// appended); entries a client sent before it are ignored.
func TestClientAddressBehindProxies(t *testing.T) {
	cases := []struct {
		name string
		hops int
		xff  string
		want string
	}{
		{"no proxy: the last", 0, "10.0.0.9, 10.0.0.1, 10.0.0.2", "10.0.0.2"},
		{"one proxy: the one before the last", 1, "10.0.0.9, 10.0.0.1, 10.0.0.2", "10.0.0.1"},
		{"two proxies", 2, "10.0.0.9, 10.0.0.1, 10.0.0.2", "10.0.0.9"},
		{"fewer entries than proxies: the last", 2, "10.0.0.1, 10.0.0.2", "10.0.0.2"},
		{"that entry is no address: the peer", 1, "evil, 10.0.0.2", "192.0.2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/login", nil)
			r.RemoteAddr = "192.0.2.1:443"
			r.Header.Set("X-Forwarded-For", c.xff)
			if got := transport.ClientAddressBehind(r, c.hops); got != c.want {
				t.Fatalf("ClientAddressBehind(%d) = %q, want %q", c.hops, got, c.want)
			}
		})
	}
}
