package service

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// ResetMFA removes every factor of the tenant's user (id or username), who enrols again
// at her next login under policy required, and writes mfa_reset. It returns ErrNotFound.
func (s *Service) ResetMFA(ctx context.Context, actor db.Actor, slug, ref string) error {
	t, u, err := s.tenantUser(ctx, slug, ref)
	if err != nil {
		return err
	}
	return s.store.ResetMFA(ctx, t.ID, u.ID, s.userEvent("mfa_reset", actor, t, u))
}

// UsersMFA returns the factors of each of users, who belong to one tenant.
func (s *Service) UsersMFA(ctx context.Context, users []db.User) (map[uuid.UUID]db.MFAState, error) {
	if len(users) == 0 {
		return map[uuid.UUID]db.MFAState{}, nil
	}
	ids := make([]uuid.UUID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return s.store.UsersMFA(ctx, users[0].TenantID, ids)
}

// ResetMFA is Service.ResetMFA.
func (a Admin) ResetMFA(ctx context.Context, slug string, id uuid.UUID) error {
	if err := a.in(slug); err != nil {
		return err
	}
	return a.s.ResetMFA(ctx, a.actor, slug, id.String())
}

// UsersMFA is Service.UsersMFA for users the key reaches (users of its tenant, as read
// through it).
func (a Admin) UsersMFA(ctx context.Context, users []db.User) (map[uuid.UUID]db.MFAState, error) {
	return a.s.UsersMFA(ctx, users)
}

// RotateKeys re-seals every stored factor secret not sealed under the key ring's first
// key with that key. It returns how many it re-sealed; a secret that no key of the ring
// opens is an error (naming the user), after the others were done.
func (s *Service) RotateKeys(ctx context.Context) (int, error) {
	if !s.keys.Usable() {
		return 0, errNoKeyRing
	}
	fs, err := s.store.TOTPSecrets(ctx, s.keys.Primary())
	if err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for _, f := range fs {
		ad := factorAD(f.TenantID, f.UserID)
		plain, err := s.keys.Open(f.KeyID, f.Secret, ad)
		if err == nil {
			var id string
			var sealed []byte
			if id, sealed, err = s.keys.Seal(plain, ad, s.rand); err == nil {
				var ok bool
				ok, err = s.store.ResealTOTP(ctx, f, id, sealed)
				if ok {
					n++
				}
			}
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("user %s of tenant %s: %w", f.UserID, f.TenantID, err)
		}
	}
	return n, firstErr
}
