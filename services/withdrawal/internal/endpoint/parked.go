package endpoint

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// ListParkedRequest is the query of GET /ledger/parked.
type ListParkedRequest struct {
	Filter ledger.ParkedFilter
	Page   httpx.Pagination
}

// ParkedReversal is the JSON form of a parked reversal
// (docs/api.md#nav-corrections).
type ParkedReversal struct {
	ID               int64        `json:"id"`
	AllocationID     int64        `json:"allocation_id"`
	ReversalID       int64        `json:"reversal_id"`
	CorrectionID     int64        `json:"correction_id"`
	Currency         string       `json:"currency"`
	Distributable    money.Amount `json:"distributable"`
	ToUserAmount     money.Amount `json:"to_user_amount"`
	ToTeamAmount     money.Amount `json:"to_team_amount"`
	ToPlatformAmount money.Amount `json:"to_platform_amount"`
	UserID           int64        `json:"user_id"`
	TeamID           int64        `json:"team_id"`
	Status           string       `json:"status"`
	CreatedAt        time.Time    `json:"created_at"`
	AppliedAt        *time.Time   `json:"applied_at"`
	AppliedBy        *int64       `json:"applied_by"`
}

// ParkedJSON is the JSON form of p.
func ParkedJSON(p ledger.ParkedReversal) ParkedReversal {
	return ParkedReversal{ID: p.ID, AllocationID: p.AllocationID, ReversalID: p.ReversalID, CorrectionID: p.CorrectionID,
		Currency: p.Currency, Distributable: money.NewAmount(p.Distributable), ToUserAmount: money.NewAmount(p.ToUser),
		ToTeamAmount: money.NewAmount(p.ToTeam), ToPlatformAmount: money.NewAmount(p.ToPlatform), UserID: p.UserID,
		TeamID: p.TeamID, Status: p.Status, CreatedAt: p.CreatedAt.UTC(), AppliedAt: p.AppliedAt, AppliedBy: p.AppliedBy}
}

var parkedReply = httpx.ReplyAs(ParkedJSON)

// ParkedEndpoints are the endpoints of parked reversals.
type ParkedEndpoints struct{ ListParked, ApplyParked endpoint.Endpoint }

func newParked(s ledger.Service) ParkedEndpoints {
	return ParkedEndpoints{
		ListParked: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req ListParkedRequest) httpx.Response {
			return parkedReply.List(s.ListParked(ctx, c, req.Filter, req.Page))
		}),
		ApplyParked: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req IDRequest) httpx.Response {
			return parkedReply.OK(s.ApplyParked(ctx, c, req.ID))
		}),
	}
}
