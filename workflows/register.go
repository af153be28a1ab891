package workflows

import (
	"go.temporal.io/sdk/worker"

	"github.com/candorhq/candor/activities"
)

// Register is the one place workflows and activities are registered.
func Register(r worker.Registry, a *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(a)
}

// RegisterWorkflows registers every workflow, for a worker (through
// Register) and for a replayer, which runs no activities.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(ReviewRequest)
	r.RegisterWorkflow(PrivacyRequest)
	r.RegisterWorkflow(Retention)
	r.RegisterWorkflow(Reconcile)
	r.RegisterWorkflow(RedrivePrivacy)
}
