package workflows

import (
	"go.temporal.io/sdk/worker"

	"github.com/candorhq/candor/activities"
)

// Register is the one place workflows and activities are registered.
func Register(r worker.Registry, a *activities.Activities) {
	r.RegisterWorkflow(ReviewRequest)
	r.RegisterWorkflow(PrivacyRequest)
	r.RegisterWorkflow(Retention)
	r.RegisterWorkflow(Reconcile)
	r.RegisterWorkflow(RedrivePrivacy)
	r.RegisterActivity(a)
}
