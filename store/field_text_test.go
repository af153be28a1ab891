package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// Every settings problem names its code, whose English (store.FieldText)
// with its arguments is the problem's Msg, the text the CLI prints; a
// problem from retention keeps retention's own text and still has a code,
// so the merchant pages can say it in another language.
func TestSettings_ProblemsHaveACodeAndTheirEnglish(t *testing.T) {
	bad := store.DefaultSettings("x.myshopify.com")
	bad.Delay, bad.Reminder = -time.Hour, 400*24*time.Hour
	bad.ReviewURL, bad.Subject = "https://{shop}/{nope}", "a <b>"
	bad.WindowStart, bad.WindowEnd, bad.TimeZone = -1, 24*60, "Mars/Olympus_Mons"
	bad.ConsentMode, bad.EmailPer, bad.MaxEmails, bad.MaxProducts = "x", "x", 51, 0
	bad.ExcludedProducts, bad.ExcludedTags = []int64{-3}, []string{" gift"}
	ps := bad.Problems()
	for _, w := range []store.Wording{{Subject: "<b>"}, {Opening: strings.Repeat("a", 1000)}, {Button: "{x}"}, {Opening: "Hi {name}"}} {
		ps = append(ps, w.Problems("de")...)
	}
	ps = append(ps, store.Wording{}.Problems("xx")...)
	ps = append(ps, store.Wording{Subject: "Hi"}.Problems("en")...)
	if err := store.CheckReviewHost("https://evil.example/", "x.myshopify.com", nil); err != nil {
		ps = append(ps, err.(*store.FieldError))
	}
	if len(ps) < 20 {
		t.Fatalf("only %d problems", len(ps))
	}
	for _, p := range ps {
		text, ok := store.FieldText[p.Code]
		if !ok || p.Field == "" {
			t.Errorf("%q: code %q is not in FieldText, field %q", p.Msg, p.Code, p.Field)
			continue
		}
		if got := fmt.Sprintf(text, p.Args...); got != p.Msg {
			t.Errorf("%s: Msg %q, FieldText says %q", p.Code, p.Msg, got)
		}
	}

	for _, c := range []struct {
		err  error
		code string
		args []any
	}{
		{retention.Check(retention.ReviewRequests, 24*time.Hour), "keep_too_short", []any{"1d", "30d"}},
		{retention.Check(retention.ReviewRequests, 400*24*time.Hour), "keep_too_long", []any{"400d", "365d"}},
		{retention.CheckWait(30*24*time.Hour, retention.Timing{FallbackDelay: 45 * 24 * time.Hour, Delay: 7 * 24 * time.Hour}),
			"timing_wait", []any{"30d", "54d", "45d", "7d", "2d"}},
		{retention.CheckWait(30*24*time.Hour, retention.Timing{FallbackDelay: 21 * 24 * time.Hour, Delay: 7 * 24 * time.Hour, Reminder: 7 * 24 * time.Hour}),
			"timing_wait_reminder", []any{"30d", "39d", "21d", "7d", "7d", "4d"}},
	} {
		var fe *store.FieldError
		if !errors.As(store.RetentionErrorForTest("keep_requests", c.err), &fe) || fe.Code != c.code ||
			fmt.Sprint(fe.Args) != fmt.Sprint(c.args) || fe.Msg != c.err.Error() {
			t.Errorf("%v: %+v, want code %s with %v", c.err, fe, c.code, c.args)
		}
	}
}
