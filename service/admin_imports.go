package service

import (
	"context"
	"io"
)

// ImportUsers is Service.ImportUsers.
func (a Admin) ImportUsers(ctx context.Context, slug string, r io.Reader, opt ImportOptions) (ImportSummary, error) {
	if err := a.in(slug); err != nil {
		return ImportSummary{Errors: []ImportError{}}, err
	}
	return a.s.ImportUsers(ctx, a.actor, slug, r, opt)
}
