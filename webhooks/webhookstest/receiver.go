// Package webhookstest provides a webhook receiver for tests: a real HTTPS server that
// checks every delivery's signature with its own code, written from the Standard Webhooks
// specification rather than with package webhooks.
package webhookstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Verify reports whether header (a webhook-signature) holds a "v1," signature of
// id.timestamp.body made with secret ("whsec_" and base64).
func Verify(secret, id, timestamp string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, timestamp, body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(header) {
		v, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// Delivery is one request the receiver got.
type Delivery struct {
	Header   http.Header
	Body     []byte
	Verified []bool          // per secret of SetSecrets, in order
	Done     <-chan struct{} // closed when the sender gives up on the request
	Payload  struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
}

// ID is the webhook-id header.
func (d Delivery) ID() string { return d.Header.Get("webhook-id") }

// Receiver is an HTTPS webhook endpoint that records what it gets.
type Receiver struct {
	*httptest.Server
	// Answer, when set, chooses the status of the n-th request (from 0); 204 otherwise.
	// It runs before the request is recorded as received, so it may block.
	Answer func(n int, d Delivery) int

	mu       sync.Mutex
	secrets  []string
	got      []Delivery
	inFlight int
	maxIn    int
}

// NewReceiver starts a receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Server.Close)
	return r
}

// RootCAs trusts the receivers' certificate (every httptest TLS server shares it).
func (r *Receiver) RootCAs() *x509.CertPool {
	return r.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// SetSecrets sets the secrets each delivery is checked with.
func (r *Receiver) SetSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = secrets
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := Delivery{Header: req.Header.Clone(), Body: body, Done: req.Context().Done()}
	_ = json.Unmarshal(body, &d.Payload)
	r.mu.Lock()
	for _, s := range r.secrets {
		d.Verified = append(d.Verified, Verify(s, d.ID(), req.Header.Get("webhook-timestamp"), body,
			req.Header.Get("webhook-signature")))
	}
	n := len(r.got)
	r.inFlight++
	r.maxIn = max(r.maxIn, r.inFlight)
	answer := r.Answer
	r.mu.Unlock()
	status := http.StatusNoContent
	if answer != nil {
		status = answer(n, d)
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.inFlight--
	r.mu.Unlock()
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "answer %d", status)
}

// Deliveries returns what the receiver answered so far, in order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// IDs returns the webhook-id of each delivery answered, in order.
func (r *Receiver) IDs() []string {
	var ids []string
	for _, d := range r.Deliveries() {
		ids = append(ids, d.ID())
	}
	return ids
}

// MaxInFlight is the most requests the receiver was handling at once.
func (r *Receiver) MaxInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxIn
}

// Reset forgets the deliveries received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.maxIn = nil, 0
}
