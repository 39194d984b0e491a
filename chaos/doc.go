// Package chaos is jeton's chaos suite: tests that really stop things. It starts its own
// PostgreSQL primary with a synchronous streaming standby (pgcluster, from the server
// binaries on this machine, never the server other tests share), builds jeton and runs
// three `jeton serve` processes on one database through a multi-host URL
// (target_session_attrs=read-write). Under a steady load of logins, refreshes,
// introspections and revocations from several goroutines, and an admin that disables
// users, changes passwords, rotates secrets and revokes in bulk, it restarts PostgreSQL,
// terminates its backends, freezes it, revokes through one instance while introspecting
// through the others, rolls a restart of two instances through a health-checking reverse
// proxy, and promotes the standby. After each fault it checks from the clients' own records
// that every token they were given is still valid or was explicitly revoked, that no
// revoked token is accepted anywhere, that errors were 503s within the timeout, and it
// measures how long recovery took.
//
//	go test ./chaos                      # the short form (part of make test, under 3 minutes)
//	go test ./chaos -chaos.full -v       # the full form: make chaos
//
// The HA form (TestChaosHA, built with the chaosha tag: make chaos-ha) runs the same
// instances, load, checks and report on three PostgreSQL nodes managed by Patroni over one
// etcd, through a multi-host URL and then through HAProxy on Patroni's /primary: it kills
// the leader's postmaster, switches over with patronictl, stops etcd for longer than the
// leader lock's ttl (failsafe_mode keeps the leader writable: logins and introspection must
// not fail meanwhile) and restarts the synchronous standby. The deployment under a run is
// a cluster: the suite's own primary and standby (pair), or Patroni's (haCluster).
//
// Results (recovery times, requests failed) go to the test log and to a Markdown file,
// -chaos.results (default: jeton-chaos-{short,full}.md in the temporary directory).
// docs/OPERATIONS.md quotes the full form's figures.
package chaos
