package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/store"
)

// PrivacyRequestID is the workflow ID for one compliance webhook delivery:
// a redelivery of the same webhook is the same workflow, so it is a no-op.
func PrivacyRequestID(kind, shop, requestID string) string {
	return fmt.Sprintf("privacy/%s/%s/%s", kind, shop, requestID)
}

// StartPrivacyRequest starts a request's workflow once, ever: a redelivery
// of the webhook, or a re-drive, finds its ID used and reports false.
func StartPrivacyRequest(ctx context.Context, c client.Client, kind, shop, requestID string) (bool, error) {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       PrivacyRequestID(kind, shop, requestID),
		TaskQueue:                                TaskQueue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, PrivacyRequest, PrivacyRequestInput{RequestID: requestID, Kind: kind})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return false, nil // under way or done
	}
	return err == nil, err
}

// PrivacyStarter is the activities' way to start a PrivacyRequest (the
// re-drive), through the same options as compliance intake.
func PrivacyStarter(c client.Client) activities.PrivacyStarter {
	return func(ctx context.Context, kind, shop, requestID string) (bool, error) {
		return StartPrivacyRequest(ctx, c, kind, shop, requestID)
	}
}

// PrivacyRedriveScheduleID is the Temporal Schedule that runs
// RedrivePrivacy.
const PrivacyRedriveScheduleID = "candor-privacy-redrive"

// PrivacyRedriveInterval is how often the schedule re-drives: a request
// accepted while Temporal was down starts within this (plus the grace
// period) of Temporal coming back.
const PrivacyRedriveInterval = 10 * time.Minute

// RedrivePrivacy starts the workflow of every privacy request that was
// accepted but whose workflow never started, so no compliance request
// stalls when its start failed and Shopify's retries ran out.
func RedrivePrivacy(ctx workflow.Context) (activities.RedriveResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var res activities.RedriveResult
	err := workflow.ExecuteActivity(ctx, a.RedrivePrivacyRequests).Get(ctx, &res)
	return res, err
}

// EnsurePrivacyRedriveSchedule creates the schedule, or brings an existing
// one back to the current spec; it is safe to call at every worker start.
func EnsurePrivacyRedriveSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, PrivacyRedriveScheduleID, PrivacyRedriveInterval, "privacy-redrive/scheduled", RedrivePrivacy)
}

// PrivacyRequestInput names the request; what it is about stays in
// Postgres.
type PrivacyRequestInput struct {
	RequestID string `json:"request_id"`
	Kind      string `json:"kind"`
}

// PrivacyRequestResult sums up each system's step.
type PrivacyRequestResult struct {
	Steps map[string]activities.StepResult `json:"steps"`
}

// privacyRetry retries a privacy step with backoff, for as long as it
// takes.
var privacyRetry = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    10 * time.Minute,
	// No maximum attempts: an outage is waited out, not reported as done.
}

// shopRedactLongSteps is the change that gave shop/redact's steps an hour
// and a heartbeat, once they work in batches: before it each had two
// minutes, and a shop of 100,000 orders never finished.
const shopRedactLongSteps = "shop-redact-long-steps"

// PrivacyRequest carries out a compliance request across every system:
// erasure stops and deletes the review workflows, asks SendGrid to erase,
// destroys the data keys (crypto-shredding) and deletes the rows; a data request builds the report; an uninstall revokes
// the token and stops the workflows. Each step reads back what it did, and is
// retried (with backoff, for as long as it takes) until it verifies: nothing
// is reported done while anything is left.
func PrivacyRequest(ctx workflow.Context, in PrivacyRequestInput) (PrivacyRequestResult, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         privacyRetry,
	})
	res := PrivacyRequestResult{Steps: map[string]activities.StepResult{}}
	step := func(name string, fn any) error {
		var r activities.StepResult
		if err := workflow.ExecuteActivity(ctx, fn, in.RequestID).Get(ctx, &r); err != nil {
			return err
		}
		res.Steps[name] = r
		return nil
	}
	type namedStep struct {
		name string
		fn   any
	}
	var steps []namedStep
	switch in.Kind {
	case store.KindCustomerRedact, store.KindShopRedact:
		steps = []namedStep{{"temporal", a.StopReviews}, {"postgres", a.ErasePostgres}, {"sendgrid", a.EraseSendGrid}}
		if workflow.GetVersion(ctx, "shred-keys", workflow.DefaultVersion, 1) == 1 {
			// The keys go before the rows: from that moment every copy of
			// what they encrypted is unreadable, and the keys step accounts
			// for all of them. SendGrid first, as it needs the subject's key
			// to read the address.
			steps = []namedStep{{"temporal", a.StopReviews}, {"sendgrid", a.EraseSendGrid}, {"keys", a.ShredKeys}, {"postgres", a.ErasePostgres}}
		}
		if in.Kind == store.KindShopRedact && workflow.GetVersion(ctx, shopRedactLongSteps, workflow.DefaultVersion, 1) == 1 {
			// A shop may have hundreds of thousands of orders: its steps
			// work in batches and heartbeat, and a new attempt resumes
			// from what is left. The steps are one activity each, so the
			// history stays the same size however many orders there are.
			ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Hour,
				HeartbeatTimeout:    time.Minute,
				RetryPolicy:         privacyRetry,
			})
		}
	case store.KindDataRequest:
		steps = []namedStep{{"report", a.BuildReport}}
	case store.KindUninstall:
		steps = []namedStep{{"token", a.RevokeToken}, {"temporal", a.StopReviews}}
	default:
		return res, temporal.NewNonRetryableApplicationError("unknown privacy request kind "+in.Kind, "BadRequest", nil)
	}
	for _, s := range steps {
		if err := step(s.name, s.fn); err != nil {
			return res, err
		}
	}
	return res, workflow.ExecuteActivity(ctx, a.FinishPrivacy, in.RequestID).Get(ctx, nil)
}
