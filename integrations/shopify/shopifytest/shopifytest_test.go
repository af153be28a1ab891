package shopifytest

import "testing"

// A repeat purchase in the demo store: another order, the same person.
func TestDemoOrder_RepeatPurchasesShareTheCustomer(t *testing.T) {
	first, repeat, other := DemoOrder(123_456), DemoOrder(123_456+3*DemoRepeatStride), DemoOrder(123_457)
	if repeat.ID == first.ID || repeat.Name == first.Name || *repeat.Customer != *first.Customer {
		t.Fatalf("repeat order %d: customer %+v, want %+v", repeat.ID, repeat.Customer, first.Customer)
	}
	if other.Customer.ID == first.Customer.ID || other.Customer.Email == first.Customer.Email {
		t.Fatalf("orders %d and %d share a customer", first.ID, other.ID)
	}
}
