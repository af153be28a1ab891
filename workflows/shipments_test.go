package workflows_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// Products of a three-parcel order, and its fulfillments' Shopify IDs.
var (
	shirt = store.Product{ID: 8_001, Title: "Linen shirt"}
	scarf = store.Product{ID: 8_002, Title: "Wool scarf"}
	socks = store.Product{ID: 8_003, Title: "Cotton socks"}
)

const (
	parcel1 = int64(4_400_001)
	parcel2 = int64(4_400_002)
	parcel3 = int64(4_400_003)
)

// firstParcel is the input fulfillments/create starts the workflow with.
func firstParcel(products ...store.Product) workflows.ReviewRequestInput {
	in := input()
	in.Fulfillment, in.FulfillmentName, in.Products = parcel1, "#1042.1", products
	return in
}

func perShipment(rem time.Duration) activities.ShopSettings {
	s := settings(rem)
	s.EmailPer = store.EmailPerShipment
	return s
}

func (r *run) signalShipment(d time.Duration, s workflows.ShipmentSignal) {
	r.at(d, func() {
		s.At = r.env.Now()
		r.env.SignalWorkflow(review.SignalShipment, s)
	})
}

func (r *run) signalParcelDelivered(d time.Duration, fulfillment int64) {
	r.at(d, func() {
		r.env.SignalWorkflow(review.SignalDelivered, workflows.DeliveredSignal{At: r.env.Now(), Fulfillment: fulfillment})
	})
}

// sent is one first email as the test saw it: which request, when, and
// what it asked about.
type sent struct {
	requestID string
	at        time.Duration // after start
	products  []store.Product
}

// firstEmails lists the first emails asked for. A request's products are
// what SetRequestProducts or ScheduleShipment left, else the input's (the
// order's own request as Schedule stored it). Reminders are left out.
func (r *run) firstEmails(in workflows.ReviewRequestInput) []sent {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sent
	for _, s := range r.sends {
		if s.in.Kind != activities.KindFirst {
			continue
		}
		ps, ok := r.products[s.in.RequestID]
		if !ok && s.in.RequestID == in.RequestID {
			ps = in.Products
		}
		out = append(out, sent{requestID: s.in.RequestID, at: s.at.Sub(start), products: ps})
	}
	return out
}

func wantEmails(t *testing.T, got, want []sent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("first emails = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.requestID != w.requestID || g.at < w.at || g.at >= w.at+time.Minute || !reflect.DeepEqual(g.products, w.products) {
			t.Errorf("email %d = %+v, want %+v", i+1, g, w)
		}
	}
}

// Two parcels, delivered in the opposite order to their shipping: the one
// whole-order email asks about both products, the delay after the last
// delivery.
func TestReviewRequest_WholeOrderTwoShipmentsDeliveredOutOfOrderSendOneEmailAfterTheLast(t *testing.T) {
	r := newRun(t, settings(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{scarf}})
	r.signalShipment(time.Hour+time.Minute, workflows.ShipmentSignal{OrderFulfilled: true, Products: []store.Product{shirt, scarf}})
	r.signalParcelDelivered(day, parcel2)
	r.signalParcelDelivered(2*day, parcel1)
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, 2*day + delay, []store.Product{shirt, scarf}}})
	r.wantNoMarks()
}

// Three parcels, one cancelled, the other two delivered out of order:
// one email about the two that came, after the later delivery.
func TestReviewRequest_WholeOrderThreeShipmentsOneCancelled(t *testing.T) {
	r := newRun(t, settings(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{scarf}})
	r.signalShipment(2*time.Hour, workflows.ShipmentSignal{Fulfillment: parcel3, Name: "#1042.3", Products: []store.Product{socks}})
	r.signalShipment(3*time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Cancelled: true})
	r.signalShipment(4*time.Hour, workflows.ShipmentSignal{OrderFulfilled: true, Products: []store.Product{shirt, socks}})
	r.signalParcelDelivered(day, parcel3)
	r.signalParcelDelivered(3*day, parcel1)
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, 3*day + delay, []store.Product{shirt, socks}}})
}

// Until the order is known to be wholly fulfilled, a delivered parcel
// does not send: the email waits the fallback delay after the last
// shipment, for the parcels still to come.
func TestReviewRequest_WholeOrderWaitsForTheRestOfTheOrder(t *testing.T) {
	r := newRun(t, settings(0))
	in := firstParcel(shirt)
	r.signalParcelDelivered(time.Hour, parcel1)
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, fulfilledAt.Sub(start) + fallback, []store.Product{shirt}}})
}

// Every parcel cancelled and none sent instead: nothing is sent, and the
// request says why.
func TestReviewRequest_EveryShipmentCancelledSendsNothing(t *testing.T) {
	r := newRun(t, settings(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel1, Cancelled: true})
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSkipped, Reason: review.ReasonShipmentsCancelled})
	if sends := r.sendCalls(); len(sends) != 0 {
		t.Errorf("sent %+v", sends)
	}
	marks := r.markCalls()
	if len(marks) != 1 || marks[0].activity != "MarkSkipped" || marks[0].requestID != in.RequestID || marks[0].reason != review.ReasonShipmentsCancelled {
		t.Errorf("marks = %+v", marks)
	}
	wantAt(t, "skip", marks[0].at, start.Add(time.Hour+fallback))
}

// A shipment that comes after the whole-order email went is not asked
// about: the request is closed and never sends twice.
func TestReviewRequest_WholeOrderShipmentAfterTheEmailSendsNoSecond(t *testing.T) {
	r := newRun(t, settings(reminder))
	in := input() // the whole order (orders/fulfilled)
	r.signalDelivered(day)
	r.signalShipment(day+delay+time.Hour, workflows.ShipmentSignal{Fulfillment: parcel3, Name: "#1042.3", Products: []store.Product{socks}})
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent, ReminderStatus: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, day + delay, in.Products}})
	if n := len(r.sendCalls()); n != 2 {
		t.Errorf("SendReviewRequest called %d times, want the first email and its reminder", n)
	}
}

// One email per shipment: three parcels delivered out of order, three
// emails, each the delay after its own parcel's delivery, each about its
// own products under its own request.
func TestReviewRequest_PerShipmentThreeShipmentsDeliveredOutOfOrder(t *testing.T) {
	r := newRun(t, perShipment(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{scarf}})
	r.signalShipment(2*time.Hour, workflows.ShipmentSignal{Fulfillment: parcel3, Name: "#1042.3", Products: []store.Product{socks}})
	r.signalShipment(2*time.Hour+time.Minute, workflows.ShipmentSignal{OrderFulfilled: true, Products: []store.Product{shirt, scarf, socks}})
	r.signalParcelDelivered(day, parcel3)
	r.signalParcelDelivered(2*day, parcel1)
	r.signalParcelDelivered(4*day, parcel2)
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{
		{in.RequestID, day + delay, []store.Product{socks}}, // the first to arrive takes the order's own request
		{"rq_shipment_4400001", 2*day + delay, []store.Product{shirt}},
		{"rq_shipment_4400002", 4*day + delay, []store.Product{scarf}},
	})
	r.mu.Lock()
	shipments := append([]activities.ShipmentInput(nil), r.shipments...)
	r.mu.Unlock()
	if len(shipments) != 2 || shipments[0].Name != "#1042.1" || shipments[1].Name != "#1042.2" {
		t.Errorf("ScheduleShipment calls = %+v", shipments)
	}
	r.wantNoMarks()
}

// One email per shipment, two parcels, one cancelled: one email.
func TestReviewRequest_PerShipmentCancelledShipmentIsNotAskedAbout(t *testing.T) {
	r := newRun(t, perShipment(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{scarf}})
	r.signalShipment(2*time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Cancelled: true})
	r.signalShipment(3*time.Hour, workflows.ShipmentSignal{OrderFulfilled: true, Products: []store.Product{shirt}})
	r.signalParcelDelivered(day, parcel1)
	r.signalParcelDelivered(2*day, parcel2) // a late event for the cancelled parcel changes nothing
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, day + delay, []store.Product{shirt}}})
}

// A stop (the order cancelled or refunded) after the first shipment's
// email: the later shipment is not asked about, and the sent email stays.
func TestReviewRequest_PerShipmentStopEndsTheLaterShipments(t *testing.T) {
	r := newRun(t, perShipment(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{scarf}})
	r.signalParcelDelivered(day, parcel1)
	r.signalStop(day+delay+time.Hour, review.ReasonRefunded)
	res := r.execute(in)
	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent})
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, day + delay, []store.Product{shirt}}})
	r.wantNoMarks()
}

// The same product in two parcels (a quantity split) is asked about once.
func TestReviewRequest_PerShipmentProductInTwoParcelsAskedOnce(t *testing.T) {
	r := newRun(t, perShipment(0))
	in := firstParcel(shirt)
	r.signalShipment(time.Hour, workflows.ShipmentSignal{Fulfillment: parcel2, Name: "#1042.2", Products: []store.Product{shirt}})
	r.signalShipment(2*time.Hour, workflows.ShipmentSignal{OrderFulfilled: true, Products: []store.Product{shirt}})
	r.signalParcelDelivered(day, parcel1)
	r.signalParcelDelivered(2*day, parcel2)
	r.execute(in)
	wantEmails(t, r.firstEmails(in), []sent{{in.RequestID, day + delay, []store.Product{shirt}}})
}
