package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A minimal W3C WebDriver client over plain HTTP, driving Debian's chromium
// through chromedriver: enough to click through the merchant pages like a
// person would, without a new Go module.

const webElementKey = "element-6066-11e4-a52e-4f735466cecf" // W3C WebDriver's element reference key

type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:port/session/{id}
	timeout time.Duration
}

// startBrowser starts chromedriver and a headless chromium session, with
// chromium's extra command-line args if any. It fails (never skips) when
// they are not installed.
func startBrowser(t *testing.T, args ...string) *webDriver {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed; the merchant-page test needs a real browser: apt-get install -y chromium chromium-driver (README, Prerequisites)")
	}
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Fatal("chromedriver is not installed: apt-get install -y chromium-driver (README, Prerequisites)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(root + "/status")
		if err == nil {
			var st struct {
				Value struct {
					Ready bool `json:"ready"`
				} `json:"value"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Value.Ready {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("chromedriver did not become ready in 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		// find waits up to 5 s for an element, as a person would for a page.
		"timeouts": map[string]any{"implicit": 5000, "pageLoad": 30000},
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--window-size=1100,1500", "--disable-dev-shm-usage",
		}, args...)},
	}}}
	w := &webDriver{t: t, base: root, timeout: 10 * time.Second}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	w.call("POST", "/session", caps, &sess)
	if sess.SessionID == "" {
		t.Fatal("chromedriver returned no session")
	}
	w.base = root + "/session/" + sess.SessionID
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", w.base, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return w
}

// call sends one WebDriver command and decodes its "value" into out.
func (w *webDriver) call(method, path string, body, out any) {
	w.t.Helper()
	if err := w.try(method, path, body, out); err != nil {
		w.t.Fatal(err)
	}
}

// try is call that returns its failure instead of ending the test.
func (w *webDriver) try(method, path string, body, out any) error {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("webdriver %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s %s: %d %s", method, path, resp.StatusCode, env.Value)
	}
	if out != nil {
		// New Session answers {"value": {"sessionId": …}}.
		if err := json.Unmarshal(env.Value, out); err != nil {
			return fmt.Errorf("webdriver %s %s: decode %s: %v", method, path, env.Value, err)
		}
	}
	return nil
}

func (w *webDriver) open(url string) {
	w.t.Helper()
	w.call("POST", "/url", map[string]string{"url": url}, nil)
}

func (w *webDriver) currentURL() string {
	w.t.Helper()
	var u string
	w.call("GET", "/url", nil, &u)
	return u
}

func (w *webDriver) source() string {
	w.t.Helper()
	var s string
	w.call("GET", "/source", nil, &s)
	return s
}

// find returns the element matching a CSS selector.
func (w *webDriver) find(css string) string {
	w.t.Helper()
	var el map[string]string
	w.call("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
	if el[webElementKey] == "" {
		w.t.Fatalf("webdriver: no element id for %s in %v; page:\n%s", css, el, w.source())
	}
	return el[webElementKey]
}

func (w *webDriver) text(css string) string {
	w.t.Helper()
	var s string
	w.call("GET", "/element/"+w.find(css)+"/text", nil, &s)
	return s
}

func (w *webDriver) attr(css, name string) string {
	w.t.Helper()
	var s *string
	w.call("GET", "/element/"+w.find(css)+"/attribute/"+name, nil, &s)
	if s == nil {
		return ""
	}
	return *s
}

// fill replaces a text field's value by typing, as a person would.
func (w *webDriver) fill(css, value string) {
	w.t.Helper()
	el := w.find(css)
	w.call("POST", "/element/"+el+"/clear", map[string]any{}, nil)
	w.call("POST", "/element/"+el+"/value", map[string]string{"text": value}, nil)
}

func (w *webDriver) click(css string) {
	w.t.Helper()
	w.call("POST", "/element/"+w.find(css)+"/click", map[string]any{}, nil)
}

// follow clicks a link or submit button and waits until the browser shows the
// next page: a new document has a new root element. Element Click does not
// promise to wait for the navigation it starts, and a busy machine shows it.
func (w *webDriver) follow(css string) {
	w.t.Helper()
	old := w.find("html")
	w.click(css)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Between two documents there may be no root element at all.
		var el map[string]string
		if err := w.try("POST", "/element", map[string]string{"using": "css selector", "value": "html"}, &el); err == nil &&
			el[webElementKey] != "" && el[webElementKey] != old {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("webdriver: clicking %s did not load a new page", css)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot returns the viewport as PNG.
func (w *webDriver) screenshot() []byte {
	w.t.Helper()
	var b64 string
	w.call("GET", "/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		w.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// waitText waits until the text of the element css holds every one of
// want (a single-page app such as the Temporal UI fills its page after it
// loads) and returns that text.
func (w *webDriver) waitText(css string, within time.Duration, want ...string) string {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var el map[string]string
		var text string
		if err := w.try("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el); err == nil && el[webElementKey] != "" {
			_ = w.try("GET", "/element/"+el[webElementKey]+"/text", nil, &text)
		}
		missing := ""
		for _, s := range want {
			if !strings.Contains(text, s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return text
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("webdriver: %s never showed %q; it shows:\n%s", css, missing, text)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
