package api

import "github.com/jeton-auth/jeton/db"

// The admin API's objects, for the CLI's --json output: the commands print exactly what
// the API answers (docs/ADMIN.md), from one definition that cannot drift.

// TenantObject is a tenant as GET /admin/v1/tenants/{slug} shows it.
func TenantObject(t db.Tenant) any { return tenantOut(t) }

// ClientObject is a client as the admin API shows it, its secrets described.
func ClientObject(c db.Client, secrets []db.Secret) any { return clientOut(c, secrets) }

// UserObject is a user as the admin API shows it, with its factors.
func UserObject(u db.User, factors db.MFAState) any {
	out := userOut(u)
	out.MFA = factorsOut(factors)
	return out
}

// SessionObject is one of a user's live sessions as the admin API lists it.
func SessionObject(s db.Session) any { return sessionOut(s) }

func sessionOut(s db.Session) sessionJSON {
	return sessionJSON{ID: s.ID.String(), ClientID: s.ClientID, Scope: s.Scope, CreatedAt: s.CreatedAt,
		LastRefreshedAt: s.LastRefreshedAt, ExpiresAt: s.ExpiresAt}
}
