package devenv

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/review"
)

// AddSearchAttributes registers whatever of Candor's search attributes
// (review.SearchAttributes) the namespace lacks, as `temporal operator
// search-attribute create` does. It is for the Temporal servers Candor runs
// itself: candor dev's, and the tests' (devenv and prodenv). On a cluster
// the operator creates them (README), and serve and worker check
// (workflows.CheckSearchAttributes).
func AddSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	add := map[string]enums.IndexedValueType{}
	for _, k := range review.SearchAttributes {
		if _, ok := resp.GetCustomAttributes()[k.GetName()]; !ok {
			add[k.GetName()] = k.GetValueType()
		}
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add}); err != nil {
		return fmt.Errorf("add search attributes to namespace %s: %w", namespace, err)
	}
	return nil
}
