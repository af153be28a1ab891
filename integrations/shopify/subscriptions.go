package shopify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SubscriptionFields is every webhook topic Candor subscribes to, with the
// include_fields that keep the payload to what web/shopify.go parses. No
// email, phone, name, address or customer object is asked for, so Shopify
// drops them at the source. The compliance topics (customers/data_request,
// customers/redact, shop/redact) cannot be subscribed through the API; they
// are set in the app's configuration (README).
var SubscriptionFields = map[string][]string{
	TopicFulfillmentCreate: {"id", "order_id", "status", "shipment_status", "name", "line_items.product_id", "line_items.title", "line_items.gift_card"},
	TopicFulfillmentUpdate: {"id", "order_id", "status", "shipment_status", "name", "line_items.product_id", "line_items.title", "line_items.gift_card"},
	TopicOrderFulfilled:    {"id", "name", "line_items.product_id", "line_items.title", "line_items.gift_card"},
	TopicOrderCancelled:    {"id"},
	TopicRefundCreate:      {"id", "order_id"},
	TopicAppUninstalled:    {"id"}, // the shop object carries the owner's name, email and phone
}

// GraphQLTopic is the WebhookSubscriptionTopic enum value for a REST-style
// topic: fulfillments/create is FULFILLMENTS_CREATE.
func GraphQLTopic(topic string) string {
	return strings.ToUpper(strings.ReplaceAll(topic, "/", "_"))
}

// Subscription is one webhook subscription as Shopify holds it.
type Subscription struct {
	ID            string   `json:"id"`
	Topic         string   `json:"topic"` // GraphQL enum, e.g. FULFILLMENTS_CREATE
	URI           string   `json:"uri"`
	IncludeFields []string `json:"includeFields"`
}

// SubscriptionChanges counts what EnsureSubscriptions changed.
type SubscriptionChanges struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	OK      int `json:"ok"`
}

const QueryWebhookSubscriptions = `query CandorWebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri includeFields }
    pageInfo { hasNextPage endCursor }
  }
}`

const MutationWebhookSubscriptionCreate = `mutation CandorWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}`

const MutationWebhookSubscriptionUpdate = `mutation CandorWebhookSubscriptionUpdate($id: ID!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}`

const MutationWebhookSubscriptionDelete = `mutation CandorWebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}`

type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

func userErrorsErr(op string, ues []userError) error {
	if len(ues) == 0 {
		return nil
	}
	var parts []string
	for _, u := range ues {
		parts = append(parts, strings.Join(u.Field, ".")+": "+u.Message)
	}
	// Subscription user errors are about topics and URLs, never customers.
	return &Error{Op: op, Reason: "rejected: " + strings.Join(parts, "; ")}
}

// Subscriptions lists the app's webhook subscriptions on the shop.
func (a *Admin) Subscriptions(ctx context.Context) ([]Subscription, error) {
	var out []Subscription
	var after any
	for page := 0; page < 20; page++ {
		var resp struct {
			WebhookSubscriptions struct {
				Nodes    []Subscription `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"webhookSubscriptions"`
		}
		if err := a.query(ctx, "list webhook subscriptions", QueryWebhookSubscriptions, map[string]any{"after": after}, &resp); err != nil {
			return nil, err
		}
		out = append(out, resp.WebhookSubscriptions.Nodes...)
		if !resp.WebhookSubscriptions.PageInfo.HasNextPage {
			return out, nil
		}
		after = resp.WebhookSubscriptions.PageInfo.EndCursor
	}
	return out, nil
}

func subInput(uri string, fields []string) map[string]any {
	return map[string]any{"uri": uri, "format": "JSON", "includeFields": fields}
}

// EnsureSubscriptions makes the shop's subscriptions exactly SubscriptionFields
// delivered to callbackURL: it creates what is missing, updates a
// subscription with the wrong URL or fields, and deletes duplicates and
// topics Candor does not handle (they would only bring data it drops). It is
// idempotent.
func (a *Admin) EnsureSubscriptions(ctx context.Context, callbackURL string) (SubscriptionChanges, error) {
	var ch SubscriptionChanges
	have, err := a.Subscriptions(ctx)
	if err != nil {
		return ch, err
	}
	byTopic := map[string][]Subscription{}
	for _, s := range have {
		byTopic[s.Topic] = append(byTopic[s.Topic], s)
	}
	topics := make([]string, 0, len(SubscriptionFields))
	for t := range SubscriptionFields {
		topics = append(topics, t)
	}
	slices.Sort(topics) // a stable order makes the calls (and tests) repeatable
	wanted := map[string]bool{}
	for _, topic := range topics {
		fields := SubscriptionFields[topic]
		gt := GraphQLTopic(topic)
		wanted[gt] = true
		subs := byTopic[gt]
		// Keep the one already pointing here, if any; repair the first
		// otherwise; delete the rest.
		keep := -1
		for i, s := range subs {
			if s.URI == callbackURL {
				keep = i
				break
			}
		}
		if keep < 0 && len(subs) > 0 {
			keep = 0
		}
		for i, s := range subs {
			if i == keep {
				continue
			}
			if err := a.deleteSubscription(ctx, s.ID); err != nil {
				return ch, err
			}
			ch.Deleted++
		}
		if keep < 0 {
			if err := a.createSubscription(ctx, topic, callbackURL, fields); err != nil {
				return ch, err
			}
			ch.Created++
			continue
		}
		s := subs[keep]
		if s.URI == callbackURL && sameFields(s.IncludeFields, fields) {
			ch.OK++
			continue
		}
		if err := a.updateSubscription(ctx, topic, s.ID, callbackURL, fields); err != nil {
			return ch, err
		}
		ch.Updated++
	}
	for _, s := range have {
		if wanted[s.Topic] {
			continue
		}
		if err := a.deleteSubscription(ctx, s.ID); err != nil {
			return ch, err
		}
		ch.Deleted++
	}
	return ch, nil
}

func (a *Admin) createSubscription(ctx context.Context, topic, callbackURL string, fields []string) error {
	var resp struct {
		R struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"webhookSubscriptionCreate"`
	}
	if err := a.query(ctx, "create webhook subscription "+topic, MutationWebhookSubscriptionCreate, map[string]any{"topic": GraphQLTopic(topic), "sub": subInput(callbackURL, fields)}, &resp); err != nil {
		return err
	}
	return userErrorsErr("create webhook subscription "+topic, resp.R.UserErrors)
}

func (a *Admin) updateSubscription(ctx context.Context, topic, id, callbackURL string, fields []string) error {
	var resp struct {
		R struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"webhookSubscriptionUpdate"`
	}
	if err := a.query(ctx, "update webhook subscription "+topic, MutationWebhookSubscriptionUpdate, map[string]any{"id": id, "sub": subInput(callbackURL, fields)}, &resp); err != nil {
		return err
	}
	return userErrorsErr("update webhook subscription "+topic, resp.R.UserErrors)
}

func (a *Admin) deleteSubscription(ctx context.Context, id string) error {
	var resp struct {
		R struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"webhookSubscriptionDelete"`
	}
	if err := a.query(ctx, "delete webhook subscription", MutationWebhookSubscriptionDelete, map[string]any{"id": id}, &resp); err != nil {
		return err
	}
	return userErrorsErr("delete webhook subscription", resp.R.UserErrors)
}

func sameFields(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// FulfilledOrder is what reconciliation reads about an order: no customer,
// no address, no price.
type FulfilledOrder struct {
	ID        int64
	Name      string
	Cancelled bool
	LineItems []LineItem
}

// The orders search pages its orders and, separately, each order's line
// items, because Shopify prices a nested connection as the product of the
// page sizes and refuses any query over 1,000 points
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
// One page of orders costs 2 + 25 × (1 order + 2 + 10 × (1 line item + 1
// product)) = 577 points; an order with more than 10 line items has the
// rest read with QueryOrderLineItems, 1 + 2 + 100 × 2 = 203 points a page.
// Both fit with room for Shopify pricing a field above its default.
const QueryFulfilledOrders = `query CandorFulfilledOrders($query: String!, $after: String) {
  orders(first: 25, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id
      name
      cancelledAt
      lineItems(first: 10) {
        nodes { title isGiftCard product { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`

// QueryOrderLineItems reads the line items of one order past the first
// page the orders search returned.
const QueryOrderLineItems = `query CandorOrderLineItems($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) {
      nodes { title isGiftCard product { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// FulfilledOrdersQuery is the search for orders fulfilled (wholly or in
// part) and updated since since.
func FulfilledOrdersQuery(since time.Time) string {
	return fmt.Sprintf("updated_at:>='%s' AND (fulfillment_status:shipped OR fulfillment_status:partial)", since.UTC().Format(time.RFC3339))
}

// MaxReconcileOrders bounds one shop's reconciliation read.
const MaxReconcileOrders = 5000

// maxLineItemPages bounds the line-item pages read for one order.
const maxLineItemPages = 50

type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

// lineItemsPage is one page of an order's lineItems connection: titles,
// product IDs and whether the item is a gift card, only.
type lineItemsPage struct {
	Nodes []struct {
		Title      string `json:"title"`
		IsGiftCard bool   `json:"isGiftCard"`
		Product    *struct {
			ID string `json:"id"`
		} `json:"product"`
	} `json:"nodes"`
	PageInfo pageInfo `json:"pageInfo"`
}

func (p lineItemsPage) items() []LineItem {
	var out []LineItem
	for _, li := range p.Nodes {
		item := LineItem{Title: li.Title, GiftCard: li.IsGiftCard}
		if li.Product != nil {
			if pid, err := LegacyID(li.Product.ID); err == nil {
				item.ProductID = &pid
			}
		}
		out = append(out, item)
	}
	return out
}

// FulfilledOrders lists orders fulfilled and updated since since, each with
// all its line items.
func (a *Admin) FulfilledOrders(ctx context.Context, since time.Time) ([]FulfilledOrder, error) {
	var out []FulfilledOrder
	var after any
	for len(out) < MaxReconcileOrders {
		var resp struct {
			Orders struct {
				Nodes []struct {
					ID          string        `json:"id"`
					Name        string        `json:"name"`
					CancelledAt *string       `json:"cancelledAt"`
					LineItems   lineItemsPage `json:"lineItems"`
				} `json:"nodes"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"orders"`
		}
		vars := map[string]any{"query": FulfilledOrdersQuery(since), "after": after}
		if err := a.query(ctx, "list fulfilled orders", QueryFulfilledOrders, vars, &resp); err != nil {
			return nil, err
		}
		for _, n := range resp.Orders.Nodes {
			id, err := LegacyID(n.ID)
			if err != nil {
				return nil, &Error{Op: "list fulfilled orders", Reason: "order ID is malformed"}
			}
			o := FulfilledOrder{ID: id, Name: n.Name, Cancelled: n.CancelledAt != nil && *n.CancelledAt != "",
				LineItems: n.LineItems.items()}
			if n.LineItems.PageInfo.HasNextPage {
				rest, err := a.orderLineItems(ctx, n.ID, n.LineItems.PageInfo.EndCursor)
				if err != nil {
					return nil, err
				}
				o.LineItems = append(o.LineItems, rest...)
			}
			out = append(out, o)
		}
		if !resp.Orders.PageInfo.HasNextPage {
			break
		}
		after = resp.Orders.PageInfo.EndCursor
	}
	return out, nil
}

// orderLineItems reads an order's line items after cursor.
func (a *Admin) orderLineItems(ctx context.Context, orderGID, cursor string) ([]LineItem, error) {
	var out []LineItem
	for page := 0; page < maxLineItemPages; page++ {
		var resp struct {
			Order *struct {
				LineItems lineItemsPage `json:"lineItems"`
			} `json:"order"`
		}
		if err := a.query(ctx, "list order line items", QueryOrderLineItems, map[string]any{"id": orderGID, "after": cursor}, &resp); err != nil {
			return nil, err
		}
		if resp.Order == nil {
			return out, nil // deleted since the search: its first page is what there is
		}
		out = append(out, resp.Order.LineItems.items()...)
		if !resp.Order.LineItems.PageInfo.HasNextPage {
			return out, nil
		}
		cursor = resp.Order.LineItems.PageInfo.EndCursor
	}
	return out, nil
}
