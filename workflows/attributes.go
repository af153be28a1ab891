package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/review"
)

// versionSearchAttributes marks the change that made ReviewRequest upsert
// its search attributes (review.AttrPhase, AttrSendAt, AttrOutcome,
// AttrReason) as its phase changes. Histories from before it replay
// without.
const versionSearchAttributes = "search-attributes"

// startPhase is the phase a ReviewRequest starts in.
func startPhase(in ReviewRequestInput) review.Phase {
	if in.DeliveredAt != nil {
		return review.PhaseWaitingDelay
	}
	return review.PhaseWaitingDelivery
}

// startAttributes are the search attributes a ReviewRequest is started
// with: its shop and first phase, so a start is findable at once.
func startAttributes(in ReviewRequestInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		review.AttrShop.ValueSet(in.Shop),
		review.AttrPhase.ValueSet(string(startPhase(in))),
	)
}

// reviewAttributes upserts a ReviewRequest's search attributes when what
// they say changes. It is off (on false) for a history recorded before
// versionSearchAttributes.
type reviewAttributes struct {
	on     bool
	phase  review.Phase
	sendAt time.Time
}

func newReviewAttributes(ctx workflow.Context, in ReviewRequestInput) *reviewAttributes {
	on := workflow.GetVersion(ctx, versionSearchAttributes, workflow.DefaultVersion, 1) >= 1
	return &reviewAttributes{on: on, phase: startPhase(in)}
}

// track upserts the state's phase and planned send time, where they
// differ from what was last set.
func (a *reviewAttributes) track(ctx workflow.Context, s ReviewRequestState) {
	if !a.on {
		return
	}
	var set []temporal.SearchAttributeUpdate
	if s.Phase != a.phase {
		a.phase = s.Phase
		set = append(set, review.AttrPhase.ValueSet(string(s.Phase)))
	}
	if s.SendAt != nil && !s.SendAt.Equal(a.sendAt) {
		a.sendAt = *s.SendAt
		set = append(set, review.AttrSendAt.ValueSet(*s.SendAt))
	}
	a.upsert(ctx, set)
}

// finish sets phase done and the outcome once ReviewRequest has returned.
// A panic that ReviewRequest does not turn into its end (res and err both
// empty) is left alone: that workflow task fails and is retried.
func (a *reviewAttributes) finish(ctx workflow.Context, res *ReviewRequestResult, err *error) {
	if !a.on || (res.Status == "" && *err == nil) {
		return
	}
	set := []temporal.SearchAttributeUpdate{review.AttrPhase.ValueSet(string(review.PhaseDone))}
	if *err == nil {
		set = append(set, review.AttrOutcome.ValueSet(res.Status))
		if res.Reason != "" {
			set = append(set, review.AttrReason.ValueSet(string(res.Reason)))
		}
	}
	a.phase = review.PhaseDone
	a.upsert(ctx, set)
}

func (a *reviewAttributes) upsert(ctx workflow.Context, set []temporal.SearchAttributeUpdate) {
	if len(set) == 0 {
		return
	}
	// It fails only on updates the SDK cannot encode, which these fixed
	// keys and types never are; the workflow goes on without them.
	if err := workflow.UpsertTypedSearchAttributes(ctx, set...); err != nil {
		workflow.GetLogger(ctx).Error("upsert search attributes", "error", err.Error())
	}
}

// ErrSearchAttributesMissing is CheckSearchAttributes' answer for a
// namespace that lacks some of review.SearchAttributes.
var ErrSearchAttributesMissing = errors.New("search attributes missing")

// CheckSearchAttributes fails, naming the command that fixes it, when the
// namespace lacks one of review.SearchAttributes or has it with another
// type. Without them every ReviewRequest start is refused by Temporal, so
// `serve` and `worker` check before they start. A cluster that does not let
// this client list its search attributes (no permission, or no such API)
// cannot be checked: that is no error.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	var denied *serviceerror.PermissionDenied
	var unimplemented *serviceerror.Unimplemented
	if errors.As(err, &denied) || errors.As(err, &unimplemented) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	var missing []temporal.SearchAttributeKey
	var wrong []string
	for _, k := range review.SearchAttributes {
		switch t, ok := resp.GetCustomAttributes()[k.GetName()]; {
		case !ok:
			missing = append(missing, k)
		case t != k.GetValueType():
			wrong = append(wrong, fmt.Sprintf("%s is %s, want %s", k.GetName(), t, k.GetValueType()))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%w: namespace %s has Candor's search attributes with other types (%s); remove them and create them again",
			ErrSearchAttributesMissing, namespace, strings.Join(wrong, ", "))
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, k := range missing {
			names[i] = k.GetName()
		}
		return fmt.Errorf("%w: namespace %s lacks %s; create them once with: %s (Temporal Cloud: tcld namespace search-attributes add, README)",
			ErrSearchAttributesMissing, namespace, strings.Join(names, ", "), review.SearchAttributeCreateCommand(namespace, missing...))
	}
	return nil
}
