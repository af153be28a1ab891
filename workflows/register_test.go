package workflows_test

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/workflows"
)

// names records what RegisterWorkflows registers, and under which name.
type names struct {
	worker.WorkflowRegistry
	got map[string]any
}

func funcName(fn any) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

func (n *names) RegisterWorkflow(w any) { n.got[funcName(w)] = w }
func (n *names) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	n.got[o.Name] = w
}

// Retention lists closed review workflows by review.WorkflowType, and
// clients start ReviewRequest by its function: both must be the name the
// worker registers, or the sweep silently finds nothing.
func TestRegisterWorkflows_ReviewRequestUnderTheDomainWorkflowType(t *testing.T) {
	n := &names{got: map[string]any{}}
	workflows.RegisterWorkflows(n)
	w, ok := n.got[review.WorkflowType]
	if !ok || funcName(w) != "ReviewRequest" {
		t.Fatalf("registered %v; want ReviewRequest under %q", n.got, review.WorkflowType)
	}
	if got := funcName(workflows.ReviewRequest); got != review.WorkflowType {
		t.Fatalf("the function clients start is named %q, registered as %q", got, review.WorkflowType)
	}
}
