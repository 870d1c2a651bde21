// Package stripetest is a fake of the part of Stripe's API Tollgate uses (creating
// Checkout sessions), on a loopback httptest server, and builds the webhook events
// Stripe would send, signed with the library's own test helper. Tests use it so
// they never reach the real API.
package stripetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Session is a Checkout session the fake created, as Stripe would describe it.
type Session struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	URL               string            `json:"url"`
	Mode              string            `json:"mode"`
	Status            string            `json:"status"`
	PaymentStatus     string            `json:"payment_status"`
	AmountTotal       int64             `json:"amount_total"`
	Currency          string            `json:"currency"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	SuccessURL        string            `json:"success_url"`
	CancelURL         string            `json:"cancel_url"`
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	sessions map[string]Session
	n        int
	// Fail makes the next create answer this HTTP status with a Stripe error.
	Fail int
}

// NewServer starts the fake; Close it when done.
func NewServer() *Server {
	s := &Server{sessions: map[string]Session{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/v1/checkout/sessions" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":"Unrecognized request URL (%s %s)."}}`, r.Method, r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"type":"invalid_request_error","message":"You did not provide an API key."}}`)
		return
	}
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != 0 {
		w.WriteHeader(s.Fail)
		s.Fail = 0
		fmt.Fprint(w, `{"error":{"type":"api_error","message":"The fake was told to fail."}}`)
		return
	}
	amount, _ := strconv.ParseInt(r.PostForm.Get("line_items[0][price_data][unit_amount]"), 10, 64)
	qty, _ := strconv.ParseInt(r.PostForm.Get("line_items[0][quantity]"), 10, 64)
	s.n++
	id := fmt.Sprintf("cs_test_fake%04d", s.n)
	sess := Session{ID: id, Object: "checkout.session", URL: s.URL + "/pay/" + id, Mode: r.PostForm.Get("mode"), Status: "open",
		PaymentStatus: "unpaid", AmountTotal: amount * qty, Currency: r.PostForm.Get("line_items[0][price_data][currency]"),
		ClientReferenceID: r.PostForm.Get("client_reference_id"), Metadata: map[string]string{},
		SuccessURL: r.PostForm.Get("success_url"), CancelURL: r.PostForm.Get("cancel_url")}
	for k, v := range r.PostForm {
		if len(k) > len("metadata[]") && k[:len("metadata[")] == "metadata[" {
			sess.Metadata[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	s.sessions[id] = sess
	_ = json.NewEncoder(w).Encode(sess)
}

// Session returns a session the fake created.
func (s *Server) Session(id string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

// Sessions returns how many sessions the fake created.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Event builds the JSON of a webhook event of type typ carrying sess (as paid),
// the way Stripe sends it.
func Event(id, typ string, sess Session) []byte {
	sess.Status, sess.PaymentStatus = "complete", "paid"
	obj, _ := json.Marshal(sess)
	ev := map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "livemode": false, "data": map[string]json.RawMessage{"object": obj}}
	b, _ := json.Marshal(ev)
	return b
}

// Sign returns the Stripe-Signature header for payload, made with the library's
// test helper, as Stripe signs with the endpoint's secret at time t.
func Sign(payload []byte, secret string, t time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: t}).Header
}
