//go:build dev

package main

import "github.com/jeton-auth/jeton/pgserver/pgcontainer"

// startContainer is jeton dev's last resort when no server answers: a PostgreSQL container
// (testcontainers-go). Only a build with the dev tag has it (make run); the binary that
// serves production links no Docker client.
var startContainer = pgcontainer.Start
