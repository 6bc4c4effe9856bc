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

// NewServer builds the go-kit HTTP server of one route.
func NewServer(ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc, mapErr ErrorMapper) *kithttp.Server {
	return kithttp.NewServer(ep, dec, EncodeResponse(mapErr), ServerOptions(mapErr)...)
}

// NoRequest decodes nothing; for routes whose input is only the caller.
func NoRequest(context.Context, *http.Request) (any, error) { return nil, nil }
