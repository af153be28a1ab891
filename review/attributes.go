package review

import (
	"strings"

	"go.temporal.io/sdk/temporal"
)

// Phase is where a ReviewRequest workflow is: its state query's phase and
// its AttrPhase search attribute.
type Phase string

// The phases of a ReviewRequest, in the order it passes them.
const (
	PhaseWaitingDelivery Phase = "waiting_delivery" // fulfilled, no delivery event yet: the fallback delay runs
	PhaseWaitingDelay    Phase = "waiting_delay"    // delivered: the delay after delivery runs
	PhaseSending         Phase = "sending"          // the send activity runs
	PhaseWaitingReminder Phase = "waiting_reminder" // sent; a reminder is planned
	PhaseDone            Phase = "done"             // ended; AttrOutcome says how
)

// The search attributes of every ReviewRequest workflow, so operators can
// find workflows by shop, phase and outcome in the Temporal UI and CLI.
// Temporal stores search attributes in clear text, unencrypted by the
// payload codec, in its visibility store: they hold nothing personal and no
// Shopify order or customer ID. The shop's domain is the merchant's, not a
// customer's.
//
// The names are registered on the cluster (SearchAttributes) and recorded
// in histories: a name or type may never change.
var (
	// AttrShop is the shop's myshopify domain, set at start.
	AttrShop = temporal.NewSearchAttributeKeyKeyword("CandorShop")
	// AttrPhase is a Phase, set at start and upserted as it changes.
	AttrPhase = temporal.NewSearchAttributeKeyKeyword("CandorPhase")
	// AttrSendAt is when the next email is planned (the first, then the
	// reminder); the time the last one was planned for once done.
	AttrSendAt = temporal.NewSearchAttributeKeyTime("CandorSendAt")
	// AttrOutcome is how the request ended: the status the merchant sees
	// (store.StatusSent, StatusSkipped, StatusFailed, StatusSentUnconfirmed).
	// It stays unset when the workflow itself failed or was terminated:
	// Temporal's ExecutionStatus says so.
	AttrOutcome = temporal.NewSearchAttributeKeyKeyword("CandorOutcome")
	// AttrReason is the Reason of a skip or a failure.
	AttrReason = temporal.NewSearchAttributeKeyKeyword("CandorReason")
)

// SearchAttributes are every custom search attribute Candor's workflows
// use, for registering them on a Temporal namespace.
var SearchAttributes = []temporal.SearchAttributeKey{AttrShop, AttrPhase, AttrSendAt, AttrOutcome, AttrReason}

// SearchAttributeCreateCommand is the Temporal CLI command that registers
// keys (all of SearchAttributes when none are given) on a self-hosted
// cluster's namespace. The type names are the CLI's (Keyword, Datetime).
func SearchAttributeCreateCommand(namespace string, keys ...temporal.SearchAttributeKey) string {
	if len(keys) == 0 {
		keys = SearchAttributes
	}
	var b strings.Builder
	b.WriteString("temporal operator search-attribute create --namespace " + namespace)
	for _, k := range keys {
		b.WriteString(" --name " + k.GetName() + " --type " + k.GetValueType().String())
	}
	return b.String()
}
