package web

import (
	"time"

	"github.com/candorhq/candor/workflows"
)

// Unexported parts the fuzz targets (fuzz_test.go, package web_test) reach.

// VerifySessionToken is verifySessionToken; the shop is its only result a
// caller acts on.
func VerifySessionToken(tok, apiKey, secret string, now time.Time) (shop, jti string, expires time.Time, err error) {
	c, err := verifySessionToken(tok, apiKey, secret, now)
	return c.Shop, c.Jti, c.Expires, err
}

// Decide is what intake decides for a delivery, before any I/O.
func (s *Server) Decide(topic, shop string, body []byte) (start *workflows.ReviewRequestInput, orderID int64, signal string, err error) {
	in, err := s.decide(topic, shop, body)
	return in.start, in.orderID, in.signal, err
}
