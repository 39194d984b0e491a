package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/webhooks"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers A queries for any name with the next address of its list (the last
// one from then on): a resolver the test controls, for DNS rebinding.
type dnsServer struct {
	conn  net.PacketConn
	mu    sync.Mutex
	addrs []netip.Addr
	asked int
}

func newDNSServer(t *testing.T, addrs ...string) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc}
	for _, a := range addrs {
		s.addrs = append(s.addrs, netip.MustParseAddr(a))
	}
	t.Cleanup(func() { pc.Close() })
	go s.serve()
	return s
}

func (s *dnsServer) serve() {
	buf := make([]byte, 512)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			s.mu.Lock()
			a := s.addrs[min(s.asked, len(s.addrs)-1)]
			s.asked++
			s.mu.Unlock()
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0},
				dnsmessage.AResource{A: a.As4()})
		}
		out, _ := b.Finish()
		_, _ = s.conn.WriteTo(out, from)
	}
}

func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func receiver(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckURL(t *testing.T) {
	dns := newDNSServer(t, "10.1.2.3")
	s := webhooks.NewSender(webhooks.SenderConfig{Resolver: dns.resolver()})
	tests := []struct{ name, url, want string }{
		{"http", "http://example.com/hook", "https"},
		{"no host", "https:///hook", "host"},
		{"credentials", "https://u:p@example.com/", "credentials"},
		{"fragment", "https://example.com/#x", "fragment"},
		{"relative", "/relative", "absolute"},
		{"port", "https://example.com:99999/", "port"},
		{"loopback", "https://127.0.0.1/", "loopback"},
		{"loopback v6", "https://[::1]/", "loopback"},
		{"mapped", "https://[::ffff:10.0.0.1]/", "loopback"},
		{"private", "https://192.168.1.1/", "loopback"},
		{"link local", "https://169.254.169.254/latest/meta-data", "loopback"},
		{"cgnat", "https://100.64.0.1/", "loopback"},
		{"resolves private", "https://internal.example/", "resolves"},
		{"public literal", "https://93.184.216.34/hook", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CheckURL(context.Background(), tc.url)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckURL(%q) = %v, want %q", tc.url, err, tc.want)
			}
		})
	}
	open := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true})
	if err := open.CheckURL(context.Background(), "https://127.0.0.1:8443/x"); err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	if err := open.CheckURL(context.Background(), "http://127.0.0.1:8443/x"); err == nil {
		t.Fatal("with AllowPrivate, http accepted")
	}
	insecure := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, AllowHTTP: true})
	if err := insecure.CheckURL(context.Background(), "http://127.0.0.1:8080/check"); err != nil {
		t.Fatalf("with AllowHTTP: %v", err)
	}
	if err := insecure.CheckURL(context.Background(), "ftp://127.0.0.1/check"); err == nil {
		t.Fatal("with AllowHTTP, ftp accepted")
	}
}

func TestPostRefusesPrivateAddresses(t *testing.T) {
	hit := false
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) { hit = true })
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	s := webhooks.NewSender(webhooks.SenderConfig{RootCAs: pool})
	a := s.Post(context.Background(), srv.URL, webhooks.Message{ID: "1", At: time.Now(), Body: []byte("{}")})
	if !errors.Is(a.Err, webhooks.ErrAddress) || hit {
		t.Fatalf("Post to %s = %+v (hit %v), want ErrAddress", srv.URL, a, hit)
	}
}

// The name resolves to a public address when the URL is checked and to the loopback
// receiver when connecting: the dialer's check refuses it.
func TestPostRefusesDNSRebinding(t *testing.T) {
	hit := false
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) { hit = true })
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := newDNSServer(t, "93.184.216.34", "127.0.0.1")
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	s := webhooks.NewSender(webhooks.SenderConfig{Resolver: dns.resolver(), RootCAs: pool})
	url := "https://example.com:" + port + "/hook"
	if err := s.CheckURL(context.Background(), url); err != nil {
		t.Fatalf("CheckURL with the public answer: %v", err)
	}
	a := s.Post(context.Background(), url, webhooks.Message{ID: "1", At: time.Now(), Body: []byte("{}")})
	if !errors.Is(a.Err, webhooks.ErrAddress) || hit {
		t.Fatalf("Post after rebinding = %+v (hit %v), want ErrAddress", a, hit)
	}
}

func TestPostFollowsNoRedirect(t *testing.T) {
	followed := false
	target := receiver(t, func(w http.ResponseWriter, r *http.Request) { followed = true })
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	s := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, RootCAs: pool})
	a := s.Post(context.Background(), srv.URL, webhooks.Message{ID: "1", At: time.Now(), Body: []byte("{}")})
	if a.Status != http.StatusTemporaryRedirect || a.Delivered() || followed {
		t.Fatalf("Post = %+v, followed %v; want the 307 itself, undelivered", a, followed)
	}
}

func TestPostKeepsFirst4KiB(t *testing.T) {
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
	})
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	s := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, RootCAs: pool})
	a := s.Post(context.Background(), srv.URL, webhooks.Message{ID: "1", At: time.Now(), Body: []byte("{}")})
	if a.Status != 503 || len(a.Body) != webhooks.MaxResponse || a.Delivered() {
		t.Fatalf("Post = status %d, %d bytes, delivered %v", a.Status, len(a.Body), a.Delivered())
	}
}

func TestPublic(t *testing.T) {
	for s, want := range map[string]bool{"8.8.8.8": true, "2606:4700::1111": true, "127.0.0.1": false,
		"10.1.2.3": false, "192.168.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "::1": false,
		"::ffff:127.0.0.1": false, "fd00::1": false, "0.0.0.0": false, "224.0.0.1": false, "198.18.0.1": false,
		"2001:db8::1": false, "fe80::1": false} {
		if got := webhooks.Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

// CheckAddress needs no resolver: a name passes (the dialer checks it when connecting), a
// literal private address does not.
func TestCheckAddress(t *testing.T) {
	s := webhooks.NewSender(webhooks.SenderConfig{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no DNS here") }}})
	if err := s.CheckAddress("https://old.example.com/check"); err != nil {
		t.Errorf("a host name: %v", err)
	}
	if err := s.CheckURL(context.Background(), "https://old.example.com/check"); err == nil {
		t.Error("CheckURL accepted a name it could not resolve")
	}
	for _, bad := range []string{"https://10.0.0.1/check", "http://old.example.com/", "https://old.example.com/#f"} {
		if err := s.CheckAddress(bad); err == nil {
			t.Errorf("CheckAddress(%q) accepted", bad)
		}
	}
}
