package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/review"
)

// runSimulate sends correctly signed Shopify webhooks, with realistic
// payloads of the demo store's orders, to a Candor server.
func runSimulate(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("simulate: say fulfillment, delivered, cancel or refund")
	}
	kind := args[0]
	switch kind {
	case "fulfillment", "delivered", "cancel", "refund", "redact", "data-request":
	default:
		return usagef("simulate: unknown kind %q (fulfillment, delivered, cancel, refund, redact, data-request)", kind)
	}
	fs := flag.NewFlagSet("simulate "+kind, flag.ContinueOnError)
	st, _ := loadDevState()
	server := fs.String("server", orDefault(st.ServerURL, "http://127.0.0.1:8080"), "Candor server base URL")
	shop := fs.String("shop", orDefault(st.DemoShop, DemoShop), "shop domain the webhook comes from")
	order := fs.Int64("order", 0, "order ID (default: a new one); for redact and data-request, the order whose customer it is")
	customerOf := fs.Int64("customer-of", 0, "fulfillment: a new order by the customer of this order (a repeat purchase)")
	delivered := fs.Bool("delivered", false, "fulfillment: follow with a fulfillments/update saying delivered")
	dups := fs.Int("duplicates", 0, "send each webhook this many extra times (same X-Shopify-Webhook-Id)")
	parcels := fs.Int("parcels", 1, "fulfillment: ship the order's products in this many parcels (1 or 2; with --delivered, the last parcel is delivered first)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if !shopify.ValidShopDomain(*shop) {
		return usagef("simulate: --shop %q is not a *.myshopify.com domain", *shop)
	}
	switch {
	case *dups < 0 || *dups > 100:
		return usagef("simulate: --duplicates must be 0 to 100")
	case *customerOf != 0 && (kind != "fulfillment" || *order != 0):
		return usagef("simulate: --customer-of goes with fulfillment, without --order")
	case *customerOf < 0 || *order < 0:
		return usagef("simulate: order IDs are positive")
	case *parcels != 1 && kind != "fulfillment":
		return usagef("simulate: --parcels goes with fulfillment")
	case *parcels < 1 || *parcels > shopifytest.DemoOrderProducts:
		return usagef("simulate: --parcels must be 1 to %d, one parcel per product at most", shopifytest.DemoOrderProducts)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.ShopifyAPISecret == "" {
		return errors.New("SHOPIFY_API_SECRET is not set, and there is no .candor/ from candor dev here to take the demo secret from")
	}
	switch {
	case *customerOf != 0:
		// Same customer, new order: see shopifytest.DemoRepeatStride.
		*order = *customerOf%shopifytest.DemoRepeatStride + (1+time.Now().UnixMilli()%8000)*shopifytest.DemoRepeatStride
	case *order == 0:
		if kind != "fulfillment" {
			return usagef("simulate %s: --order is required", kind)
		}
		*order = time.Now().UnixMilli() % shopifytest.DemoRepeatStride
	}
	o := shopifytest.DemoOrder(*order)
	hooks := simulatedHooks(kind, *shop, o, *delivered, *parcels)
	if err := postHooks(ctx, *server, *shop, cfg.ShopifyAPISecret, o, hooks, *dups); err != nil {
		return err
	}
	switch kind {
	case "fulfillment":
		fmt.Printf("workflow: %s\n", review.WorkflowID(*shop, o.ID))
	case "redact":
		fmt.Printf("receipt: candor subjects receipt --shop %s --customer-id %d\n", *shop, o.Customer.ID)
	case "data-request":
		fmt.Printf("report: candor subjects report --shop %s --customer-id %d\n", *shop, o.Customer.ID)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// hook is one simulated webhook: its topic and body.
type hook struct {
	topic string
	body  []byte
}

// simulatedHooks are the webhooks Shopify sends for kind, about order o;
// a fulfillment ships o's products in parcels parcels.
func simulatedHooks(kind, shop string, o shopifytest.Order, delivered bool, parcels int) []hook {
	var hooks []hook
	switch kind {
	case "fulfillment":
		// Parcel n (from 1) holds every parcels-th product from the n-th.
		shipped := make([][]shopifytest.Product, parcels)
		for i, p := range o.Products {
			shipped[i%parcels] = append(shipped[i%parcels], p)
		}
		for n, ps := range shipped {
			hooks = append(hooks, hook{shopify.TopicFulfillmentCreate, shopifytest.ShipmentPayload(o, n+1, shopify.FulfillmentSuccess, "", ps)})
		}
		// With its last parcel the whole order is fulfilled, and Shopify
		// sends orders/fulfilled too: without it a shop that emails once
		// per order waits its fallback delay.
		hooks = append(hooks, hook{shopify.TopicOrderFulfilled, shopifytest.OrderPayload(o)})
		if delivered {
			// Parcels arrive in any order: the last one shipped first here.
			for n := parcels - 1; n >= 0; n-- {
				hooks = append(hooks, hook{shopify.TopicFulfillmentUpdate, shopifytest.ShipmentPayload(o, n+1, shopify.FulfillmentSuccess, "delivered", shipped[n])})
			}
		}
	case "delivered":
		hooks = append(hooks, hook{shopify.TopicFulfillmentUpdate, shopifytest.FulfillmentPayload(o, "delivered")})
	case "cancel":
		o.Cancelled = true
		hooks = append(hooks, hook{shopify.TopicOrderCancelled, shopifytest.OrderPayload(o)})
	case "refund":
		hooks = append(hooks, hook{shopify.TopicRefundCreate, shopifytest.RefundPayload(o)})
	case "redact":
		hooks = append(hooks, hook{shopify.TopicCustomersRedact, shopifytest.RedactPayload(shop, o)})
	case "data-request":
		hooks = append(hooks, hook{shopify.TopicCustomersDataRequest, shopifytest.DataRequestPayload(shop, o)})
	}
	return hooks
}

// postHooks sends each hook, signed with secret, dups extra times under the
// same webhook ID, and stops at the first one not answered 200.
func postHooks(ctx context.Context, server, shop, secret string, o shopifytest.Order, hooks []hook, dups int) error {
	url := strings.TrimRight(server, "/") + "/webhooks/shopify"
	hc := &http.Client{Timeout: 15 * time.Second}
	for _, h := range hooks {
		id := shopifytest.NewWebhookID()
		for i := 0; i <= dups; i++ {
			req, err := shopifytest.WebhookRequest(url, h.topic, shop, secret, id, h.body)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req.WithContext(ctx))
			if err != nil {
				return fmt.Errorf("send %s to %s: %w (is candor dev running?)", h.topic, url, err)
			}
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			fmt.Printf("%-20s order %d (%s) -> %d %s\n", h.topic, o.ID, o.Name, resp.StatusCode, strings.TrimSpace(string(msg)))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s was answered %d", h.topic, resp.StatusCode)
			}
		}
	}
	return nil
}
