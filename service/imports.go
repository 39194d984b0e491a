package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password/legacy"
)

// ImportLine is one line of a user import, and of an export: NDJSON, one user a line.
// PasswordHash is a string in a family jeton verifies, or a legacy.Object; Scope is
// space-separated (absent or null: no restriction beyond the client's).
type ImportLine struct {
	Username     string          `json:"username"`
	PasswordHash json.RawMessage `json:"password_hash,omitempty"`
	ID           string          `json:"id,omitempty"`
	Scope        *string         `json:"scope,omitempty"`
	Disabled     bool            `json:"disabled,omitempty"`
	CreatedAt    *time.Time      `json:"created_at,omitempty"`
	TOTPSecret   string          `json:"totp_secret,omitempty"`
	ExternalID   *string         `json:"external_id,omitempty"`
}

// ImportOptions are an import's query parameters.
type ImportOptions struct {
	OnConflict string // db.ImportFail (the default), db.ImportSkip or db.ImportUpdate
	DryRun     bool
	Limits     legacy.Limits // zero: legacy.DefaultLimits
	// BatchTimeout, when positive, bounds the database work of each batch.
	BatchTimeout time.Duration
	// Progress, when set, hears after each batch how many bytes and lines were read.
	Progress func(bytes int64, lines int)
}

// ImportSummary is what an import did. Errors holds the first MaxImportErrors line errors.
type ImportSummary struct {
	Imported int           `json:"imported"`
	Updated  int           `json:"updated"`
	Skipped  int           `json:"skipped"`
	Failed   int           `json:"failed"`
	Errors   []ImportError `json:"errors"`
}

// ImportError is one line's error; Line counts from 1.
type ImportError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ImportConflictError is an import under on_conflict=fail stopped at Line, whose username
// exists; the lines before it stayed imported. It wraps ErrConflict.
type ImportConflictError struct{ Line int }

func (e *ImportConflictError) Error() string {
	return fmt.Sprintf("line %d: the username exists", e.Line)
}
func (e *ImportConflictError) Unwrap() error { return ErrConflict }

// Import limits: errors listed, users written a batch, bytes a line.
const (
	MaxImportErrors = 1000
	importBatch     = 1000
	maxImportLine   = 64 << 10
)

// ImportUsers reads NDJSON users from r, in order, and writes them into the tenant in
// batches (never more than a batch in memory). A line that fails changes nothing and is
// counted with its error; the others go on. Under on_conflict=fail the first existing
// username stops the import with an *ImportConflictError (and the summary so far). One
// users_imported event with the counts is written at the end, unless DryRun, which writes
// nothing. It returns ErrNotFound for an unknown tenant, a ValidationError for a bad
// option, r's error (the summary of what was written before it) and the database's.
func (s *Service) ImportUsers(ctx context.Context, actor db.Actor, slug string, r io.Reader, opt ImportOptions) (ImportSummary, error) {
	sum := ImportSummary{Errors: []ImportError{}}
	switch opt.OnConflict {
	case "":
		opt.OnConflict = db.ImportFail
	case db.ImportFail, db.ImportSkip, db.ImportUpdate:
	default:
		return sum, invalid("on_conflict", "must be fail, skip or update")
	}
	if opt.Limits == (legacy.Limits{}) {
		opt.Limits = legacy.DefaultLimits
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return sum, err
	}
	im := importer{s: s, t: t, opt: opt, sum: &sum, seen: map[string]bool{}, ids: map[uuid.UUID]bool{}}
	err = im.run(ctx, r)
	if !opt.DryRun && (sum.Imported+sum.Updated+sum.Skipped+sum.Failed > 0) {
		ev := s.event("users_imported", actor, &t)
		ev.SubjectType, ev.SubjectID, ev.SubjectName = "tenant", t.ID.String(), t.Slug
		ev.Detail = map[string]any{"imported": sum.Imported, "updated": sum.Updated, "skipped": sum.Skipped,
			"failed": sum.Failed, "on_conflict": opt.OnConflict}
		// Written even when the client went away: what was imported stays, and so does its record.
		if eerr := s.store.RecordEvent(context.WithoutCancel(ctx), ev); eerr != nil && err == nil {
			err = eerr
		}
	}
	return sum, err
}

type importer struct {
	s     *Service
	t     db.Tenant
	opt   ImportOptions
	sum   *ImportSummary
	batch []db.ImportRow
	seen  map[string]bool // usernames in batch
	ids   map[uuid.UUID]bool
	// pending are the line errors since the last batch written: under on_conflict=fail,
	// those after the line that stopped the import are dropped, as if never read.
	pending []ImportError
	read    int64
	lines   int
}

func (im *importer) fail(line int, msg string) {
	im.pending = append(im.pending, ImportError{Line: line, Error: msg})
}

// settle counts the pending errors up to line stop (0: all) into the summary, in line order.
func (im *importer) settle(stop int) {
	slices.SortFunc(im.pending, func(a, b ImportError) int { return a.Line - b.Line })
	for _, e := range im.pending {
		if stop != 0 && e.Line > stop {
			break
		}
		im.sum.Failed++
		if len(im.sum.Errors) < MaxImportErrors {
			im.sum.Errors = append(im.sum.Errors, e)
		}
	}
	im.pending = im.pending[:0]
}

func (im *importer) run(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxImportLine)
	for {
		line, tooLong, err := readLine(br)
		im.read += int64(len(line))
		if err != nil && err != io.EOF {
			// The body broke off (too large, or the client went away): its last line is
			// a fragment, not a line to judge.
			if ferr := im.flush(ctx); ferr != nil {
				return ferr
			}
			return err
		}
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			im.lines++
			if tooLong {
				im.fail(im.lines, fmt.Sprintf("the line is longer than %d KiB", maxImportLine>>10))
			} else if err := im.add(ctx, im.lines, line); err != nil {
				return err
			}
		} else if err == nil {
			im.lines++ // an empty line still counts, so line numbers match an editor's
		}
		if err == io.EOF {
			return im.flush(ctx)
		}
	}
}

// readLine reads one line without its newline; tooLong when it had to skip past
// maxImportLine bytes of it.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = br.ReadSlice('\n')
	}
	if tooLong {
		return nil, true, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), false, err
}

// add validates one line and queues it, writing the batch first when it is full or holds
// the same username or id already (rows of a batch are distinct).
func (im *importer) add(ctx context.Context, n int, line []byte) error {
	row, err := im.s.importRow(im.t, line, im.opt.Limits)
	if err != nil {
		im.fail(n, err.Error())
		if len(im.pending) >= importBatch {
			return im.flush(ctx)
		}
		return nil
	}
	row.Line = n
	if len(im.batch) >= importBatch || len(im.pending) >= importBatch || im.seen[row.Username] || im.ids[row.ID] {
		if err := im.flush(ctx); err != nil {
			return err
		}
	}
	im.batch = append(im.batch, row)
	im.seen[row.Username], im.ids[row.ID] = true, true
	return nil
}

func (im *importer) flush(ctx context.Context) error {
	var b db.ImportBatch
	if len(im.batch) > 0 {
		bctx, cancel := ctx, context.CancelFunc(func() {})
		if im.opt.BatchTimeout > 0 {
			bctx, cancel = context.WithTimeout(ctx, im.opt.BatchTimeout)
		}
		var err error
		b, err = im.s.store.ImportUsers(bctx, im.t.ID, im.batch, im.opt.OnConflict, im.opt.DryRun, im.s.Now())
		cancel()
		if err != nil {
			im.pending = im.pending[:0]
			return fmt.Errorf("import users: %w", err)
		}
	}
	im.sum.Imported += b.Imported
	im.sum.Updated += b.Updated
	im.sum.Skipped += b.Skipped
	for _, l := range b.TakenIDs {
		im.fail(l, "id belongs to another user")
	}
	im.settle(b.Conflict)
	im.batch = im.batch[:0]
	clear(im.seen)
	clear(im.ids)
	if im.opt.Progress != nil {
		im.opt.Progress(im.read, im.lines)
	}
	if b.Conflict != 0 {
		return &ImportConflictError{Line: b.Conflict}
	}
	return nil
}

// importRow validates one line into the row it writes.
func (s *Service) importRow(t db.Tenant, line []byte, lim legacy.Limits) (db.ImportRow, error) {
	var l ImportLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return db.ImportRow{}, fmt.Errorf("not a JSON object of a user: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return db.ImportRow{}, errors.New("data after the JSON object")
	}
	var row db.ImportRow
	var err error
	if row.Username, err = NormalizeUsername(l.Username); err != nil {
		return row, fmt.Errorf("username: %s", reasonOf(err))
	}
	row.ID = uuid.New()
	if l.ID != "" {
		if row.ID, err = uuid.Parse(l.ID); err != nil || row.ID == uuid.Nil {
			return row, errors.New("id: not a UUID")
		}
		row.KeepID = true
	}
	if l.Scope != nil {
		if row.Scopes, err = ParseScope(*l.Scope); err != nil {
			return row, errors.New("scope: not a space-separated list of scopes")
		}
		if row.Scopes == nil {
			row.Scopes = []string{}
		}
	}
	if l.TOTPSecret != "" {
		return row, errors.New("totp_secret: importing second factors is not supported yet")
	}
	if l.ExternalID != nil && (len(*l.ExternalID) > 256 || *l.ExternalID == "") {
		return row, errors.New("external_id: from 1 to 256 bytes")
	}
	row.Disabled, row.ExternalID, row.CreatedAt = l.Disabled, l.ExternalID, s.Now()
	if l.CreatedAt != nil {
		row.CreatedAt = *l.CreatedAt
	}
	if len(l.PasswordHash) > 0 && string(l.PasswordHash) != "null" {
		if row.PasswordHash, err = storedHash(l.PasswordHash, lim); err != nil {
			return row, fmt.Errorf("password_hash: %s", err)
		}
		row.HasHash = true
	}
	return row, nil
}

// storedHash checks an imported password_hash (a string, or a legacy.Object) and returns
// it as stored: the string itself, or the object's compact JSON.
func storedHash(raw json.RawMessage, lim legacy.Limits) (string, error) {
	var stored string
	if raw[0] == '{' {
		stored = string(raw)
	} else if err := json.Unmarshal(raw, &stored); err != nil {
		return "", errors.New("must be a string or an object")
	}
	if _, err := legacy.Parse(stored, lim); err != nil {
		return "", err
	}
	if raw[0] == '{' {
		var o legacy.Object
		_ = json.Unmarshal(raw, &o) // Parse accepted it
		stored = o.Canonical()
	}
	return stored, nil
}

func reasonOf(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}
