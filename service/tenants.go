package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
)

// MaxReuseGrace bounds a tenant's refresh_reuse_grace.
const MaxReuseGrace = 60 * time.Second

// CreateTenant creates a tenant. It returns a ValidationError for a bad slug or name, and
// ErrConflict when the slug is taken (also by a deleted tenant: slugs are never reused).
func (s *Service) CreateTenant(ctx context.Context, actor db.Actor, slug, name string) (db.Tenant, error) {
	if err := ValidSlug(slug); err != nil {
		return db.Tenant{}, err
	}
	if name == "" {
		name = slug
	}
	if err := validName(name); err != nil {
		return db.Tenant{}, err
	}
	return s.store.CreateTenant(ctx, slug, name, s.event("tenant_created", actor, nil))
}

// Tenant returns the live tenant with that slug, or ErrNotFound.
func (s *Service) Tenant(ctx context.Context, slug string) (db.Tenant, error) {
	return s.store.TenantBySlug(ctx, slug)
}

// UpdateTenant applies change to the tenant and stores the result if it is valid.
// Disabling bumps the tenant's epoch, so every token of the tenant stays dead afterwards.
// It returns ErrNotFound or a ValidationError naming the field.
func (s *Service) UpdateTenant(ctx context.Context, actor db.Actor, slug string, change func(*db.Tenant)) (db.Tenant, error) {
	return s.updateTenant(ctx, actor, slug, change, nil)
}

// updateTenant is UpdateTenant; allowed, when not nil, vets the change (by the names of
// the fields it changed) before anything else is checked.
func (s *Service) updateTenant(ctx context.Context, actor db.Actor, slug string, change func(*db.Tenant),
	allowed func(changed []string) error) (db.Tenant, error) {
	found, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		return found, err
	}
	// The change applies to the row as locked by the update, never to a copy read earlier.
	return s.store.UpdateTenant(ctx, found.ID, func(before db.Tenant) (db.Tenant, db.Event, error) {
		t := before
		change(&t)
		t.ID, t.Slug = before.ID, before.Slug // immutable
		if allowed != nil {
			if err := allowed(diff(before, t)); err != nil {
				return before, db.Event{}, err
			}
		}
		if err := s.validTenant(t); err != nil {
			return t, db.Event{}, err
		}
		if err := s.keyRingFor(before, t); err != nil {
			return t, db.Event{}, err
		}
		ev := s.event(changeKind("tenant", before.Disabled, t.Disabled), actor, &t)
		ev.Detail = map[string]any{"changes": diff(before, t)}
		return t, ev, nil
	})
}

// validTenant checks a tenant's settable fields.
func (s *Service) validTenant(t db.Tenant) error {
	if err := validName(t.Name); err != nil {
		return err
	}
	if err := s.validLifetimes(t.AccessTTL, t.RefreshIdleTTL, t.RefreshMaxTTL); err != nil {
		return err
	}
	if err := validTTL("event_retention", t.EventRetention, s.cfg.MaxEventRetention); err != nil {
		return err
	}
	if t.RefreshReuseGrace < 0 || t.RefreshReuseGrace > MaxReuseGrace || t.RefreshReuseGrace%time.Second != 0 {
		return invalid("refresh_reuse_grace", "must be whole seconds from 0s to 60s")
	}
	if err := s.validMFASettings(t); err != nil {
		return err
	}
	return s.validSecuritySettings(t)
}

// changeKind names the event of an update of resource: its disable, its enable, or any
// other change.
func changeKind(resource string, wasDisabled, disabled bool) string {
	switch {
	case disabled && !wasDisabled:
		return resource + "_disabled"
	case !disabled && wasDisabled:
		return resource + "_enabled"
	}
	return resource + "_updated"
}

// DeleteTenant disables the tenant, bumps its epoch and leaves a tombstone that reserves
// its slug; the sweeper purges its rows. It returns ErrNotFound.
func (s *Service) DeleteTenant(ctx context.Context, actor db.Actor, slug string) error {
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		return err
	}
	ev := s.event("tenant_deleted", actor, nil)
	ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
	return s.store.DeleteTenant(ctx, t.ID, ev)
}

// validSecuritySettings checks a tenant's password policy and login throttle overrides:
// nil, or within the deployment's maxima (a minimum password length from 8 to 64).
func (s *Service) validSecuritySettings(t db.Tenant) error {
	if m := t.MinPasswordLength; m != nil && (*m < MinPasswordFloor || *m > MaxMinPasswordLength) {
		return invalid("min_password_length", fmt.Sprintf("must be from %d to %d", MinPasswordFloor, MaxMinPasswordLength))
	}
	if err := validLifecycle(t); err != nil {
		return err
	}
	th := s.cfg.Throttle
	if err := validOverride("login_backoff_after", t.LoginBackoffAfter, th.MaxBackoffAfter); err != nil {
		return err
	}
	if err := validOverride("login_user_limit", t.LoginUserLimit, th.MaxUserLimit); err != nil {
		return err
	}
	return validOverride("login_ip_limit", t.LoginIPLimit, th.MaxIPLimit)
}

func validName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 || strings.ContainsFunc(name, isControl) {
		return invalid("name", "must be 1 to 200 bytes of printable text")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validLifetimes checks a tenant's or client's lifetime overrides against the maxima.
func (s *Service) validLifetimes(access, idle, max *time.Duration) error {
	if err := validTTL("access_ttl", access, s.cfg.MaxAccessTTL); err != nil {
		return err
	}
	if err := validTTL("refresh_idle_ttl", idle, s.cfg.MaxRefreshIdleTTL); err != nil {
		return err
	}
	return validTTL("refresh_max_ttl", max, s.cfg.MaxRefreshMaxTTL)
}

// validTTL checks a lifetime override: nil (the default), or whole seconds from 1s to max
// (ten years when max is 0).
func validTTL(field string, d *time.Duration, max time.Duration) error {
	if max <= 0 {
		max = 10 * 365 * 24 * time.Hour
	}
	if d != nil && (*d < time.Second || *d%time.Second != 0 || *d > max) {
		return invalid(field, "must be whole seconds from 1s to "+FormatDuration(max))
	}
	return nil
}

// diff lists the names of the fields that differ, for events (values may be sensitive).
func diff[T any](a, b T) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		name := va.Type().Field(i).Name
		if name == "UpdatedAt" || name == "Epoch" || name == "PasswordHash" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// tenant resolves a slug for the methods that take one, mapping a missing tenant to
// ErrNotFound.
func (s *Service) tenant(ctx context.Context, slug string) (db.Tenant, error) {
	t, err := s.store.TenantBySlug(ctx, slug)
	if errors.Is(err, db.ErrNotFound) {
		return t, fmt.Errorf("tenant %q: %w", slug, ErrNotFound)
	}
	return t, err
}
