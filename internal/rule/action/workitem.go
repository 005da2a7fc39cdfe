package action

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// BodySender sends a JSON body to an outgoing endpoint as one delivery
// attempt (*delivery.Endpoints does).
type BodySender interface {
	SendBody(ctx context.Context, endpointID, deliveryID string, body []byte) delivery.Result
}

var _ BodySender = (*delivery.Endpoints)(nil)

// WorkItems returns the executor of workitem actions: it renders the work
// item from the event and sends it to the action's endpoint, signed with
// the delivery id as webhook-id (a stable id the receiver can dedupe on).
func WorkItems(s BodySender) delivery.Executor {
	return delivery.ExecutorFunc(func(ctx context.Context, c *store.Claimed) delivery.Result {
		var a rule.Action
		if err := json.Unmarshal([]byte(c.Action), &a); err != nil {
			return delivery.Result{Err: fmt.Errorf("the delivery's action is not valid JSON: %v", err), Permanent: true}
		}
		r, err := rule.Render(a, &c.Event)
		if err != nil {
			return delivery.Result{Err: fmt.Errorf("template: %w (fix the rule, then replay)", err), Permanent: true}
		}
		if r.WorkItem == nil {
			return delivery.Result{Err: fmt.Errorf("action kind %q is not %s", a.Kind, rule.KindWorkItem), Permanent: true}
		}
		body, err := json.Marshal(r.WorkItem)
		if err != nil {
			return delivery.Result{Err: err, Permanent: true}
		}
		return s.SendBody(ctx, a.Endpoint, c.ID, body)
	})
}
