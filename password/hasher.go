package password

import "io"

// Hasher does argon2id's work for a Pool: a verification, or a new hash. Local does it in
// this process; Process in a child process of its own.
type Hasher interface {
	// Verify is the package's VerifyStored: jeton's argon2id or an imported legacy hash
	// (one call either way, so a child process carries both). An error is a stored string
	// it cannot verify, or,
	// as a *WorkerError, a failure of the hasher itself.
	Verify(pw, phc string) (bool, error)
	// Hash is the package's Hash. Its error is the salt's, or a *WorkerError.
	Hash(pw string, p Params) (string, error)
}

// Local is a Hasher in this process, reading salts from Rand.
type Local struct{ Rand io.Reader }

func (l Local) Verify(pw, phc string) (bool, error)      { return VerifyStored(pw, phc) }
func (l Local) Hash(pw string, p Params) (string, error) { return Hash(pw, p, l.Rand) }

// WorkerError is a Hasher that failed (a child process that died or could not start): the
// password was not verified, and the caller should answer as for any server failure.
type WorkerError struct{ Err error }

func (e *WorkerError) Error() string { return "password hashing worker: " + e.Err.Error() }
func (e *WorkerError) Unwrap() error { return e.Err }
