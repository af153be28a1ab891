package sendgridtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// listNames are the suppression lists SendGrid keeps per address, by their
// API names; the global unsubscribes have a path of their own.
var listNames = []string{"bounces", "blocks", "spam_reports", "invalid_emails", "global_unsubscribes"}

// Suppress puts address on one of SendGrid's lists ("bounces", "blocks",
// "spam_reports", "invalid_emails", "global_unsubscribes"), as SendGrid does
// after a bounce, a spam report or an unsubscribe. PostEvents does it too
// for the bounce and spam-report events it posts.
func (s *Server) Suppress(list, address string) {
	if !slices.Contains(listNames, list) {
		panic("sendgridtest: no suppression list " + list)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lists == nil {
		s.lists = map[string]map[string]time.Time{}
	}
	if s.lists[list] == nil {
		s.lists[list] = map[string]time.Time{}
	}
	s.lists[list][strings.ToLower(address)] = time.Now()
}

// SuppressedOn lists the lists that hold address.
func (s *Server) SuppressedOn(address string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var on []string
	for _, list := range listNames {
		if _, ok := s.lists[list][strings.ToLower(address)]; ok {
			on = append(on, list)
		}
	}
	return on
}

// IgnoreSuppressionDeletes makes DELETEs on the suppression lists answer
// 204 without removing anything, so a caller that trusts the status and
// does not read back is caught.
func (s *Server) IgnoreSuppressionDeletes(ignore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreDeletes = ignore
}

// suppressionEvents puts the addresses of posted bounce and spam-report
// events on their lists.
func (s *Server) suppressionEvents(events []map[string]any) {
	for _, e := range events {
		addr, _ := e["email"].(string)
		switch e["event"] {
		case "bounce":
			list := "bounces"
			if e["type"] == "blocked" {
				list = "blocks"
			}
			s.Suppress(list, addr)
		case "spamreport":
			s.Suppress("spam_reports", addr)
		}
	}
}

// suppressionRoute matches /v3/suppression/{list}/{email} and
// /v3/asm/suppressions/global/{email}.
func suppressionRoute(path string) (list, address string, ok bool) {
	if rest, found := strings.CutPrefix(path, "/v3/asm/suppressions/global/"); found {
		list, address = "global_unsubscribes", rest
	} else if rest, found := strings.CutPrefix(path, "/v3/suppression/"); found {
		list, address, _ = strings.Cut(rest, "/")
		if list == "global_unsubscribes" || !slices.Contains(listNames, list) {
			return "", "", false
		}
	} else {
		return "", "", false
	}
	a, err := url.PathUnescape(address)
	if err != nil || a == "" {
		return "", "", false
	}
	return list, a, true
}

// serveSuppression answers GET (what the list holds for the address: an
// array, or for the global unsubscribes an object) and DELETE (204).
func (s *Server) serveSuppression(w http.ResponseWriter, r *http.Request, list, address string) {
	if r.Header.Get("Authorization") != "Bearer "+s.Key || s.Key == "" {
		reject(w, http.StatusUnauthorized, "", "authorization required")
		return
	}
	if !validEmail(address) {
		reject(w, http.StatusBadRequest, "email", "email is not valid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, on := s.lists[list][strings.ToLower(address)]
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		var body any = []any{}
		switch {
		case list == "global_unsubscribes" && on:
			body = map[string]any{"recipient_email": address}
		case list == "global_unsubscribes":
			body = map[string]any{}
		case on:
			body = []any{map[string]any{"created": at.Unix(), "email": address, "reason": "stand-in " + list, "status": "5.1.1"}}
		}
		_ = json.NewEncoder(w).Encode(body)
	case http.MethodDelete:
		if !s.ignoreDeletes {
			delete(s.lists[list], strings.ToLower(address))
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		reject(w, http.StatusMethodNotAllowed, "", "method not allowed")
	}
}
