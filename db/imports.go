package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ImportRow is one user of a bulk import, validated. HasHash false means the line gave no
// password_hash: a new user gets none (”), an updated one keeps its own.
type ImportRow struct {
	Line int
	ID   uuid.UUID
	// KeepID says the id came with the line: only such ids can be taken already.
	KeepID       bool
	Username     string
	PasswordHash string
	HasHash      bool
	Disabled     bool
	Scopes       []string
	ExternalID   *string
	CreatedAt    time.Time
}

// Import modes for a username that exists already.
const (
	ImportFail   = "fail"
	ImportSkip   = "skip"
	ImportUpdate = "update"
)

// ImportBatch is what ImportUsers did with one batch.
type ImportBatch struct {
	Imported, Updated, Skipped int
	// Conflict is the line of the first existing username under ImportFail (0: none);
	// the rows before it were written, none after.
	Conflict int
	// TakenIDs are the lines whose id belongs to another user; they were not written.
	TakenIDs []int
}

// The id is the primary key across tenants: a taken one is found wherever it is, so that
// the line fails rather than the batch.
const importTakenIDs = `SELECT u.id, u.tenant_id, u.username FROM users u WHERE u.id = ANY($1::uuid[])`

// importExisting finds the batch's usernames that exist; an update locks them, so the
// epochs it compares with are the ones it replaces.
const (
	importExisting       = `SELECT u.username, u.epoch FROM users u WHERE u.tenant_id = $1 AND u.username = ANY($2)`
	importExistingLocked = importExisting + ` FOR UPDATE`
)

const importInsert = `INSERT INTO users (tenant_id, id, username, password_hash, disabled, scopes, external_id,
	created_at, updated_at)
SELECT $1, v.id, v.username, v.hash, v.disabled,
	CASE WHEN v.scopes IS NULL THEN NULL ELSE string_to_array(v.scopes, ' ') END, v.external_id, v.created_at, $9
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], $8::timestamptz[])
	AS v(id, username, hash, disabled, scopes, external_id, created_at)
ON CONFLICT DO NOTHING`

// An update that changes the hash or disables the user bumps its epoch, as a password set
// or a disable does: every token live until then dies.
const importUpdate = `UPDATE users AS u SET
	password_hash = CASE WHEN v.has_hash THEN v.hash ELSE u.password_hash END,
	disabled = v.disabled,
	scopes = CASE WHEN v.scopes IS NULL THEN NULL ELSE string_to_array(v.scopes, ' ') END,
	external_id = v.external_id,
	epoch = u.epoch + CASE WHEN (v.has_hash AND v.hash <> u.password_hash) OR (v.disabled AND NOT u.disabled)
		THEN 1 ELSE 0 END,
	updated_at = $8
FROM unnest($2::text[], $3::bool[], $4::text[], $5::bool[], $6::text[], $7::text[])
	AS v(username, has_hash, hash, disabled, scopes, external_id)
WHERE u.tenant_id = $1 AND u.username = v.username
RETURNING u.id, u.username, u.epoch`

// ImportUsers writes one batch of an import into the tenant in one transaction, in line
// order, the usernames of rows distinct: new usernames are inserted, existing ones are
// skipped, updated, or (ImportFail) stop the import at the first. Rows whose id is another
// user's are left out and reported. With dryRun it counts what it would do and writes
// nothing. It returns the database's error.
func (s *Store) ImportUsers(ctx context.Context, tenant uuid.UUID, rows []ImportRow, mode string, dryRun bool, now time.Time) (ImportBatch, error) {
	var out ImportBatch
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = ImportBatch{}
		rows, err := leaveOutTakenIDs(ctx, tx, tenant, rows, &out)
		if err != nil {
			return err
		}
		names := make([]string, len(rows))
		for i, r := range rows {
			names[i] = r.Username
		}
		epochs := map[string]int64{}
		existing := importExisting
		if mode == ImportUpdate && !dryRun {
			existing = importExistingLocked
		}
		er, err := tx.Query(ctx, existing, tenant, names)
		if err != nil {
			return translate("import users", err)
		}
		var name string
		var epoch int64
		if _, err := pgx.ForEachRow(er, []any{&name, &epoch}, func() error { epochs[name] = epoch; return nil }); err != nil {
			return translate("import users", err)
		}
		var fresh, update []ImportRow
		for _, r := range rows {
			_, exists := epochs[r.Username]
			switch {
			case !exists:
				fresh = append(fresh, r)
			case mode == ImportSkip:
				out.Skipped++
			case mode == ImportUpdate:
				update = append(update, r)
			default:
				out.Conflict = r.Line
			}
			if out.Conflict != 0 {
				break
			}
		}
		if dryRun {
			out.Imported, out.Updated = len(fresh), len(update)
			return nil
		}
		if out.Imported, err = insertImported(ctx, tx, tenant, fresh, now); err != nil {
			return err
		}
		out.Skipped += len(fresh) - out.Imported // created meanwhile by someone else
		out.Updated, err = s.updateImported(ctx, tx, tenant, update, epochs, now)
		return err
	})
	return out, err
}

func leaveOutTakenIDs(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, rows []ImportRow, out *ImportBatch) ([]ImportRow, error) {
	var ids []uuid.UUID
	for _, r := range rows {
		if r.KeepID {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return rows, nil
	}
	type owner struct {
		tenant   uuid.UUID
		username string
	}
	taken := map[uuid.UUID]owner{}
	tr, err := tx.Query(ctx, importTakenIDs, uuidTexts(ids))
	if err != nil {
		return nil, translate("import users", err)
	}
	var id uuid.UUID
	var o owner
	if _, err := pgx.ForEachRow(tr, []any{&id, &o.tenant, &o.username}, func() error { taken[id] = o; return nil }); err != nil {
		return nil, translate("import users", err)
	}
	kept := rows[:0:0]
	for _, r := range rows {
		if o, ok := taken[r.ID]; ok && (o.tenant != tenant || o.username != r.Username) {
			out.TakenIDs = append(out.TakenIDs, r.Line)
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}

func insertImported(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, rows []ImportRow, now time.Time) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n := len(rows)
	ids, names, hashes := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	disabled, scopes, ext, created := make([]bool, n), make([]*string, n), make([]*string, n), make([]time.Time, n)
	for i, r := range rows {
		ids[i], names[i], hashes[i], disabled[i] = r.ID, r.Username, r.PasswordHash, r.Disabled
		scopes[i], ext[i], created[i] = joinScopes(r.Scopes), r.ExternalID, r.CreatedAt
	}
	tag, err := tx.Exec(ctx, importInsert, tenant, uuidTexts(ids), names, hashes, disabled, scopes, ext, created, now)
	if err != nil {
		return 0, translate("import users", err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) updateImported(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, rows []ImportRow, before map[string]int64, now time.Time) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n := len(rows)
	names, hasHash, hashes := make([]string, n), make([]bool, n), make([]string, n)
	disabled, scopes, ext := make([]bool, n), make([]*string, n), make([]*string, n)
	for i, r := range rows {
		names[i], hasHash[i], hashes[i], disabled[i] = r.Username, r.HasHash, r.PasswordHash, r.Disabled
		scopes[i], ext[i] = joinScopes(r.Scopes), r.ExternalID
	}
	ur, err := tx.Query(ctx, importUpdate, tenant, names, hasHash, hashes, disabled, scopes, ext, now)
	if err != nil {
		return 0, translate("import users", err)
	}
	var bumped []uuid.UUID
	var id uuid.UUID
	var name string
	var epoch int64
	count, err := pgx.ForEachRow(ur, []any{&id, &name, &epoch}, func() error {
		if epoch != before[name] {
			bumped = append(bumped, id)
		}
		return nil
	})
	if err != nil {
		return 0, translate("import users", err)
	}
	for _, id := range bumped {
		if err := s.appendRevocation(ctx, tx, Revocation{TenantID: tenant, Kind: RevokedUser, Subject: id.String(), At: now}); err != nil {
			return 0, err
		}
	}
	return int(count.RowsAffected()), nil
}

// joinScopes stores scopes as one space-separated string (a scope never holds a space):
// nil stays NULL, no restriction.
func joinScopes(scopes []string) *string {
	if scopes == nil {
		return nil
	}
	s := strings.Join(scopes, " ")
	return &s
}
