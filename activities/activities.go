// Package activities holds the side effects of Candor's workflows: Postgres,
// Shopify and SendGrid.
//
// Every activity that moves customer data appends the registry entry for
// that move in the same transaction as its own bookkeeping. Nothing personal
// is returned to a workflow: results are outcomes and reasons only.
package activities

import (
	"errors"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// UnsubscribeLife is the unsubscribe token's own expiry. It is not enforced:
// /u/ honours any validly signed link while its request row exists (see
// retention.UnsubscribeLinks). Every other period comes from the shop's
// effective retention policy (package retention).
const UnsubscribeLife = 365 * 24 * time.Hour

// Activities holds the dependencies; workflows call its methods through a
// nil *Activities.
type Activities struct {
	DB   *store.DB
	Keys *keys.Ring
	// DataKeys are the per-request and per-subject keys (crypto-shredding).
	DataKeys  *datakeys.Keys
	Mailer    *sendgrid.Mailer
	Shopify   shopify.AdminConfig
	PublicURL string
	Now       func() time.Time
	// Temporal is used by privacy requests to stop and delete review
	// workflows.
	Temporal  client.Client
	Namespace string
	// OAuth refreshes expiring shop tokens (public-app installs).
	OAuth shopify.OAuth
	// StartReview starts a ReviewRequest the way webhook intake does;
	// package workflows provides it (workflows.ReviewStarter), since this
	// package cannot import that one.
	StartReview ReviewStarter
	// StartPrivacy starts a PrivacyRequest the way compliance intake does
	// (workflows.PrivacyStarter), for requests whose start failed.
	StartPrivacy PrivacyStarter
	// TemporalRetention is how long the namespace keeps closed histories,
	// for the registry's expires_at of what a started workflow stores.
	TemporalRetention time.Duration
	// SweepBatch is the retention sweep's batch size; 0 means the default.
	SweepBatch int
	// Pace, with MailBudget, keeps review emails within the SendGrid
	// account's rate across every worker (package pacing); nil: unpaced.
	// Shopify calls are paced through Shopify.Pace.
	Pace       *pacing.Limiter
	MailBudget pacing.Budget
}

// PaceKeySendGrid is the pacing key of the SendGrid account's Mail Send
// budget.
const PaceKeySendGrid = "sendgrid"

// SendGridBudget is the Mail Send budget for an account that takes
// perSecond calls a second: one call at a time, at 90% of that. SendGrid
// counts calls per fixed refresh period ("a specific number of requests per
// refresh period",
// https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits),
// so a bucket that could save up a second's worth of calls would spend it
// at once after a pause and then go on at the full rate: up to twice the
// limit in one period. One at a time at 90%, any second holds at most
// 1 + 0.9 × perSecond calls, under the limit from 10 a second up; the 10%
// also leaves room for the time between a call's turn and its arrival.
func SendGridBudget(perSecond float64) pacing.Budget {
	return pacing.Budget{Capacity: 1, Rate: 0.9 * perSecond}
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// temporalError turns an integration error into the Temporal error the retry
// policy acts on. Messages are ours, never a response body.
func temporalError(err error) error {
	var se *shopify.Error
	if errors.As(err, &se) {
		if se.Code == shopify.CodeMaxCostExceeded {
			return temporal.NewApplicationErrorWithOptions(se.Error(), review.ErrShopifyQueryCost, temporal.ApplicationErrorOptions{NonRetryable: true})
		}
		if se.Retryable {
			return temporal.NewApplicationErrorWithOptions(se.Error(), review.ErrShopifyRetry, temporal.ApplicationErrorOptions{NextRetryDelay: se.RetryAfter})
		}
		return temporal.NewApplicationErrorWithOptions(se.Error(), review.ErrShopifyRejected, temporal.ApplicationErrorOptions{NonRetryable: true})
	}
	if errors.Is(err, shopify.ErrGrantRejected) {
		// The refresh token is spent or revoked: only a reinstall helps.
		return temporal.NewApplicationErrorWithOptions(err.Error(), review.ErrShopifyRejected, temporal.ApplicationErrorOptions{NonRetryable: true})
	}
	var ge *sendgrid.Error
	if errors.As(err, &ge) {
		return temporal.NewApplicationErrorWithOptions(ge.Error(), review.ErrSendGridRetry, temporal.ApplicationErrorOptions{NextRetryDelay: ge.RetryAfter})
	}
	return temporal.NewApplicationError(err.Error(), review.ErrInternal)
}
