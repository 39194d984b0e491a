package main

import (
	"log/slog"
	"net/http"

	"github.com/jeton-auth/jeton/console"
)

// consoleHandler returns the admin console's handler, or nil when --console=false.
func consoleHandler(on bool, log *slog.Logger) (http.Handler, error) {
	if !on {
		return nil, nil
	}
	files, err := console.Load()
	if err != nil {
		return nil, err
	}
	if !files.Built {
		log.Warn("the admin console was not built into this binary: /console/ serves a page saying how (make console build)")
	}
	return files, nil
}
