package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// connClient is one load worker's HTTP/1.1 client: a single keep-alive connection it
// writes requests to and reads answers from itself. net/http's Transport hands every
// request to two goroutines of the connection and back, and on a machine of few cores
// shared with the server those hand-offs take CPU from the server under test: the ratios
// between a server and its ceiling would say more about the client than about either. A
// connection the server closes, or that failed, is dialled again for the next request.
type connClient struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

// do sends req and reads the whole answer into buf, as do does for an http.Client. ctx
// ending interrupts the exchange (the connection is then dropped).
func (c *connClient) do(ctx context.Context, req *http.Request, buf []byte) (int, []byte, error) {
	if c.conn == nil {
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", req.URL.Host)
		if err != nil {
			return 0, buf, err
		}
		c.conn, c.br, c.bw = conn, bufio.NewReaderSize(conn, 16<<10), bufio.NewWriterSize(conn, 4<<10)
	}
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	status, buf, err := c.exchange(req, buf)
	if err != nil || ctx.Err() != nil {
		c.close()
		if err == nil {
			err = ctx.Err()
		}
	}
	return status, buf, err
}

func (c *connClient) exchange(req *http.Request, buf []byte) (int, []byte, error) {
	if err := req.Write(c.bw); err != nil {
		return 0, buf, err
	}
	if err := c.bw.Flush(); err != nil {
		return 0, buf, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return 0, buf, err
	}
	defer resp.Body.Close()
	buf, err = readAll(resp.Body, buf)
	if err != nil {
		return resp.StatusCode, buf, err
	}
	if resp.Close {
		c.close()
	}
	return resp.StatusCode, buf, nil
}

func (c *connClient) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// readAll appends r's bytes to buf until EOF.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
