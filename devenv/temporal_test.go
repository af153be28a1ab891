package devenv

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// candor dev points the dev server's UI at Candor's codec endpoint: the UI
// reads it from its settings.
func TestStartTemporal_UIUsesTheCodecEndpoint(t *testing.T) {
	const endpoint = "http://127.0.0.1:8080/codec/cnd_token"
	uiPort, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := StartTemporal(context.Background(), TemporalOptions{UIPort: uiPort, UICodecEndpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Stop()
	resp, err := http.Get(tp.UIURL + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Codec struct{ Endpoint string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Codec.Endpoint != endpoint {
		t.Fatalf("UI codec endpoint %q, %v", s.Codec.Endpoint, err)
	}
}
