package httpx

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
)

// Response is what every go-kit endpoint of the platform returns: the data
// of a success envelope (with Total for lists and Status when not 200), or
// the business error in Err (go-kit's Failer), which the service's error
// mapper turns into a status and code.
type Response struct {
	Data   any
	Total  *int64
	Status int
	Err    error
}

var _ endpoint.Failer = Response{}

// Failed implements endpoint.Failer.
func (r Response) Failed() error { return r.Err }

// OK is a 200 response with data.
func OK(data any) Response { return Response{Data: data} }

// Created is a 201 response with data.
func Created(data any) Response { return Response{Data: data, Status: http.StatusCreated} }

// List is a 200 list response.
func List[T any](items []T, total int64) Response {
	if items == nil {
		items = []T{}
	}
	return Response{Data: items, Total: &total}
}

// Fail is a response carrying a business error.
func Fail(err error) Response { return Response{Err: err} }

// Reply is the response to a service call's result: its error, or v as a
// 200's data.
func Reply[T any](v T, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return OK(v)
}

// ReplyCreated is Reply with a 201, for calls that create v.
func ReplyCreated[T any](v T, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return Created(v)
}

// ReplyList is the response to a list call's result: its error, or the
// items and their total.
func ReplyList[T any](items []T, total int64, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return List(items, total)
}

// Replier answers a service call's results in their JSON form: each value
// T is sent as f(T), the resource of docs/api.md.
type Replier[T, J any] struct{ f func(T) J }

// ReplyAs is the Replier that writes values as f makes them.
func ReplyAs[T, J any](f func(T) J) Replier[T, J] { return Replier[T, J]{f} }

// OK is Reply with v in its JSON form.
func (r Replier[T, J]) OK(v T, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return OK(r.f(v))
}

// Created is ReplyCreated with v in its JSON form.
func (r Replier[T, J]) Created(v T, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return Created(r.f(v))
}

// List is ReplyList with every item in its JSON form.
func (r Replier[T, J]) List(items []T, total int64, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return List(r.all(items), total)
}

// Items is a 200 whose data is the items in their JSON form, for lists
// that are not paged (and so have no total).
func (r Replier[T, J]) Items(items []T, err error) Response {
	if err != nil {
		return Fail(err)
	}
	return OK(r.all(items))
}

func (r Replier[T, J]) all(items []T) []J {
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = r.f(it)
	}
	return out
}

// ErrorMapper turns a service's domain errors into client errors; errors it
// does not know it returns unchanged (and they become 500s).
type ErrorMapper func(error) error

// EncodeResponse returns the go-kit response encoder for Response values.
func EncodeResponse(mapErr ErrorMapper) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, resp any) error {
		r, ok := resp.(Response)
		if !ok {
			WriteError(ctx, w, ErrInternal)
			return nil
		}
		if r.Err != nil {
			WriteError(ctx, w, mapErr(r.Err))
			return nil
		}
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		WriteJSON(w, status, Envelope{IsOK: true, Message: "Success", Data: r.Data, Total: r.Total})
		return nil
	}
}

// ServerOptions are the go-kit server options every route uses: errors from
// decoding or the endpoint go through mapErr into the envelope (internal
// ones are logged there, once).
func ServerOptions(mapErr ErrorMapper) []kithttp.ServerOption {
	return []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(func(ctx context.Context, err error, w http.ResponseWriter) {
			WriteError(ctx, w, mapErr(err))
		}),
	}
}

// Middleware wraps one route's handler.
type Middleware = func(http.Handler) http.Handler

// Routes registers a service's go-kit routes on its Router: each route's
// answer in the envelope (EncodeResponse), its decoding and endpoint errors
// through MapError.
type Routes struct {
	*Router
	// MapError is the service's error table (Codes.Map, or a mapper that
	// falls back on it).
	MapError ErrorMapper
	// Auth wraps every protected route: the bearer token check
	// (docs/api.md#authentication), and whatever must run outside it.
	Auth Middleware
	// Before run on every request before it is decoded.
	Before []kithttp.RequestFunc
}

// Server is the go-kit server of one route.
func (rs Routes) Server(ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc) http.Handler {
	opts := ServerOptions(rs.MapError)
	for _, b := range rs.Before {
		opts = append(opts, kithttp.ServerBefore(b))
	}
	return kithttp.NewServer(ep, dec, EncodeResponse(rs.MapError), opts...)
}

// Public registers a route that takes no bearer token.
func (rs Routes) Public(method, path string, ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc) {
	rs.Handle(method, path, rs.Server(ep, dec))
}

// Protected registers a route behind Auth; inner wrap the route's server
// inside the authentication, the first outermost (so an Idempotency-Key
// is kept per caller, docs/api.md#idempotency); a nil one is left out.
func (rs Routes) Protected(method, path string, ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc, inner ...Middleware) {
	h := rs.Server(ep, dec)
	for i := len(inner) - 1; i >= 0; i-- {
		if inner[i] != nil {
			h = inner[i](h)
		}
	}
	rs.Handle(method, path, rs.Auth(h))
}

// Document serves a service's OpenAPI document as it is at GET
// /openapi.json, without a token.
func (rs Routes) Document(doc []byte) {
	rs.Handle("GET", "/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
}

// NoRequest decodes nothing; for routes whose input is only the caller.
func NoRequest(context.Context, *http.Request) (any, error) { return nil, nil }
