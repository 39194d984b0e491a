package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/service"
)

// loadKeys reads the key ring from file (--secret-keys-file, so the keys stay out of
// ps), else from JETON_SECRET_KEYS; nil when neither is set.
func loadKeys(getenv func(string) string, file string) (*keyring.Ring, error) {
	r, err := keyring.Load(file, getenv("JETON_SECRET_KEYS"))
	if err != nil {
		return nil, fmt.Errorf("JETON_SECRET_KEYS / --secret-keys-file: %w", err)
	}
	return r, nil
}

// devKeys is the key ring of a dev database: the configured one, else the one stored in
// the database, made on first use, so factors enrolled under jeton dev outlive its restarts.
func devKeys(ctx context.Context, getenv func(string) string, file string, store *db.Store) (*keyring.Ring, error) {
	r, err := loadKeys(getenv, file)
	if err != nil || r != nil {
		return r, err
	}
	candidate, err := keyring.Generate("dev", rand.Reader)
	if err != nil {
		return nil, err
	}
	spec, err := store.DevSecretKey(ctx, candidate)
	if err != nil {
		return nil, err
	}
	return keyring.Parse(spec)
}

// checkKeys refuses to serve without a key ring while a tenant's mfa_policy needs one.
func checkKeys(ctx context.Context, svc *service.Service, keys *keyring.Ring) error {
	if keys.Usable() {
		return nil
	}
	slugs, err := svc.MFAPolicyTenants(ctx)
	if err != nil {
		return err
	}
	if len(slugs) > 0 {
		return errors.New("tenants " + strings.Join(slugs, ", ") + " have an mfa_policy other than off, which needs a key ring: set JETON_SECRET_KEYS or --secret-keys-file")
	}
	return nil
}

// keysCmd is "jeton keys ACTION".
type keysCmd struct {
	Rotate keysRotateCmd `cmd:"" help:"Re-seal every stored second-factor secret under the key ring's first key (JETON_SECRET_KEYS or JETON_SECRET_KEYS_FILE); then older keys may leave the ring."`
}

type keysRotateCmd struct {
	adminFlags     `embed:""`
	SecretKeysFile string `name:"secret-keys-file" env:"JETON_SECRET_KEYS_FILE" placeholder:"FILE" help:"file of the key ring, as serve reads it (else JETON_SECRET_KEYS)"`
	JSON           bool   `name:"json" help:"print one JSON object: resealed, key"`
}

func (c *keysRotateCmd) Run(ctx context.Context, e env) error {
	// The other admin commands read the key ring from the environment alone; the flag
	// stands for the variable.
	if file, getenv := c.SecretKeysFile, e.getenv; file != "" {
		e.getenv = func(k string) string {
			if k == "JETON_SECRET_KEYS_FILE" {
				return file
			}
			return getenv(k)
		}
	}
	return c.withService(ctx, e, func(svc *service.Service) error {
		n, err := svc.RotateKeys(ctx)
		if err != nil {
			return err
		}
		keys, _ := loadKeys(e.getenv, e.getenv("JETON_SECRET_KEYS_FILE"))
		return output(e.stdout, c.JSON, map[string]any{"resealed": n, "key": keys.Primary()},
			fmt.Sprintf("resealed %d secrets under key %s", n, keys.Primary()))
	})
}
