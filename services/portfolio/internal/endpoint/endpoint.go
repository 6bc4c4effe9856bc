// Package endpoint turns the portfolio service into go-kit endpoints: one
// per route, each taking a request struct and returning an httpx.Response.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Endpoints are the portfolio service's endpoints.
type Endpoints struct {
	CreatePortfolio, ListPortfolios, GetPortfolio, UpdatePortfolio endpoint.Endpoint
	RecordNAV, ListNAV, CorrectNAV                                 endpoint.Endpoint
}

// Requests.
type (
	IDRequest             struct{ ID int64 }
	ListPortfoliosRequest struct {
		Filter portfolio.Filter
		Page   httpx.Pagination
	}
	UpdatePortfolioRequest struct {
		ID    int64
		Patch portfolio.Patch
	}
	RecordNAVRequest struct {
		PortfolioID int64
		Input       portfolio.NAVInput
	}
	CorrectNAVRequest struct {
		PortfolioID, SnapshotID int64
		Input                   portfolio.NAVInput
	}
	ListNAVRequest struct {
		PortfolioID int64
		Filter      portfolio.SnapshotFilter
		Page        httpx.Pagination
	}
)

type credentialsKey struct{}

// WithCredentials keeps the request's Authorization header in ctx; it is
// forwarded to the auth service when owners are looked up.
func WithCredentials(ctx context.Context, authorization string) context.Context {
	return context.WithValue(ctx, credentialsKey{}, authorization)
}

// withCaller adapts a function of the caller, with its credentials, and
// the request (libauth.WithCaller).
func withCaller[Req any](fn func(ctx context.Context, c portfolio.Caller, req Req) httpx.Response) endpoint.Endpoint {
	return libauth.WithCaller(func(ctx context.Context, c libauth.Caller, req Req) httpx.Response {
		creds, _ := ctx.Value(credentialsKey{}).(string)
		return fn(ctx, portfolio.Caller{Caller: c, Credentials: creds}, req)
	})
}

// New builds the endpoints.
func New(s portfolio.Service) Endpoints {
	return Endpoints{
		CreatePortfolio: withCaller(func(ctx context.Context, c portfolio.Caller, req portfolio.NewPortfolio) httpx.Response {
			return httpx.ReplyCreated(s.CreatePortfolio(ctx, c, req))
		}),
		ListPortfolios: withCaller(func(ctx context.Context, c portfolio.Caller, req ListPortfoliosRequest) httpx.Response {
			return httpx.ReplyList(s.ListPortfolios(ctx, c, req.Filter, req.Page))
		}),
		GetPortfolio: withCaller(func(ctx context.Context, c portfolio.Caller, req IDRequest) httpx.Response {
			return httpx.Reply(s.GetPortfolio(ctx, c, req.ID))
		}),
		UpdatePortfolio: withCaller(func(ctx context.Context, c portfolio.Caller, req UpdatePortfolioRequest) httpx.Response {
			return httpx.Reply(s.UpdatePortfolio(ctx, c, req.ID, req.Patch))
		}),
		RecordNAV: withCaller(func(ctx context.Context, c portfolio.Caller, req RecordNAVRequest) httpx.Response {
			return httpx.ReplyCreated(s.RecordNAV(ctx, c, req.PortfolioID, req.Input))
		}),
		CorrectNAV: withCaller(func(ctx context.Context, c portfolio.Caller, req CorrectNAVRequest) httpx.Response {
			return httpx.Reply(s.CorrectNAV(ctx, c, req.PortfolioID, req.SnapshotID, req.Input))
		}),
		ListNAV: withCaller(func(ctx context.Context, c portfolio.Caller, req ListNAVRequest) httpx.Response {
			return httpx.ReplyList(s.ListSnapshots(ctx, c, req.PortfolioID, req.Filter, req.Page))
		}),
	}
}
