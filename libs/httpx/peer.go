package httpx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Peer is a client of another service's API, asked on behalf of the
// caller of a request: each request carries the caller's own
// Authorization header, so the other service applies its own rules to
// that caller, and the request id, so both services' logs name it.
type Peer struct {
	name    string
	baseURL string
	http    *http.Client
}

// NewPeer is a client of the service name at baseURL (e.g.
// http://127.0.0.1:8081). A nil client gets one with a 5 s timeout.
func NewPeer(name, baseURL string, client *http.Client) *Peer {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Peer{name: name, baseURL: strings.TrimRight(baseURL, "/"), http: client}
}

// maxPeerBody bounds what is read of an answer.
const maxPeerBody = 1 << 20

// Get asks for path: the body of a 200, or found false on a 404. Anything
// else — no answer, another status, a body that cannot be read — is an
// error naming the request (logged as a failed lookup): the peer could not
// say, which the caller reports as its dependency being unavailable.
func (p *Peer) Get(ctx context.Context, credentials, path string) (body []byte, found bool, err error) {
	url := p.baseURL + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, p.Failed(ctx, url, err)
	}
	req.Header.Set("Accept", "application/json")
	if credentials != "" {
		req.Header.Set("Authorization", credentials)
	}
	if id := RequestID(ctx); id != "" {
		req.Header.Set(RequestIDHeader, id)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, false, p.Failed(ctx, url, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxPeerBody))
	switch {
	case err != nil:
		return nil, false, p.Failed(ctx, url, err)
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, p.Failed(ctx, url, fmt.Errorf("answered %d", resp.StatusCode))
	}
	return body, true, nil
}

// Failed logs a lookup of url that got no usable answer and returns why,
// naming the request.
func (p *Peer) Failed(ctx context.Context, url string, err error) error {
	slog.WarnContext(ctx, p.name+" lookup failed", "url", url, "error", err.Error(), "request_id", RequestID(ctx))
	return fmt.Errorf("GET %s: %w", url, err)
}

// URL is the peer's URL of path.
func (p *Peer) URL(path string) string { return p.baseURL + path }
