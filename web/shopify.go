package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// TemporalHandOffTimeout bounds intake's calls to Temporal. Shopify gives a
// webhook 5 seconds to answer ("It looks like we're occasionally not
// receiving a response within 5 seconds … It then times out and assumes that
// the webhook was not received": Shopify staff,
// https://community.shopify.com/c/Shopify-APIs-SDKs/Webhook-on-create-orders-called-twice/m-p/543046;
// shopify.dev's webhook troubleshooting page gives 1 s to connect and 5 s in
// all). The SDK's own default is 10 s, so with Temporal unreachable every
// delivery timed out at Shopify instead of getting the 503 that asks for a
// retry. 3 s leaves the rest for Postgres.
const TemporalHandOffTimeout = 3 * time.Second

// intake is what one delivery asks Candor to do, decided from the payload
// before any I/O.
type intake struct {
	topic   string
	shop    string
	orderID int64
	start   *workflows.ReviewRequestInput // start (or signal-with-start) the workflow
	signal  string                        // signal name, if any
	arg     any                           // signal argument
	// shipment, with start, is what a running workflow of the order is
	// told instead of being started again: another shipment, or the whole
	// order fulfilled.
	shipment *workflows.ShipmentSignal
	ignore   string   // why nothing is done
	subject  string   // pseudonym, when the payload names the customer
	personal []string // personal data categories present in the payload
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, status int, outcome, topic, msg string) {
	s.Metrics.WebhookDelivery(topic, outcome)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// shopifyWebhook is POST /webhooks/shopify: verify, dedupe, hand off to
// Temporal, and answer so Shopify retries exactly when it should.
func (s *Server) shopifyWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.Metrics.WebhookIntakeTook(time.Since(start)) }()
	topic := r.Header.Get(shopify.HeaderTopic)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, shopify.MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.reply(w, r, http.StatusRequestEntityTooLarge, "too_large", topic, "body is over the 1 MiB limit")
			return
		}
		s.reply(w, r, http.StatusBadRequest, "unreadable", topic, "could not read body")
		return
	}
	if !shopify.VerifyHMAC(s.ShopifySecret, body, r.Header.Get(shopify.HeaderHMAC)) {
		s.reply(w, r, http.StatusUnauthorized, "bad_hmac", topic, "HMAC signature is missing or wrong")
		return
	}
	shop := r.Header.Get(shopify.HeaderShop)
	if shop == "" && shopify.IsComplianceTopic(topic) {
		// Shopify has sent compliance webhooks without the header
		// (https://github.com/Shopify/shopify-api-ruby/issues/1261); the
		// signed body names the shop.
		shop = shopify.ComplianceShop(body)
	}
	webhookID := r.Header.Get(shopify.HeaderWebhookID)
	switch {
	case !shopify.ValidShopDomain(shop):
		s.reply(w, r, http.StatusBadRequest, "bad_request", topic, shopify.HeaderShop+" is not a *.myshopify.com domain")
		return
	case webhookID == "" || len(webhookID) > 200:
		s.reply(w, r, http.StatusBadRequest, "bad_request", topic, shopify.HeaderWebhookID+" is missing")
		return
	}

	if _, ok := privacyKinds[topic]; ok {
		s.privacyWebhook(w, r, topic, shop, webhookID, body)
		return
	}

	in, err := s.decide(topic, shop, body)
	body = nil // the raw body is not needed past this point, and never kept
	if err != nil {
		s.reply(w, r, http.StatusBadRequest, "bad_request", topic, err.Error())
		return
	}
	if in.ignore != "" && in.orderID == 0 {
		s.reply(w, r, http.StatusOK, "ignored", topic, "ignored: "+in.ignore)
		return
	}

	ctx := r.Context()
	if s.recent.seen(webhookID) {
		s.reply(w, r, http.StatusOK, "duplicate", topic, "duplicate delivery")
		return
	}
	sh, found, err := s.shops.get(ctx, s.DB, shop, s.now())
	switch {
	case err != nil:
		s.unavailable(w, r, topic, "postgres", err)
		return
	case !found:
		s.reply(w, r, http.StatusOK, "unknown_shop", topic, "ignored: shop is not connected")
		return
	}

	outcome, inTemporal, err := s.handOff(ctx, in)
	if err != nil {
		s.unavailable(w, r, topic, "temporal", err)
		return
	}
	if err := s.recordDelivery(ctx, webhookID, shop, sh, in, inTemporal); err != nil {
		s.unavailable(w, r, topic, "postgres", err)
		return
	}
	s.recent.add(webhookID)
	s.reply(w, r, http.StatusOK, outcome, topic, outcome)
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, topic, dep string, err error) {
	s.Logger.LogAttrs(r.Context(), slog.LevelError, "webhook hand-off failed; Shopify will retry",
		slog.String("topic", topic), slog.String("dependency", dep), slog.String("error", err.Error()))
	s.reply(w, r, http.StatusServiceUnavailable, "unavailable", topic, "temporarily unavailable, retry later")
}

// decide parses the payload for topic and says what to do. Errors are 400s.
func (s *Server) decide(topic, shop string, body []byte) (intake, error) {
	in := intake{topic: topic, shop: shop}
	switch topic {
	case shopify.TopicFulfillmentCreate, shopify.TopicFulfillmentUpdate:
		f, err := shopify.ParseFulfillment(body)
		if err != nil {
			return in, err
		}
		in.orderID, in.personal = f.OrderID, personalOf(f.PersonalFields)
		if f.Status == shopify.FulfillmentCancelled && topic == shopify.TopicFulfillmentUpdate {
			// A cancelled shipment is not asked about (unless its products
			// come again in another).
			in.signal, in.arg = review.SignalShipment, workflows.ShipmentSignal{Fulfillment: f.ID, Cancelled: true, At: s.now().UTC()}
			return in, nil
		}
		if f.Status != shopify.FulfillmentSuccess {
			in.ignore = "fulfillment status is " + f.Status
			return in, nil
		}
		input := s.input(shop, f.OrderID, f.OrderName(), f.LineItems)
		input.Fulfillment, input.FulfillmentName = f.ID, f.Name
		if len(input.Products) == 0 {
			in.ignore = "no reviewable products"
			return in, nil
		}
		delivered := f.ShipmentStatus == "delivered"
		if topic == shopify.TopicFulfillmentUpdate {
			if !delivered {
				in.ignore = "shipment status is not delivered"
				return in, nil
			}
			in.signal, in.arg = review.SignalDelivered, workflows.DeliveredSignal{At: s.now(), Fulfillment: f.ID, Name: f.Name, Products: input.Products}
		} else {
			if delivered {
				at := s.now().UTC()
				input.DeliveredAt = &at
			}
			in.shipment = &workflows.ShipmentSignal{Fulfillment: f.ID, Name: f.Name, Products: input.Products, At: input.FulfilledAt}
		}
		in.start = &input
	case shopify.TopicOrderFulfilled:
		o, err := shopify.ParseOrder(body, true)
		if err != nil {
			return in, err
		}
		s.noteOrder(&in, shop, o)
		input := s.input(shop, o.ID, o.Name, o.LineItems)
		if len(input.Products) == 0 {
			in.ignore = "no reviewable products"
			return in, nil
		}
		in.start = &input
		in.shipment = &workflows.ShipmentSignal{OrderFulfilled: true, Products: input.Products, At: input.FulfilledAt}
	case shopify.TopicOrderCancelled:
		o, err := shopify.ParseOrder(body, false)
		if err != nil {
			return in, err
		}
		s.noteOrder(&in, shop, o)
		in.signal, in.arg = review.SignalStop, workflows.StopSignal{Reason: review.ReasonCancelled}
	case shopify.TopicRefundCreate:
		rf, err := shopify.ParseRefund(body)
		if err != nil {
			return in, err
		}
		in.orderID = rf.OrderID
		in.signal, in.arg = review.SignalStop, workflows.StopSignal{Reason: review.ReasonRefunded}
	default:
		return intake{ignore: "topic not handled"}, nil
	}
	return in, nil
}

// noteOrder records what an order payload says about the customer: the
// pseudonym, and which personal data it carried.
func (s *Server) noteOrder(in *intake, shop string, o shopify.Order) {
	in.orderID, in.personal = o.ID, personalOf(o.PersonalFields)
	if o.Customer != nil && o.Customer.ID > 0 {
		in.subject = s.Keys.Subject(shop, o.Customer.ID)
		in.personal = appendMissing(in.personal, registry.DatumCustomerID, registry.DatumName, registry.DatumEmail)
	}
}

func (s *Server) input(shop string, orderID int64, name string, items []shopify.LineItem) workflows.ReviewRequestInput {
	return workflows.NewReviewRequestInput(shop, orderID, name, s.Keys.RequestID(shop, orderID), items, s.now().UTC())
}

func personalOf(p shopify.PersonalFields) []string {
	var ds []string
	if p.Email {
		ds = append(ds, registry.DatumEmail)
	}
	if p.Destination || p.Shipping || p.Billing {
		ds = append(ds, registry.DatumName, registry.DatumAddress)
	}
	if p.Phone || p.Destination || p.Shipping || p.Billing {
		ds = append(ds, registry.DatumPhone)
	}
	return ds
}

func appendMissing(ds []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, d := range ds {
			found = found || d == a
		}
		if !found {
			ds = append(ds, a)
		}
	}
	return ds
}

// handOff makes the delivery durable in Temporal. It reports the outcome and
// whether Temporal holds this order's workflow input: just written, or
// written by an earlier start (perhaps this delivery's own earlier attempt,
// whose registry commit failed).
func (s *Server) handOff(ctx context.Context, in intake) (string, bool, error) {
	if in.ignore != "" {
		return "ignored", false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, TemporalHandOffTimeout)
	defer cancel()
	id := review.WorkflowID(in.shop, in.orderID)
	// The input and signals are encrypted under this request's data key.
	ctx = datakeys.WithWorkflow(ctx, id)
	if in.signal != "" {
		err := s.Temporal.SignalWorkflow(ctx, id, "", in.signal, in.arg)
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			return "signalled", false, nil
		case errors.Is(err, datakeys.ErrShredded):
			return "ignored", false, nil // the request was erased or deleted: nothing is written about it again
		case !errors.As(err, &nf):
			return "", false, fmt.Errorf("signal %s: %w", in.signal, err)
		case in.start == nil:
			return "ignored", false, nil // no running request for this order
		}
		// A delivery event for an order whose fulfillment event never came
		// (or came before Candor was installed): start it, already delivered.
	}
	input := *in.start
	if in.signal == review.SignalDelivered {
		at := s.now().UTC()
		input.DeliveredAt = &at
	}
	started, err := workflows.StartReviewRequest(ctx, s.Temporal, input)
	if errors.Is(err, datakeys.ErrShredded) {
		return "ignored", false, nil // the request was erased or deleted: nothing is written about it again
	}
	if err != nil {
		return "", false, fmt.Errorf("start workflow: %w", err)
	}
	if started {
		return "started", true, nil
	}
	if in.shipment == nil {
		return "duplicate", true, nil
	}
	// The order's workflow exists: tell it of this shipment (it ignores
	// one it knows). A closed one is not re-opened.
	err = s.Temporal.SignalWorkflow(ctx, id, "", review.SignalShipment, *in.shipment)
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return "signalled", true, nil
	case errors.As(err, &nf), errors.Is(err, datakeys.ErrShredded):
		return "duplicate", true, nil // the request is closed, or erased
	}
	return "", false, fmt.Errorf("signal %s: %w", review.SignalShipment, err)
}

// recordDelivery marks the delivery as handled and records, in the same
// transaction, what personal data it brought into Candor's memory (dropped
// at once) and what Temporal holds. The latter is recorded once per order,
// whichever delivery gets to record it: a start whose commit failed is
// recorded by Shopify's retry, which finds the workflow already started.
func (s *Server) recordDelivery(ctx context.Context, webhookID, shop string, sh store.Shop, in intake, inTemporal bool) error {
	now := s.now()
	ref := s.Keys.RequestID(shop, in.orderID)
	var entries []registry.Entry
	for _, d := range in.personal {
		entries = append(entries, registry.Entry{Shop: shop, Subject: in.subject, Datum: d, System: registry.SystemCandor,
			Action: registry.ActionCollected, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now, Ref: ref})
	}
	var once []registry.Entry
	if inTemporal {
		once = append(once, review.InputEntry(sh, in.subject, ref, now, s.TemporalRetention))
	}
	return s.recorder.record(ctx, &pending{webhookID: webhookID, shop: shop, topic: in.topic, entries: entries, once: once})
}
