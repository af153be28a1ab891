package shopify_test

import (
	"context"
	"testing"
)

// The customer's locale comes with the address, in the same query; an
// order without one reads as "". The shop's primary locale comes with its
// profile.
func TestAdmin_AddresseeAndShopProfileCarryTheLocales(t *testing.T) {
	s, admin := costFixture(t)
	o := s.Order(5151)
	o.CustomerLocale = "pt-BR"
	s.SetOrder(o)
	s.PrimaryLocale = "fr"
	ctx := context.Background()
	ad, err := admin.Addressee(ctx, 5151)
	if err != nil || ad.Locale != "pt-BR" || ad.Email != o.Customer.Email {
		t.Fatalf("addressee %+v, %v", ad, err)
	}
	o.CustomerLocale = ""
	s.SetOrder(o)
	if ad, err = admin.Addressee(ctx, 5151); err != nil || ad.Locale != "" {
		t.Fatalf("an order without a customer locale: %+v, %v", ad, err)
	}
	if s.Calls("CandorRecipient") != 2 {
		t.Errorf("%d recipient queries, want one per read", s.Calls("CandorRecipient"))
	}
	p, err := admin.ShopProfile(ctx)
	if err != nil || p.PrimaryLocale != "fr" {
		t.Fatalf("profile %+v, %v", p, err)
	}
}
