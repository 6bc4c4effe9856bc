package invariants

import "fmt"

// checkpointResult is the withdrawal service's comparison of its database
// with the latest signed checkpoint of its chain heads (GET
// /api/v1/ledger/verify, checkpoint; docs/api.md#ledger-checkpoints).
type checkpointResult struct {
	Status                string  `json:"status"`
	OK                    bool    `json:"ok"`
	TakenAt               *string `json:"taken_at"`
	MaxEntryID            *int64  `json:"max_entry_id"`
	FirstDivergentAccount *string `json:"first_divergent_account"`
}

// checkCheckpoint: the database still holds, at every account's head in
// the latest signed checkpoint, the entry that was signed. A new ledger
// (none published yet) and a service without a key pass, saying so; a
// service that reports no comparison (the previous release) too.
func (s *snapshot) checkCheckpoint() Result {
	const name = "ledger matches its latest signed checkpoint"
	c := s.verify.Checkpoint
	switch {
	case c.Status == "":
		return Result{Name: name, OK: true, Detail: "not reported by this release of the withdrawal service"}
	case !c.OK && c.FirstDivergentAccount != nil:
		return Result{Name: name, Detail: fmt.Sprintf("%s: first divergent account %s", c.Status, *c.FirstDivergentAccount)}
	case !c.OK:
		return Result{Name: name, Detail: c.Status}
	case c.TakenAt == nil || c.MaxEntryID == nil:
		return Result{Name: name, OK: true, Detail: c.Status}
	}
	return Result{Name: name, OK: true, Detail: fmt.Sprintf("%s: checkpoint of %s up to entry %d", c.Status, *c.TakenAt, *c.MaxEntryID)}
}
