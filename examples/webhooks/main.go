// Command webhooks is an example receiver of jeton's webhooks: it checks each delivery's
// Standard Webhooks signature with the standard library only, skips deliveries it has
// already processed (deliveries are at least once), and prints each event as a line of
// JSON. Run it behind TLS: jeton sends only to https URLs.
//
//	WEBHOOK_SECRET=whsec_... go run ./examples/webhooks -addr 127.0.0.1:8787
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// verify checks a delivery: the webhook-timestamp is within 5 minutes of now and one of
// the "v1," signatures of webhook-signature is the HMAC-SHA256, keyed by the
// base64-decoded part of the secret after "whsec_", of "webhook-id.webhook-timestamp.body".
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("bad secret")
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("timestamp missing or outside the tolerance")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no valid signature")
}

// event is the body of a delivery; Data is the event as jeton's admin API shows it.
type event struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// receiver prints each new event to out. A real one would record seen ids in its own
// database, in the transaction that acts on the event.
type receiver struct {
	secret string
	now    func() time.Time
	out    io.Writer

	mu   sync.Mutex
	seen map[string]bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if err := verify(rc.secret, r.Header, body, rc.now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	id := r.Header.Get("webhook-id")
	if !rc.seen[id] {
		rc.seen[id] = true
		fmt.Fprintf(rc.out, "{\"id\":%q,\"type\":%q,\"data\":%s}\n", id, ev.Type, ev.Data)
	}
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8787", "address to listen on")
	cert := flag.String("tls-cert", "", "TLS certificate (PEM); without it, plain HTTP for a TLS proxy in front")
	key := flag.String("tls-key", "", "TLS key (PEM)")
	flag.Parse()
	rc := &receiver{secret: os.Getenv("WEBHOOK_SECRET"), now: time.Now, out: os.Stdout, seen: map[string]bool{}}
	if !strings.HasPrefix(rc.secret, "whsec_") {
		log.Fatal("set WEBHOOK_SECRET to the endpoint's whsec_... secret")
	}
	srv := &http.Server{Addr: *addr, Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	if *cert != "" {
		log.Fatal(srv.ListenAndServeTLS(*cert, *key))
	}
	log.Fatal(srv.ListenAndServe())
}
