// Package edgeclient sends the JSON requests of the API contract
// (docs/ and the services' OpenAPI documents) to the platform's edge, for
// the load generator (bench), the invariant checker and the end-to-end
// tests, which differ only in what they make of the answer.
package edgeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Send sends one request to edge+path: body (when not nil) as JSON, the
// bearer token (when not empty) and headers given as name, value pairs. It
// returns the response, whose body is read into raw and closed.
func Send(ctx context.Context, hc *http.Client, edge, token, method, path string, body any, headers ...string) (resp *http.Response, raw []byte, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, edge+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err = hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, raw, nil
}

// Envelope is the contract's response body.
type Envelope struct {
	IsOK    bool            `json:"isOK"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Total   *int64          `json:"total"`
}

// Decode reads raw, the answer to method path, as an Envelope and, when
// out is not nil, its data into out.
func Decode(method, path string, raw []byte, out any) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return env, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return env, fmt.Errorf("%s %s data: %w", method, path, err)
		}
	}
	return env, nil
}

// StatusError is an answer with a status the caller did not expect.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}
