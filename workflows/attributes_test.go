package workflows_test

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

// upserts records the workflow's search-attribute upserts, each as
// "at: Key=value …" with times relative to start, in the order made.
type upserts struct {
	mu  sync.Mutex
	got []string
}

func recordUpserts(r *run) *upserts {
	u := &upserts{}
	r.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		parts := []string{fmt.Sprintf("start+%v:", r.env.Now().Sub(start))}
		for _, k := range []temporal.SearchAttributeKeyKeyword{review.AttrShop, review.AttrPhase, review.AttrOutcome, review.AttrReason} {
			if v, ok := sa.GetKeyword(k); ok {
				parts = append(parts, k.GetName()+"="+v)
			}
		}
		if v, ok := sa.GetTime(review.AttrSendAt); ok {
			parts = append(parts, fmt.Sprintf("%s=start+%v", review.AttrSendAt.GetName(), v.Sub(start)))
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		u.got = append(u.got, strings.Join(parts, " "))
	})
	return u
}

func (u *upserts) want(t *testing.T, want ...string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if !reflect.DeepEqual(u.got, want) {
		t.Errorf("search attribute upserts:\n  %s\nwant:\n  %s", strings.Join(u.got, "\n  "), strings.Join(want, "\n  "))
	}
}

// An operator sees the phase and the planned send time move as the
// workflow does (on the shipments path every new workflow takes): once per
// change, not at each of the 6-hourly re-plans that land on the same time,
// and the outcome at the end.
func TestReviewRequest_SearchAttributesFollowThePhase(t *testing.T) {
	r := newRun(t, settings(reminder))
	u := recordUpserts(r)
	r.signalDelivered(2 * day)
	res := r.execute(input())

	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSent, ReminderStatus: store.StatusSent})
	sendAt := 2*day + delay
	u.want(t,
		fmt.Sprintf("start+0s: CandorSendAt=start+%v", fulfilledAt.Add(fallback).Sub(start)),
		fmt.Sprintf("start+%v: CandorPhase=waiting_delay CandorSendAt=start+%v", 2*day, sendAt),
		fmt.Sprintf("start+%v: CandorPhase=sending", sendAt),
		fmt.Sprintf("start+%v: CandorPhase=waiting_reminder CandorSendAt=start+%v", sendAt, sendAt+reminder),
		fmt.Sprintf("start+%v: CandorPhase=sending", sendAt+reminder), // the reminder's send
		fmt.Sprintf("start+%v: CandorPhase=done CandorOutcome=sent", sendAt+reminder),
	)
}

func TestReviewRequest_SearchAttributesSayWhyItWasSkipped(t *testing.T) {
	r := newRun(t, settings(0))
	u := recordUpserts(r)
	r.signalStop(day, review.ReasonCancelled)
	res := r.execute(input())

	wantResult(t, res, workflows.ReviewRequestResult{Status: store.StatusSkipped, Reason: review.ReasonCancelled})
	u.want(t,
		fmt.Sprintf("start+0s: CandorSendAt=start+%v", fulfilledAt.Add(fallback).Sub(start)),
		fmt.Sprintf("start+%v: CandorPhase=done CandorOutcome=skipped CandorReason=cancelled", day),
	)
}

// A workflow that fails (here: the shop's settings could not be read) is
// done, with no outcome of Candor's: Temporal's own status says it failed.
func TestReviewRequest_SearchAttributesOfAFailedWorkflowSayDoneOnly(t *testing.T) {
	r := newRun(t, settings(0))
	u := recordUpserts(r)
	r.scheduleErr = temporal.NewNonRetryableApplicationError("database gone", "Test", nil)
	r.env.ExecuteWorkflow(workflows.ReviewRequest, input())
	if err := r.env.GetWorkflowError(); err == nil {
		t.Fatal("the workflow did not fail")
	}
	u.want(t, "start+0s: CandorPhase=done")
}

// Every start (webhook intake and reconciliation share the options) carries
// the shop and the first phase, and nothing of the order: no order ID, no
// name, no product.
func TestReviewRequestStartOptions_SearchAttributesHoldOnlyShopAndPhase(t *testing.T) {
	in := input()
	for _, tc := range []struct {
		name      string
		delivered bool
		phase     review.Phase
	}{
		{"fulfilled", false, review.PhaseWaitingDelivery},
		{"already delivered", true, review.PhaseWaitingDelay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.delivered {
				at := start
				in.DeliveredAt = &at
			}
			sa := workflows.ReviewRequestStartOptions(in).TypedSearchAttributes
			if shop, _ := sa.GetKeyword(review.AttrShop); shop != in.Shop {
				t.Errorf("shop = %q", shop)
			}
			if phase, _ := sa.GetKeyword(review.AttrPhase); phase != string(tc.phase) {
				t.Errorf("phase = %q, want %s", phase, tc.phase)
			}
			if sa.Size() != 2 {
				t.Errorf("%d search attributes, want shop and phase only", sa.Size())
			}
			for k, v := range sa.GetUntypedValues() {
				p, err := converter.GetDefaultDataConverter().ToPayload(v)
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range []string{strconv.FormatInt(in.OrderID, 10), in.OrderName, in.RequestID, in.Products[0].Title} {
					if strings.Contains(string(p.GetData()), secret) {
						t.Errorf("search attribute %s holds %q", k.GetName(), secret)
					}
				}
			}
		})
	}
}

// The command printed by serve and worker, and shown in the README, names
// every attribute with the Temporal CLI's type names.
func TestSearchAttributeCreateCommand(t *testing.T) {
	got := review.SearchAttributeCreateCommand("default")
	want := "temporal operator search-attribute create --namespace default --name CandorShop --type Keyword --name CandorPhase --type Keyword" +
		" --name CandorSendAt --type Datetime --name CandorOutcome --type Keyword --name CandorReason --type Keyword"
	if got != want {
		t.Errorf("command:\n %s\nwant:\n %s", got, want)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), got) {
		t.Errorf("the README does not show the command %s", got)
	}
}
