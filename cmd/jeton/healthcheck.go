package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheckCmd is "jeton healthcheck": it asks a running jeton whether it is ready. GET
// --url (its /readyz by default) must answer 200 within --timeout. It is the container's
// health check: the image has no shell and no curl, only jeton.
type healthcheckCmd struct {
	URL     string        `name:"url" default:"http://127.0.0.1:8080/readyz" help:"URL that must answer 200"`
	Timeout time.Duration `name:"timeout" default:"5s" help:"how long to wait for the answer"`
}

func (c *healthcheckCmd) Run(ctx context.Context, e env) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", c.URL, resp.Status)
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
