package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// ReviewRequest waits for the right moment after an order is fulfilled and
// sends one review request, and optionally one reminder.
//
// Timing: the shop's delay after the delivered signal; if no delivery event
// comes, the fallback delay after fulfillment. A stop signal (cancelled or
// refunded) at any point ends it with nothing sent. Eligibility is checked
// again inside the send activity, against Shopify and the suppression list,
// just before sending.
//
// If the request's data key is destroyed while it runs (its customer
// erased, or its row deleted), it ends at its next step with a
// non-retryable datakeys.ShreddedErrorType error: nothing more about the
// request can be written, and no new key is made for it.
//
// Its search attributes (review.AttrShop and the others) say where it is
// and how it ended, for operators.
func ReviewRequest(ctx workflow.Context, in ReviewRequestInput) (res ReviewRequestResult, err error) {
	attrs := newReviewAttributes(ctx, in)
	defer attrs.finish(ctx, &res, &err) // after endIfShredded has made a destroyed key the end
	defer endIfShredded(&err)
	if workflow.GetVersion(ctx, versionShipments, workflow.DefaultVersion, 1) >= 1 {
		return reviewShipments(ctx, in, attrs) // shipments.go
	}
	return reviewRequest(ctx, in, attrs)
}

// endIfShredded turns the SDK's panic on a payload it cannot encode, because
// the request's key was destroyed (datakeys.ErrShredded), into the
// workflow's end. Without it the workflow task would fail and be retried
// for ever. Any other panic goes on.
func endIfShredded(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(error); ok && errors.Is(e, datakeys.ErrShredded) {
		*err = temporal.NewNonRetryableApplicationError(
			"the review request's data key was destroyed (its customer erased or its row deleted): nothing more is written or sent",
			datakeys.ShreddedErrorType, nil)
		return
	}
	panic(r)
}

// reviewRequest is ReviewRequest's body. It stays one long function on
// purpose: the timers, activities and GetVersion markers it issues must come
// in the order recorded histories replay (workflows/replay_test.go), and
// moving workflow code between functions risks reordering them, which breaks
// determinism for the workflows already running.
func reviewRequest(ctx workflow.Context, in ReviewRequestInput, attrs *reviewAttributes) (ReviewRequestResult, error) {
	var a *activities.Activities
	state := ReviewRequestState{Phase: review.PhaseWaitingDelivery}
	if err := workflow.SetQueryHandler(ctx, review.QueryState, func() (ReviewRequestState, error) { return state, nil }); err != nil {
		return ReviewRequestResult{}, err
	}

	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{review.ErrShopGone},
		},
	})
	var settings activities.ShopSettings
	if err := workflow.ExecuteActivity(short, a.Schedule, activities.ScheduleInput{
		Shop: in.Shop, OrderID: in.OrderID, OrderName: in.OrderName, RequestID: in.RequestID, Products: in.Products,
	}).Get(ctx, &settings); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == review.ErrShopGone {
			return ReviewRequestResult{Status: store.StatusSkipped, Reason: review.ReasonShopDisconnected}, nil
		}
		return ReviewRequestResult{}, err
	}

	delivered := workflow.GetSignalChannel(ctx, review.SignalDelivered)
	stop := workflow.GetSignalChannel(ctx, review.SignalStop)
	var deliveredAt *time.Time
	if in.DeliveredAt != nil {
		deliveredAt = in.DeliveredAt
	}

	// Wait until the send time, moving it when the delivered signal arrives.
	windowed := workflow.GetVersion(ctx, versionSendWindow, workflow.DefaultVersion, 1) >= 1
	// Only with PlanSend in the loop: without it a timer that fires means send.
	live := windowed && workflow.GetVersion(ctx, versionLiveDelay, workflow.DefaultVersion, 1) >= 1
	for {
		var sendAt time.Time
		if deliveredAt != nil {
			sendAt = deliveredAt.Add(settings.Delay)
			state.Phase, state.Delivered = review.PhaseWaitingDelay, true
		} else {
			sendAt = in.FulfilledAt.Add(settings.FallbackDelay)
		}
		if windowed {
			// The shop's send window may move the time later. Asked again
			// after every timer, so a window changed meanwhile still holds.
			plan := activities.PlanInput{
				Shop: in.Shop, RequestID: in.RequestID, Kind: activities.KindFirst, Earliest: sendAt, Now: workflow.Now(ctx),
			}
			if live {
				plan.FulfilledAt, plan.DeliveredAt = in.FulfilledAt, deliveredAt
			}
			if err := workflow.ExecuteActivity(short, a.PlanSend, plan).Get(ctx, &sendAt); err != nil {
				return failed(ctx, short, in, &state, err)
			}
		}
		state.SendAt = &sendAt
		attrs.track(ctx, state)
		wait := sendAt.Sub(workflow.Now(ctx))
		if wait <= 0 {
			break
		}
		if live && wait > replanEvery {
			wait = replanEvery // wake to plan again with the shop's timing as it is then
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		fired, stopped := false, review.Reason("")
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) { fired = true })
		sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) {
			var s StopSignal
			c.Receive(ctx, &s)
			stopped = s.reason()
		})
		if deliveredAt == nil {
			sel.AddReceive(delivered, func(c workflow.ReceiveChannel, _ bool) {
				var d DeliveredSignal
				c.Receive(ctx, &d)
				at := d.At
				if at.IsZero() || at.After(workflow.Now(ctx)) {
					at = workflow.Now(ctx)
				}
				deliveredAt = &at
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if stopped != "" {
			return finishStopped(ctx, short, in, &state, stopped)
		}
		if fired && !windowed {
			break
		}
	}

	// A stop signal that raced the timer still wins.
	if reason := pendingStop(stop); reason != "" {
		return finishStopped(ctx, short, in, &state, reason)
	}

	state.Phase = review.PhaseSending
	attrs.track(ctx, state)
	sendOptions := workflow.ActivityOptions{
		StartToCloseTimeout: sendStartToClose, // WorkerOptions waits this long on a stop
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Minute,
			// Shopify and SendGrid outages are retried for a day; after
			// that the request is marked failed rather than sent late.
		},
		ScheduleToCloseTimeout: 24 * time.Hour,
	}
	if workflow.GetVersion(ctx, versionSendHeartbeat, workflow.DefaultVersion, 1) >= 1 {
		sendOptions.HeartbeatTimeout = sendHeartbeat
	}
	send := workflow.WithActivityOptions(ctx, sendOptions)
	var out activities.SendResult
	err := workflow.ExecuteActivity(send, a.SendReviewRequest, activities.SendInput{
		Shop: in.Shop, OrderID: in.OrderID, RequestID: in.RequestID, Kind: activities.KindFirst,
	}).Get(ctx, &out)
	if err != nil {
		return failed(ctx, short, in, &state, err)
	}
	result := ReviewRequestResult{Status: out.Status, Reason: out.Reason}
	if out.Status != store.StatusSent || settings.Reminder <= 0 {
		state.Phase = review.PhaseDone
		return result, nil
	}

	state.Phase = review.PhaseWaitingReminder
	reminderAt := workflow.Now(ctx).Add(settings.Reminder)
	if windowed {
		if err := workflow.ExecuteActivity(short, a.PlanSend, activities.PlanInput{
			Shop: in.Shop, RequestID: in.RequestID, Kind: activities.KindReminder, Earliest: reminderAt, Now: workflow.Now(ctx),
		}).Get(ctx, &reminderAt); err != nil {
			result.ReminderStatus = store.StatusFailed
			state.Phase = review.PhaseDone
			return result, nil
		}
	}
	state.SendAt = &reminderAt
	attrs.track(ctx, state)
	var stopped review.Reason
	timer := workflow.NewTimer(ctx, reminderAt.Sub(workflow.Now(ctx)))
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) {
		var s StopSignal
		c.Receive(ctx, &s)
		stopped = s.reason()
	})
	sel.Select(ctx)
	if stopped == "" {
		stopped = pendingStop(stop)
	}
	if stopped != "" {
		state.Phase, state.Stopped = review.PhaseDone, stopped
		result.ReminderStatus = store.StatusSkipped
		return result, nil
	}
	var rem activities.SendResult
	if err := workflow.ExecuteActivity(send, a.SendReviewRequest, activities.SendInput{
		Shop: in.Shop, OrderID: in.OrderID, RequestID: in.RequestID, Kind: activities.KindReminder,
	}).Get(ctx, &rem); err != nil {
		result.ReminderStatus = store.StatusFailed
		state.Phase = review.PhaseDone
		return result, nil
	}
	result.ReminderStatus = rem.Status
	state.Phase = review.PhaseDone
	return result, nil
}

// versionSendHeartbeat marks the change that gave the send activity a
// heartbeat timeout (sendHeartbeat). Histories from before it replay with
// the options their sends were scheduled with.
const versionSendHeartbeat = "send-heartbeat"

// sendHeartbeat is how long Temporal waits for a beat from a send attempt
// (the activity beats four times in it, from beside its calls) before it
// counts the attempt lost and schedules the next. Without it, a send whose
// worker was killed waited out sendStartToClose (2 minutes) before its
// retry. The retry is safe either way: the request row says whether the
// address may have left (docs/sending.md).
const sendHeartbeat = 20 * time.Second

// versionLiveDelay marks the change that made PlanSend work out the send
// time from the shop's current delays, and the wait wake every replanEvery
// to ask again: a merchant's new timing reaches waiting requests within
// that. Histories from before replay with the delays they started with.
const versionLiveDelay = "live-delay"

// replanEvery bounds one timer of the first email's wait.
const replanEvery = 6 * time.Hour

// versionSendWindow marks the change that made the workflow ask PlanSend
// for the send window; histories from before it replay without.
const versionSendWindow = "send-window"

func pendingStop(stop workflow.ReceiveChannel) review.Reason {
	var s StopSignal
	var reason review.Reason
	for stop.ReceiveAsync(&s) {
		reason = s.reason()
	}
	return reason
}

func finishStopped(ctx, short workflow.Context, in ReviewRequestInput, state *ReviewRequestState, reason review.Reason) (ReviewRequestResult, error) {
	var a *activities.Activities
	state.Phase, state.Stopped = review.PhaseDone, reason
	if err := workflow.ExecuteActivity(short, a.MarkSkipped, in.RequestID, reason).Get(ctx, nil); err != nil {
		return ReviewRequestResult{}, err
	}
	return ReviewRequestResult{Status: store.StatusSkipped, Reason: reason}, nil
}

func failed(ctx, short workflow.Context, in ReviewRequestInput, state *ReviewRequestState, cause error) (ReviewRequestResult, error) {
	var a *activities.Activities
	state.Phase = review.PhaseDone
	reason := review.ReasonSendFailed
	var appErr *temporal.ApplicationError
	if errors.As(cause, &appErr) && appErr.Type() != "" {
		reason = review.Reason(appErr.Type())
	}
	// MarkFailed says what it recorded; a history from before it did
	// decodes as "".
	var recorded string
	if err := workflow.ExecuteActivity(short, a.MarkFailed, in.RequestID, reason).Get(ctx, &recorded); err != nil {
		return ReviewRequestResult{}, err
	}
	if recorded == store.StatusSentUnconfirmed {
		// The send's retries ran out after it reached SendGrid.
		return ReviewRequestResult{Status: store.StatusSentUnconfirmed, Reason: review.ReasonOutcomeUnknown}, nil
	}
	return ReviewRequestResult{Status: store.StatusFailed, Reason: reason}, nil
}
