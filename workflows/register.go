package workflows

import (
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/review"
)

// Register is the one place workflows and activities are registered.
func Register(r worker.Registry, a *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(a)
}

// RegisterWorkflows registers every workflow, for a worker (through
// Register) and for a replayer, which runs no activities.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	// Under the domain's name, which retention's visibility query uses.
	r.RegisterWorkflowWithOptions(ReviewRequest, workflow.RegisterOptions{Name: review.WorkflowType})
	r.RegisterWorkflow(PrivacyRequest)
	r.RegisterWorkflow(Retention)
	r.RegisterWorkflow(RetentionShop)
	r.RegisterWorkflow(Reconcile)
	r.RegisterWorkflow(ReconcileOneShop)
	r.RegisterWorkflow(RedrivePrivacy)
	r.RegisterWorkflow(RegistryCheckpoint)
}

// sendStartToClose bounds one attempt of the send activity.
const sendStartToClose = 2 * time.Minute

// WorkerOptions are the options every Candor worker runs with. On a stop
// (a deploy) the worker waits WorkerStopTimeout for the activities in
// flight: longer than one send attempt may take, so a send is not cut off
// between SendGrid's 202 and recording it, which would leave it
// sent_unconfirmed. The process manager's grace period must be longer
// still (docker-compose.yml: stop_grace_period).
func WorkerOptions() worker.Options {
	return worker.Options{WorkerStopTimeout: sendStartToClose + 15*time.Second}
}
