package rs

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	name  string // "message" when the stream named none
	data  string // the data lines joined by "\n"
	id    string
	hasID bool
}

// sseReader parses a text/event-stream (WHATWG HTML, "Server-sent events", §9.2.6): lines
// end with LF, CRLF or CR; a line starting with ':' is a comment; a blank line dispatches the
// event. As in the standard, a block without data is not dispatched, and here its id is
// ignored too: jeton's events always carry data.
type sseReader struct {
	sc     *bufio.Scanner
	onLine func()        // called for every line, comments included: the stream is alive
	retry  time.Duration // the last retry field, 0 if none
}

func newSSEReader(r io.Reader, onLine func()) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	sc.Split(scanSSELines)
	return &sseReader{sc: sc, onLine: onLine}
}

// next returns the next event. At the end of the stream it returns io.EOF (an unterminated
// last event is discarded, as the standard says) or the read error.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data strings.Builder
	hasData := false
	for r.sc.Scan() {
		if r.onLine != nil {
			r.onLine()
		}
		line := r.sc.Text()
		if line == "" {
			if !hasData {
				ev = sseEvent{}
				continue
			}
			ev.data = strings.TrimSuffix(data.String(), "\n")
			if ev.name == "" {
				ev.name = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.id, ev.hasID = value, true
			}
		case "retry":
			if ms, err := strconv.ParseUint(value, 10, 31); err == nil {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}

// scanSSELines is a bufio.SplitFunc for lines ended by LF, CRLF or CR.
func scanSSELines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		switch {
		case i+1 < len(data) && data[i+1] == '\n':
			return i + 2, data[:i], nil
		case i+1 < len(data) || atEOF:
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a CR at the end: wait to see whether LF follows
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
