// Command goapi is a small notes API whose users log in at jeton. It protects its routes
// with package rs (github.com/jeton-auth/jeton/rs): bearer tokens are introspected at
// jeton, cached, and evicted the moment jeton's revocation feed reports them revoked.
//
//	JETON_RS_CLIENT_ID=jc_... JETON_RS_CLIENT_SECRET=jcs_... go run ./examples/goapi
//
// See README.md for running it against `make run`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/jeton-auth/jeton/rs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goapi:", err)
		os.Exit(1)
	}
}

// run serves the API until ctx ends. It reads jeton's URL and the resource server's
// credentials from JETON_URL, JETON_RS_CLIENT_ID and JETON_RS_CLIENT_SECRET, and logs to
// stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("goapi", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	jeton := getenv("JETON_URL")
	if jeton == "" {
		jeton = "http://127.0.0.1:8080"
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	c, err := rs.New(rs.Config{URL: jeton, ClientID: getenv("JETON_RS_CLIENT_ID"),
		ClientSecret: getenv("JETON_RS_CLIENT_SECRET"), Realm: "notes", Logger: log})
	if err != nil {
		return fmt.Errorf("%w (set JETON_RS_CLIENT_ID and JETON_RS_CLIENT_SECRET to a resource server's credentials)", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "goapi: listening on http://%s, tokens checked at %s\n", ln.Addr(), jeton)

	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		_ = c.Run(feedCtx) // returns when stopFeed is called
	}()
	defer func() { stopFeed(); <-feedDone }()

	srv := &http.Server{Handler: newAPI(c), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// notes is every user's notes, in memory, by the token's sub.
type notes struct {
	mu     sync.Mutex
	byUser map[string][]note
}

type note struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// newAPI returns the routes: GET /me for any live token, GET /notes with the read scope,
// POST /notes with the write scope, and GET /healthz without a token.
func newAPI(c *rs.Client) http.Handler {
	n := &notes{byUser: map[string][]note{}}
	mux := http.NewServeMux()
	mux.Handle("GET /me", c.Middleware()(http.HandlerFunc(me)))
	mux.Handle("GET /notes", c.Middleware(rs.RequireScopes("read"))(http.HandlerFunc(n.list)))
	mux.Handle("POST /notes", c.Middleware(rs.RequireScopes("write"))(http.HandlerFunc(n.add)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"revocation_feed_live": c.FeedHealthy()})
	})
	return mux
}

// me answers whom the token speaks for.
func me(w http.ResponseWriter, r *http.Request) {
	tok, _ := rs.FromContext(r.Context()) // always there behind the middleware
	writeJSON(w, http.StatusOK, map[string]any{"sub": tok.Sub, "username": tok.Username,
		"client_id": tok.ClientID, "scope": tok.Scope, "tenant": tok.Tenant, "expires_at": tok.Exp})
}

func (n *notes) list(w http.ResponseWriter, r *http.Request) {
	tok, _ := rs.FromContext(r.Context())
	n.mu.Lock()
	mine := append([]note{}, n.byUser[tok.Sub]...)
	n.mu.Unlock()
	writeJSON(w, http.StatusOK, mine)
}

func (n *notes) add(w http.ResponseWriter, r *http.Request) {
	tok, _ := rs.FromContext(r.Context())
	var in struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Text == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"text": "..."}`})
		return
	}
	nt := note{Text: in.Text, At: time.Now().UTC()}
	n.mu.Lock()
	n.byUser[tok.Sub] = append(n.byUser[tok.Sub], nt)
	n.mu.Unlock()
	writeJSON(w, http.StatusCreated, nt)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}
