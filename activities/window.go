package activities

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
)

// PlanInput asks when an email may go: at Earliest (the delay's end) or
// later, inside the shop's send window. Now is the workflow's clock.
type PlanInput struct {
	Shop      string
	RequestID string
	Kind      string
	Earliest  time.Time
	Now       time.Time
	// FulfilledAt, when set, makes PlanSend work out Earliest itself from
	// the shop's delays as they are now: DeliveredAt + delay, or, with no
	// delivery yet, FulfilledAt + fallback delay. A merchant's change of
	// timing then reaches requests already waiting.
	FulfilledAt time.Time  `json:",omitempty"`
	DeliveredAt *time.Time `json:",omitempty"`
	// Parcels, when set, replace FulfilledAt and DeliveredAt: the email
	// waits for the last of them, each planned as above. AwaitOrder says
	// the order is not yet known to be wholly fulfilled: the email then
	// waits at least the fallback delay after the last fulfillment, for
	// the parcels still to come.
	Parcels    []Parcel `json:",omitempty"`
	AwaitOrder bool     `json:",omitempty"`
}

// Parcel is one shipment's timing.
type Parcel struct {
	FulfilledAt time.Time
	DeliveredAt *time.Time `json:",omitempty"`
}

// PlanSend returns the first moment at or after max(Earliest, Now) inside the
// shop's send window, in the shop's time zone, and records it for the first
// email so the merchant's pages can show it. Time-zone rules live here, not
// in the workflow, so the workflow stays deterministic across tzdata
// updates: the answer is recorded in its history.
func (a *Activities) PlanSend(ctx context.Context, in PlanInput) (time.Time, error) {
	shop, err := a.DB.Shop(ctx, in.Shop)
	if errors.Is(err, store.ErrNotFound) || (err == nil && shop.TokenSealed == "") {
		return PlanFrom(in, 0, 0), nil // the send activity skips it as shop_disconnected
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("load shop: %w", err)
	}
	from := PlanFrom(in, shop.Delay, shop.FallbackDelay)
	at := from
	if shop.HasWindow() {
		loc, err := a.shopLocation(ctx, shop)
		if errors.Is(err, shoptoken.ErrDisconnected) {
			return PlanFrom(in, 0, 0), nil // as above
		}
		if err != nil {
			return time.Time{}, err
		}
		at = SpreadOpening(from, NextOpen(from, loc, shop.WindowStart, shop.WindowEnd), shop.WindowStart, shop.WindowEnd,
			in.RequestID, in.Kind)
	}
	if in.Kind != KindReminder && in.RequestID != "" {
		if err := store.SetSendAt(ctx, a.DB, in.RequestID, at); err != nil {
			return time.Time{}, fmt.Errorf("record send time: %w", err)
		}
	}
	return at.UTC(), nil
}

// PlanFrom is the earliest send time before the send window applies: in's
// Earliest, or with Parcels or FulfilledAt set, the given delays from
// delivery or fulfilment; never before Now.
func PlanFrom(in PlanInput, delay, fallback time.Duration) time.Time {
	from := in.Earliest
	switch {
	case len(in.Parcels) > 0:
		from = time.Time{}
		var last time.Time
		for _, p := range in.Parcels {
			at := p.FulfilledAt.Add(fallback)
			if p.DeliveredAt != nil {
				at = p.DeliveredAt.Add(delay)
			}
			if at.After(from) {
				from = at
			}
			if p.FulfilledAt.After(last) {
				last = p.FulfilledAt
			}
		}
		if in.AwaitOrder && last.Add(fallback).After(from) {
			from = last.Add(fallback)
		}
	case in.FulfilledAt.IsZero():
	case in.DeliveredAt != nil:
		from = in.DeliveredAt.Add(delay)
	default:
		from = in.FulfilledAt.Add(fallback)
	}
	if in.Now.After(from) {
		return in.Now
	}
	return from
}

// shopLocation is the shop's chosen time zone, or else the one Shopify
// reports for the store.
func (a *Activities) shopLocation(ctx context.Context, shop store.Shop) (*time.Location, error) {
	name := shop.TimeZone
	if name == "" {
		admin, err := a.shopAdmin(ctx, shop)
		if errors.Is(err, shoptoken.ErrDisconnected) {
			return nil, err
		}
		if err != nil {
			return nil, temporalError(err)
		}
		if name, err = admin.ShopTimeZone(ctx); err != nil {
			return nil, temporalError(err)
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" {
		// A zone Shopify knows and our tzdata does not: UTC is the honest
		// fallback, and the window still bounds the hours.
		return time.UTC, nil
	}
	return loc, nil
}

// maxOpeningSpread bounds how far past its window's opening a request that
// waited for the window goes out.
const maxOpeningSpread = 30 * time.Minute

// SpreadOpening moves a send that waited for its window (open, after from)
// to a moment in the window's first half hour, or first half if the window
// is shorter, chosen by the request's ID and kind: every request a window
// held back would otherwise wake at the same second, and call Shopify and
// SendGrid at once. The moment depends on nothing but its arguments, so
// planning again later gives the same answer; a send due inside the window
// is not moved.
func SpreadOpening(from, open time.Time, start, end int, requestID, kind string) time.Time {
	if !open.After(from) || start == end {
		return open
	}
	spread := min(maxOpeningSpread, time.Duration((end-start+24*60)%(24*60))*time.Minute/2)
	return open.Add(OpeningJitter(requestID, kind, spread))
}

// OpeningJitter is a request's place in [0, spread), by whole seconds: a
// hash of its ID and the email's kind, so the first email and the reminder
// of one request fall at different places.
func OpeningJitter(requestID, kind string, spread time.Duration) time.Duration {
	secs := uint64(spread / time.Second)
	if secs == 0 {
		return 0
	}
	h := sha256.Sum256([]byte(requestID + "\x00" + kind))
	return time.Duration(binary.BigEndian.Uint64(h[:8])%secs) * time.Second
}

// NextOpen is the first moment at or after t whose local time in loc lies in
// [start, end) minutes after midnight; end < start wraps past midnight, and
// start == end is always open.
func NextOpen(t time.Time, loc *time.Location, start, end int) time.Time {
	if start == end {
		return t
	}
	if inWindow(t, loc, start, end) {
		return t
	}
	// Closed: the window next opens at start, today or tomorrow.
	local := t.In(loc)
	y, mo, d := local.Date()
	next := time.Date(y, mo, d, start/60, start%60, 0, 0, loc)
	if !next.After(t) {
		next = time.Date(y, mo, d+1, start/60, start%60, 0, 0, loc)
	}
	// When start falls in a DST gap, time.Date may land before the gap;
	// move forward by what is missing to reach start on the local clock.
	for i := 0; i < 2 && !inWindow(next, loc, start, end); i++ {
		l := next.In(loc)
		next = next.Add(time.Duration((start-(l.Hour()*60+l.Minute())+24*60)%(24*60)) * time.Minute)
	}
	return next
}

func inWindow(t time.Time, loc *time.Location, start, end int) bool {
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end
}
