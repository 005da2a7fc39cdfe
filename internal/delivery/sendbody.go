package delivery

import "context"

// SendBody sends one attempt of a ready-made JSON body to an outgoing
// endpoint, exactly as a webhook delivery is sent (rate limit, timeout,
// headers, Standard Webhooks signature with webhook-id = deliveryID, SSRF
// guard, 410 disabling the endpoint, Retry-After) but without the
// endpoint's body template. Rule actions that post their own documents to
// an endpoint (work items) use it from their executors.
func (e *Endpoints) SendBody(ctx context.Context, endpointID, deliveryID string, body []byte) Result {
	c, res, ok := e.active(ctx, endpointID)
	if !ok {
		return res
	}
	return e.send(ctx, c, deliveryID, body, "application/json")
}
