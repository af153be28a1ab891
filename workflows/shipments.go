package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// versionShipments marks the change that made a review request follow
// every shipment of its order (reviewShipments). Histories from before it
// replay through reviewRequest, which knew one shipment.
const versionShipments = "multi-shipment"

// parcel is one shipment of the order, as the workflow knows it: product
// IDs and titles, and times. Nothing about the customer.
type parcel struct {
	id          int64 // Shopify fulfillment ID; 0: products known only from the whole order
	name        string
	products    []store.Product
	fulfilledAt time.Time
	deliveredAt *time.Time
	cancelled   bool
	done        bool // per shipment: its email was tried, or there is nothing to ask
}

// shipments is what the workflow knows of the order's fulfillments.
type shipments struct {
	parcels   []*parcel
	fulfilled bool      // the whole order is fulfilled (orders/fulfilled)
	lastEvent time.Time // the last shipment that came or was cancelled
}

func (o *shipments) find(id int64) *parcel {
	for _, p := range o.parcels {
		if p.id == id {
			return p
		}
	}
	return nil
}

// live are the parcels not cancelled, in the order they came.
func (o *shipments) live() []*parcel {
	var ps []*parcel
	for _, p := range o.parcels {
		if !p.cancelled {
			ps = append(ps, p)
		}
	}
	return ps
}

// has reports whether a live parcel other than except asks about product.
func (o *shipments) has(product int64, except *parcel) bool {
	for _, p := range o.live() {
		if p == except {
			continue
		}
		for _, x := range p.products {
			if x.ID == product {
				return true
			}
		}
	}
	return false
}

// add records a shipment once; a repeated one changes nothing. A product
// already asked about by another live parcel is not asked about again. A
// real shipment (id > 0) takes its products from the parcel of products
// known only from the whole order (id 0), which goes once it is empty and
// not yet emailed.
func (o *shipments) add(id int64, name string, products []store.Product, at time.Time) *parcel {
	if id > 0 {
		if p := o.find(id); p != nil {
			return p
		}
		if whole := o.find(0); whole != nil && !whole.done && !whole.cancelled {
			whole.products = without(whole.products, products)
			if len(whole.products) == 0 {
				whole.cancelled = true // superseded by the real shipments
			}
		}
	}
	p := &parcel{id: id, name: name, fulfilledAt: at}
	for _, x := range products {
		if !o.has(x.ID, nil) {
			p.products = append(p.products, x)
		}
	}
	if id == 0 {
		if whole := o.find(0); whole != nil && !whole.cancelled {
			// Another word of the whole order: only what is new.
			whole.products = append(whole.products, p.products...)
			return whole
		}
		if len(p.products) == 0 {
			return nil // every product is in a shipment already
		}
	}
	o.parcels = append(o.parcels, p)
	if at.After(o.lastEvent) {
		o.lastEvent = at
	}
	return p
}

// without is ps less the products in drop.
func without(ps, drop []store.Product) []store.Product {
	var out []store.Product
next:
	for _, p := range ps {
		for _, d := range drop {
			if p.ID == d.ID {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// products are every live parcel's products, in the order they came.
func (o *shipments) products() []store.Product {
	var ps []store.Product
	for _, p := range o.live() {
		ps = append(ps, p.products...)
	}
	return ps
}

// delivered marks parcel id delivered at at, or with id 0 every live one
// not yet delivered. A delivery of a shipment never announced adds it.
func (o *shipments) delivered(d DeliveredSignal, at time.Time) {
	if d.Fulfillment == 0 {
		for _, p := range o.live() {
			if p.deliveredAt == nil {
				p.deliveredAt = &at
			}
		}
		return
	}
	p := o.find(d.Fulfillment)
	if p == nil {
		if len(d.Products) == 0 {
			return
		}
		p = o.add(d.Fulfillment, d.Name, d.Products, at)
	}
	if p != nil && p.deliveredAt == nil {
		p.deliveredAt = &at
	}
}

func (o *shipments) allDelivered() bool {
	live := o.live()
	for _, p := range live {
		if p.deliveredAt == nil {
			return false
		}
	}
	return len(live) > 0
}

func plannedParcels(ps []*parcel) []activities.Parcel {
	out := make([]activities.Parcel, len(ps))
	for i, p := range ps {
		out[i] = activities.Parcel{FulfilledAt: p.fulfilledAt, DeliveredAt: p.deliveredAt}
	}
	return out
}

func sameProducts(a, b []store.Product) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// reminderDue is a sent email's reminder, waiting.
type reminderDue struct {
	requestID string
	at        time.Time
}

// reviewShipments is ReviewRequest since versionShipments: it follows every
// shipment of the order. Later fulfillments reach it as ShipmentSignal
// (intake starts the workflow, or signals the running one), deliveries as
// DeliveredSignal naming their fulfillment, cancelled fulfillments as
// ShipmentSignal.Cancelled.
//
// The shop's EmailPer setting decides what is sent:
//   - store.EmailPerOrder: one email about every product of the order once
//     it is wholly fulfilled and every parcel delivered, the shop's delay
//     after the last delivery; a parcel with no delivery event counts from
//     its fulfillment plus the fallback delay, and an order not known to be
//     wholly fulfilled waits at least the fallback delay after its last
//     shipment. A shipment that comes after the email is not asked about:
//     a closed request is never re-opened.
//   - store.EmailPerShipment: one email per shipment, the delay after that
//     shipment's delivery (or its fallback). The first uses the order's
//     request; each later one its own (activities.ScheduleShipment). The
//     workflow stays open for more shipments until the order is wholly
//     fulfilled, or the fallback delay after its last shipment.
//
// Timing, the send window, stop signals, reminders and failures work as in
// reviewRequest, for each email.
func reviewShipments(ctx workflow.Context, in ReviewRequestInput, attrs *reviewAttributes) (ReviewRequestResult, error) {
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
	perShipment := settings.EmailPer == store.EmailPerShipment
	send := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: sendStartToClose,
		HeartbeatTimeout:    sendHeartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Minute,
		},
		ScheduleToCloseTimeout: 24 * time.Hour, // then failed rather than sent late
	})

	// An input with no fulfillment holds the whole order's products.
	o := &shipments{fulfilled: in.Fulfillment == 0, lastEvent: in.FulfilledAt}
	name := in.FulfillmentName
	if name == "" {
		name = in.OrderName
	}
	if first := o.add(in.Fulfillment, name, in.Products, in.FulfilledAt); first != nil {
		first.deliveredAt = in.DeliveredAt
	}
	shipmentCh := workflow.GetSignalChannel(ctx, review.SignalShipment)
	delivered := workflow.GetSignalChannel(ctx, review.SignalDelivered)
	stop := workflow.GetSignalChannel(ctx, review.SignalStop)

	var (
		result    ReviewRequestResult // the order's own request's outcome
		mainUsed  bool                // the order's request was emailed (or settled)
		stored    = in.Products       // what the order's request row asks about
		reminders []*reminderDue
	)
	// clamp trusts an event's time up to now.
	clamp := func(at time.Time) time.Time {
		now := workflow.Now(ctx)
		if at.IsZero() || at.After(now) {
			return now
		}
		return at
	}
	// first sends the first email about products under requestID.
	first := func(requestID string, products []store.Product) (activities.SendResult, error) {
		state.Phase = review.PhaseSending
		attrs.track(ctx, state)
		if requestID == in.RequestID && !sameProducts(products, stored) {
			if err := workflow.ExecuteActivity(short, a.SetRequestProducts, requestID, products).Get(ctx, nil); err != nil {
				return activities.SendResult{}, err
			}
			stored = products
		}
		var out activities.SendResult
		err := workflow.ExecuteActivity(send, a.SendReviewRequest, activities.SendInput{
			Shop: in.Shop, OrderID: in.OrderID, RequestID: requestID, Kind: activities.KindFirst,
		}).Get(ctx, &out)
		if err != nil {
			one := in
			one.RequestID = requestID
			var discard ReviewRequestState
			r, ferr := failed(ctx, short, one, &discard, err)
			if ferr != nil {
				return activities.SendResult{}, ferr
			}
			return activities.SendResult{Status: r.Status, Reason: r.Reason}, nil
		}
		if out.Status == store.StatusSent {
			if settings.Reminder > 0 {
				at := workflow.Now(ctx).Add(settings.Reminder)
				if err := workflow.ExecuteActivity(short, a.PlanSend, activities.PlanInput{
					Shop: in.Shop, RequestID: requestID, Kind: activities.KindReminder, Earliest: at, Now: workflow.Now(ctx),
				}).Get(ctx, &at); err != nil {
					if requestID == in.RequestID {
						result.ReminderStatus = store.StatusFailed
					}
				} else {
					reminders = append(reminders, &reminderDue{requestID: requestID, at: at})
				}
			}
		}
		return out, nil
	}

	for {
		if reason := pendingStop(stop); reason != "" {
			return stopShipments(ctx, short, in, &state, result, mainUsed, waiting(reminders, in.RequestID), reason)
		}
		// What is due next: an email to plan, a reminder, or giving up on
		// the shipments still to come.
		var (
			dueAt    time.Time
			dueEmail *parcel // per shipment; nil with dueWhole
			dueWhole bool
			dueRem   *reminderDue
			dueEnd   bool // nothing more will be sent
		)
		consider := func(at time.Time) bool {
			if dueAt.IsZero() || at.Before(dueAt) {
				dueAt = at
				return true
			}
			return false
		}
		planFirst := func(requestID string, ps []*parcel, await bool) (time.Time, error) {
			plan := activities.PlanInput{Shop: in.Shop, RequestID: requestID, Kind: activities.KindFirst,
				Parcels: plannedParcels(ps), AwaitOrder: await}
			// Earliest with the delays the workflow started with; PlanSend
			// works it out again with the shop's delays as they are now.
			plan.Earliest = activities.PlanFrom(plan, settings.Delay, settings.FallbackDelay)
			plan.Now = workflow.Now(ctx)
			var at time.Time
			err := workflow.ExecuteActivity(short, a.PlanSend, plan).Get(ctx, &at)
			return at, err
		}
		switch {
		case !perShipment && !mainUsed:
			if live := o.live(); len(live) == 0 {
				if consider(o.lastEvent.Add(settings.FallbackDelay)) {
					dueEnd = true
				}
			} else {
				at, err := planFirst(in.RequestID, live, !o.fulfilled)
				if err != nil {
					return failed(ctx, short, in, &state, err)
				}
				if consider(at) {
					dueWhole = true
				}
			}
		case perShipment:
			pending := false
			for _, p := range o.live() {
				if p.done {
					continue
				}
				if len(p.products) == 0 {
					p.done = true // every product was asked about with another parcel
					continue
				}
				pending = true
				requestID := ""
				if !mainUsed {
					requestID = in.RequestID
				}
				at, err := planFirst(requestID, []*parcel{p}, false)
				if err != nil {
					if !mainUsed {
						return failed(ctx, short, in, &state, err)
					}
					return ReviewRequestResult{}, err
				}
				if consider(at) {
					dueEmail = p
				}
			}
			if !pending && !o.fulfilled {
				// More shipments may come, up to the fallback delay after
				// the last one.
				if consider(o.lastEvent.Add(settings.FallbackDelay)) {
					dueEmail, dueEnd = nil, true
				}
			}
		}
		for _, r := range reminders {
			if consider(r.at) {
				dueEmail, dueWhole, dueEnd, dueRem = nil, false, false, r
			}
		}
		if dueAt.IsZero() {
			// Nothing left: every email settled, every shipment in.
			state.Phase = review.PhaseDone
			if !mainUsed {
				return stopShipments(ctx, short, in, &state, result, false, false, review.ReasonShipmentsCancelled)
			}
			return result, nil
		}
		state.Delivered, state.SendAt = o.allDelivered(), &dueAt
		switch {
		case dueRem != nil:
			state.Phase = review.PhaseWaitingReminder
		case o.allDelivered():
			state.Phase = review.PhaseWaitingDelay
		default:
			state.Phase = review.PhaseWaitingDelivery
		}
		attrs.track(ctx, state)

		if wait := dueAt.Sub(workflow.Now(ctx)); wait > 0 {
			if wait > replanEvery {
				wait = replanEvery // wake to plan again with the shop's timing as it is then
			}
			timerCtx, cancelTimer := workflow.WithCancel(ctx)
			timer := workflow.NewTimer(timerCtx, wait)
			stopped := review.Reason("")
			sel := workflow.NewSelector(ctx)
			sel.AddFuture(timer, func(workflow.Future) {})
			sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) {
				var s StopSignal
				c.Receive(ctx, &s)
				stopped = s.reason()
			})
			sel.AddReceive(delivered, func(c workflow.ReceiveChannel, _ bool) {
				var d DeliveredSignal
				c.Receive(ctx, &d)
				o.delivered(d, clamp(d.At))
			})
			sel.AddReceive(shipmentCh, func(c workflow.ReceiveChannel, _ bool) {
				var s ShipmentSignal
				c.Receive(ctx, &s)
				at := clamp(s.At)
				switch {
				case s.OrderFulfilled:
					o.fulfilled = true
					o.add(0, in.OrderName, s.Products, at)
				case s.Cancelled:
					if p := o.find(s.Fulfillment); p != nil && !p.cancelled && !p.done {
						p.cancelled = true
						if at.After(o.lastEvent) {
							o.lastEvent = at
						}
					}
				case s.Fulfillment > 0:
					o.add(s.Fulfillment, s.Name, s.Products, at)
				}
			})
			sel.Select(ctx)
			cancelTimer()
			if stopped != "" {
				return stopShipments(ctx, short, in, &state, result, mainUsed, waiting(reminders, in.RequestID), stopped)
			}
			continue // plan again with what the signal changed, or the timer's wake
		}

		// Due now. A stop signal that raced the timer still wins.
		if reason := pendingStop(stop); reason != "" {
			return stopShipments(ctx, short, in, &state, result, mainUsed, waiting(reminders, in.RequestID), reason)
		}
		switch {
		case dueRem != nil:
			reminders = removeReminder(reminders, dueRem)
			state.Phase = review.PhaseSending
			attrs.track(ctx, state)
			var rem activities.SendResult
			err := workflow.ExecuteActivity(send, a.SendReviewRequest, activities.SendInput{
				Shop: in.Shop, OrderID: in.OrderID, RequestID: dueRem.requestID, Kind: activities.KindReminder,
			}).Get(ctx, &rem)
			if dueRem.requestID == in.RequestID {
				result.ReminderStatus = rem.Status
				if err != nil {
					result.ReminderStatus = store.StatusFailed
				}
			}
		case dueEnd:
			o.fulfilled = true // no more shipments are waited for
			if !perShipment && !mainUsed {
				return stopShipments(ctx, short, in, &state, result, false, false, review.ReasonShipmentsCancelled)
			}
		case dueWhole:
			out, err := first(in.RequestID, o.products())
			if err != nil {
				return ReviewRequestResult{}, err
			}
			mainUsed = true
			result.Status, result.Reason = out.Status, out.Reason
			for _, p := range o.parcels {
				p.done = true
			}
		case dueEmail != nil:
			requestID := in.RequestID
			if mainUsed {
				shipment := dueEmail.id
				if shipment == 0 {
					shipment = -1 // the whole order's leftovers; 0 is the order's own request
				}
				if err := workflow.ExecuteActivity(short, a.ScheduleShipment, activities.ShipmentInput{
					Shop: in.Shop, OrderID: in.OrderID, Fulfillment: shipment, Name: dueEmail.name, Products: dueEmail.products,
				}).Get(ctx, &requestID); err != nil {
					return ReviewRequestResult{}, err
				}
			}
			out, err := first(requestID, dueEmail.products)
			if err != nil {
				return ReviewRequestResult{}, err
			}
			dueEmail.done = true
			if requestID == in.RequestID {
				mainUsed = true
				result.Status, result.Reason = out.Status, out.Reason
			}
		}
	}
}

func removeReminder(rs []*reminderDue, r *reminderDue) []*reminderDue {
	var out []*reminderDue
	for _, x := range rs {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// stopShipments ends the workflow on a stop: the order's own request, if
// not yet emailed, is recorded as skipped for reason; emails already sent
// stay sent and their reminders are skipped.
func stopShipments(ctx, short workflow.Context, in ReviewRequestInput, state *ReviewRequestState, result ReviewRequestResult, mainUsed, reminderWaiting bool, reason review.Reason) (ReviewRequestResult, error) {
	if !mainUsed {
		return finishStopped(ctx, short, in, state, reason)
	}
	state.Phase, state.Stopped = review.PhaseDone, reason
	if reminderWaiting {
		result.ReminderStatus = store.StatusSkipped
	}
	return result, nil
}

// waiting reports whether requestID's reminder is still to be sent.
func waiting(rs []*reminderDue, requestID string) bool {
	for _, r := range rs {
		if r.requestID == requestID {
			return true
		}
	}
	return false
}
