package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/powny/powny/platform/client"
)

// Invocation is GET /v1/invocations/{id}, as the Go client reads it.
type Invocation = client.Invocation

// Attempt is one entry of an invocation's history.
type Attempt = client.Attempt

// Failure is an invocation's error.
type Failure = client.Failure

// Member is a member listed by GET /v1/system.
type Member = client.Member

// System is GET /v1/system.
type System = client.System

// API calls Powny's HTTP API through its Go client, with the shapes the
// tests use.
type API struct {
	c *client.Client
}

// Deploy deploys source as function name.
func (a *API) Deploy(ctx context.Context, name, source string) error {
	_, _, err := a.c.Deploy(ctx, name, []byte(source), "crashtest")
	return err
}

// Invoke starts an invocation of name with input (encoded as JSON) and
// returns its id; it does not wait.
func (a *API) Invoke(ctx context.Context, name string, input any) (int64, error) {
	inv, err := a.InvokeWait(ctx, name, input, 0)
	return inv.ID, err
}

// InvokeWait invokes name and waits up to wait for the result (?wait=).
func (a *API) InvokeWait(ctx context.Context, name string, input any, wait time.Duration) (Invocation, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return Invocation{}, fmt.Errorf("encode input: %w", err)
	}
	return a.c.Invoke(ctx, name, body, client.InvokeOptions{Wait: wait})
}

// Invocation reads an invocation with its history.
func (a *API) Invocation(ctx context.Context, id int64) (Invocation, error) {
	return a.c.GetInvocation(ctx, id)
}

// System reads GET /v1/system.
func (a *API) System(ctx context.Context) (System, error) {
	return a.c.GetSystem(ctx)
}

// AcceptedEvent is what POST /v1/events did with one event.
type AcceptedEvent = client.AcceptedEvent

// SendEvents sends a batch of events, each encoded as JSON.
func (a *API) SendEvents(ctx context.Context, events ...any) ([]AcceptedEvent, error) {
	raws := make([]json.RawMessage, len(events))
	for i, e := range events {
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode event %d: %w", i, err)
		}
		raws[i] = raw
	}
	return a.c.SendEvents(ctx, raws)
}
