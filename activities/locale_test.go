package activities_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// sendInLocale sends the first email for an order whose customer ordered
// in orderLocale, from a shop whose primary locale is shopLocale, and
// returns the one email that went out.
func sendInLocale(t *testing.T, orderLocale, shopLocale string, ws store.Wordings) (*fixture, string, string) {
	t.Helper()
	o := customerOrder(testOrderID)
	o.CustomerLocale = orderLocale
	f := newFixture(t, o)
	f.shop.EditShop(func(s *shopifytest.Store) { s.PrimaryLocale = shopLocale })
	if ws != nil {
		shop, err := f.db.Shop(context.Background(), testShop)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.db.SaveSettingsAndWording(context.Background(), testShop, shop.Settings, 0, ws); err != nil {
			t.Fatalf("save wording: %v", err)
		}
	}
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSent {
		t.Fatalf("result = %+v, want sent", res)
	}
	out := f.sg.Outbox()
	if len(out) != 1 {
		t.Fatalf("outbox holds %d emails, want 1", len(out))
	}
	return f, out[0].Subject, out[0].HTML
}

// languageReads are the registry's reads of the customer's language.
func languageReads(t *testing.T, f *fixture) []registry.Entry {
	t.Helper()
	var out []registry.Entry
	for _, e := range f.entries(t) {
		if e.Datum == registry.DatumLanguage {
			out = append(out, e)
		}
	}
	return out
}

func TestSend_WritesInTheCustomersLocale(t *testing.T) {
	t.Parallel()
	f, subject, body := sendInLocale(t, "pt-BR", "fr", nil)
	if subject != "O que você achou do seu pedido #4711?" || !strings.Contains(body, `<html lang="pt-BR">`) ||
		!strings.Contains(body, "Obrigado pelo seu pedido") {
		t.Errorf("not in the customer's pt-BR: subject %q\n%s", subject, body)
	}
	// Reading it is a touch of the customer's data, recorded with the send.
	reads := languageReads(t, f)
	if len(reads) != 1 || reads[0].System != registry.SystemShopify || reads[0].Action != registry.ActionRead ||
		reads[0].Subject != f.subject() || reads[0].Ref != f.reqID {
		t.Errorf("registry reads of the language: %+v, want one Shopify read for the request", reads)
	}
}

func TestSend_FallsBackToTheShopsPrimaryLocale(t *testing.T) {
	t.Parallel()
	f, subject, body := sendInLocale(t, "", "fr", nil)
	if subject != "Votre commande #4711 vous a-t-elle plu\u00a0?" || !strings.Contains(body, `<html lang="fr">`) {
		t.Errorf("not in the shop's French: subject %q\n%s", subject, body)
	}
	if reads := languageReads(t, f); len(reads) != 0 {
		t.Errorf("an order without a locale recorded a read of it: %+v", reads)
	}
}

func TestSend_FallsBackToEnglishWhenNeitherLocaleIsSupported(t *testing.T) {
	t.Parallel()
	_, subject, body := sendInLocale(t, "ja-JP", "zh-CN", nil)
	if subject != "How was your order #4711?" || !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("not in English: subject %q\n%s", subject, body)
	}
}

// A customer in a region of a supported language gets that language, with
// the shop's own wording for it.
func TestSend_UsesTheShopsWordingForTheCustomersLanguage(t *testing.T) {
	t.Parallel()
	ws := store.Wordings{"it": {Button: "Dicci la tua"}, "de": {Button: "Bewerten Sie uns"}}
	_, subject, body := sendInLocale(t, "it-CH", "de", ws)
	if !strings.Contains(body, "Dicci la tua") || strings.Contains(body, "Bewerten Sie uns") || subject != "Ti è piaciuto il tuo ordine #4711?" {
		t.Errorf("not the shop's Italian wording: subject %q\n%s", subject, body)
	}
}

// The locale is read inside the activity, like the address: the activity's
// input and result, which Temporal keeps in the workflow's history, have
// no place for it and do not carry it, and it reaches neither the database
// nor the logs.
func TestSend_TheLocaleStaysInTheActivity(t *testing.T) {
	t.Parallel()
	f, _, _ := sendInLocale(t, "pt-BR", "pt-BR", nil)
	for _, v := range []any{activities.SendInput{}, activities.SendResult{}} {
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			if name := strings.ToLower(typ.Field(i).Name); strings.Contains(name, "locale") || strings.Contains(name, "lang") {
				t.Errorf("%s has a field %s: the locale would enter the workflow's history", typ.Name(), typ.Field(i).Name)
			}
		}
	}
	val, err := f.env.ExecuteActivity(f.acts.SendReviewRequest, activities.SendInput{
		Shop: testShop, OrderID: f.order.ID, RequestID: f.reqID, Kind: activities.KindFirst,
	})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SendResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(res)
	for where, text := range map[string]string{"result": string(payload), "database": dumpDatabase(t, f.db), "logs": f.logs.String()} {
		for _, l := range []string{"pt-BR", "pt_BR", "pt-br"} {
			if strings.Contains(text, l) {
				t.Errorf("the %s holds the locale %s:\n%s", where, l, text)
			}
		}
	}
}
