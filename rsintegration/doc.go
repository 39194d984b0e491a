// Package rsintegration holds the integration tests of package rs, the Go toolkit for resource servers,
// against a real jeton: a PostgreSQL database, the service, the HTTP API and its
// revocation feed. It has no code of its own.
package rsintegration
