package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/service"
)

// hang is how long a feed test waits for something that must happen: it only catches
// hangs; the tests check order, never speed.
const hang = 30 * time.Second

// newFeedWorld is newWorld with a revocation feed running (withFeed; opts may give its
// configuration).
func newFeedWorld(t *testing.T, opts ...envOption) (world, *service.Feed) {
	t.Helper()
	w := newWorld(t, append([]envOption{withFeed(service.FeedConfig{})}, opts...)...)
	return w, w.feed
}

// sseBlock is one blank-line-terminated block of a stream: an event, a comment or a retry.
type sseBlock struct {
	ID, Event, Data, Retry string
	Comments               []string
}

// feedStream is an open GET /revocations read by a goroutine of its own.
type feedStream struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	blocks chan sseBlock // closed at the end of the stream
}

// feedRequest starts GET /revocations as c, with Last-Event-ID when lastID is not "".
func (e *env) feedRequest(c client, lastID string) (*http.Response, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/revocations", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", basic(c.ID, c.Secret))
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, cancel
}

// openFeed opens a stream as c and fails unless jeton answers 200 text/event-stream.
func (e *env) openFeed(c client, lastID string) *feedStream {
	e.t.Helper()
	resp, cancel := e.feedRequest(c, lastID)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Cache-Control") != "no-store" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		e.t.Fatalf("GET /revocations: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	s := &feedStream{t: e.t, resp: resp, cancel: cancel, blocks: make(chan sseBlock, 10000)}
	go s.read()
	e.t.Cleanup(s.close)
	return s
}

func (s *feedStream) read() {
	defer close(s.blocks)
	sc := bufio.NewScanner(s.resp.Body)
	var b sseBlock
	started := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if started {
				s.blocks <- b
			}
			b, started = sseBlock{}, false
			continue
		}
		started = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			b.Comments = append(b.Comments, value)
		case "id":
			b.ID = value
		case "event":
			b.Event = value
		case "data":
			b.Data = value
		case "retry":
			b.Retry = value
		default:
			b.Event = "unexpected field " + field
		}
	}
}

// close hangs up.
func (s *feedStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next block, heartbeats included.
func (s *feedStream) next() sseBlock {
	s.t.Helper()
	select {
	case b, ok := <-s.blocks:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return b
	case <-time.After(hang):
		s.t.Fatalf("nothing on the stream for %s", hang)
	}
	return sseBlock{}
}

// event returns the next block that is not a heartbeat.
func (s *feedStream) event() sseBlock {
	s.t.Helper()
	for {
		if b := s.next(); len(b.Comments) == 0 || b.Event != "" || b.Retry != "" {
			return b
		}
	}
}

// ready reads up to the ready event and returns the events before it and ready's head.
func (s *feedStream) ready() ([]sseBlock, string) {
	s.t.Helper()
	var before []sseBlock
	for {
		b := s.event()
		if b.Event == "ready" {
			if b.Data != `{"head":`+b.ID+`}` {
				s.t.Fatalf("ready %+v: its id and head differ", b)
			}
			return before, b.ID
		}
		before = append(before, b)
	}
}

// ended returns what is left on the stream once jeton ends it, heartbeats left out.
func (s *feedStream) ended() []sseBlock {
	s.t.Helper()
	var rest []sseBlock
	timeout := time.After(hang)
	for {
		select {
		case b, ok := <-s.blocks:
			if !ok {
				return rest
			}
			if len(b.Comments) == 0 || b.Event != "" || b.Retry != "" {
				rest = append(rest, b)
			}
		case <-timeout:
			s.t.Fatalf("the stream did not end within %s", hang)
		}
	}
}

// revoke is the block a revocation event with data should be (its id is not compared).
func revoke(data string) sseBlock { return sseBlock{Event: "revoke", Data: data} }

// withoutIDs returns events with their ids blanked, for comparing.
func withoutIDs(events []sseBlock) []sseBlock {
	out := make([]sseBlock, len(events))
	for i, e := range events {
		e.ID = ""
		out[i] = e
	}
	return out
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// waitStreams waits until the feed counts n open streams.
func waitStreams(t *testing.T, f *service.Feed, n int) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for f.Streams() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d feed streams open, want %d", f.Streams(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
