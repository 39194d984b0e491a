package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// errNoFeed means the build serves no revocation feed.
var errNoFeed = errors.New("GET /revocations: 404")

// stream is one open revocation feed (docs/FEED.md), read as Server-Sent Events.
type stream struct {
	cancel context.CancelFunc
	events chan sseEvent
	done   chan struct{}

	mu    sync.Mutex
	retry string // the last retry: field
	err   error  // why reading stopped
}

type sseEvent struct {
	id, event, data string
	at              time.Time
}

// openFeed subscribes to base's feed as the resource server and returns once the stream
// is live (its ready event).
func (e *env) openFeed(ctx context.Context, base string) (*stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/revocations", nil)
	req.SetBasicAuth(url.QueryEscape(e.seed.rs.id), url.QueryEscape(e.seed.rs.secret))
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Transport: e.http.Transport} // no timeout: a stream lasts
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		cancel()
		return nil, errNoFeed
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET /revocations: %d", resp.StatusCode)
	}
	s := &stream{cancel: cancel, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				if line == "" && (ev.event != "" || ev.data != "") {
					ev.at = time.Now()
					select {
					case s.events <- ev:
					default:
					}
					ev = sseEvent{}
				}
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data = value
			case "retry":
				s.mu.Lock()
				s.retry = value
				s.mu.Unlock()
			}
		}
		s.mu.Lock()
		s.err = sc.Err()
		s.mu.Unlock()
	}()
	if _, err := s.next(func(ev sseEvent) bool { return ev.event == "ready" }, 15*time.Second); err != nil {
		s.close()
		return nil, fmt.Errorf("no ready event: %w", err)
	}
	return s, nil
}

// next waits at most d for an event that match accepts.
func (s *stream) next(match func(sseEvent) bool, d time.Duration) (sseEvent, error) {
	timeout := time.After(d)
	for {
		select {
		case ev := <-s.events:
			if match(ev) {
				return ev, nil
			}
		case <-s.done:
			// Drain what arrived before the end.
			for {
				select {
				case ev := <-s.events:
					if match(ev) {
						return ev, nil
					}
				default:
					return sseEvent{}, errors.New("stream ended")
				}
			}
		case <-timeout:
			return sseEvent{}, fmt.Errorf("nothing within %v", d)
		}
	}
}

// waitEnd waits at most d for the server to end the stream and returns its retry hint.
func (s *stream) waitEnd(d time.Duration) (string, error) {
	select {
	case <-s.done:
	case <-time.After(d):
		s.close()
		return "", fmt.Errorf("still open after %v", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retry, nil
}

func (s *stream) close() {
	s.cancel()
	<-s.done
}

// checkFeed subscribes to every instance's feed, revokes a fresh token through one
// instance and expects its event on every stream: the feed holds across instances, and
// each hub's LISTEN connection came back after the phase's fault.
func (e *env) checkFeed(ctx context.Context, p *phase) {
	bases := e.bases()
	var streams []*stream
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()
	for _, b := range bases {
		s, err := e.openFeed(ctx, b)
		if errors.Is(err, errNoFeed) {
			p.note("feed: this build serves no GET /revocations; not checked")
			return
		}
		if err != nil {
			p.violate("feed on %s: %v", b, err)
			return
		}
		streams = append(streams, s)
	}
	tok := e.liveToken(ctx, p, bases[0])
	if tok == "" {
		return
	}
	revoked := time.Now()
	a := e.call(ctx, bases[len(bases)-1], "/revoke", e.seed.app, url.Values{"token": {tok}})
	if a.status != http.StatusOK {
		p.violate("feed: revoke: %d %v", a.status, a.body)
		return
	}
	for _, s := range e.ledger.all() {
		if l := s.latest(); l != nil && l.token == tok {
			l.revoked = true
		}
	}
	hash := tokenHash(tok)
	var took []string
	for i, s := range streams {
		ev, err := s.next(func(ev sseEvent) bool {
			return ev.event == "revoke" && strings.Contains(ev.data, hash)
		}, 20*time.Second)
		if err != nil {
			p.violate("feed: the revocation never reached the stream on %s: %v", bases[i], err)
			continue
		}
		took = append(took, ev.at.Sub(revoked).Round(time.Millisecond).String())
	}
	if len(took) == len(streams) {
		p.note("feed: a revocation through one instance reached the streams of all three in %s", strings.Join(took, ", "))
	}
}
