package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// DefaultImportMaxBytes bounds an import's body when Config.ImportMaxBytes is 0. The body
// is streamed in batches, so the bound is on the work one request may ask for, not memory.
const DefaultImportMaxBytes = 1 << 30

// streamIdle is how long an import or export may go without a byte moving before the
// connection is cut: they take as long as their data, past the server's ReadTimeout and
// WriteTimeout, but a stalled client does not hold a connection forever.
const streamIdle = time.Minute

// bulkRoutes registers the user import and export, which stream and so are not held to
// the admin timeout (each batch is, inside the service).
func (s *Server) bulkRoutes(e *gin.Engine) {
	t := e.Group("/admin/v1/tenants/:slug", noStore)
	t.POST("/users/import", s.admin(s.importUsers))
	t.GET("/users/export", s.admin(s.exportUsers))
}

// importProblem is the problem of an import that stopped (a conflict under
// on_conflict=fail, a body over the limit) with the summary of what it did before.
type importProblem struct {
	*problem
	service.ImportSummary
}

// POST /admin/v1/tenants/{slug}/users/import?on_conflict=fail|skip|update&dry_run=true
func (s *Server) importUsers(c *gin.Context, a service.Admin) {
	// The tenant first: a key that does not reach it learns nothing from the body's checks.
	if _, err := a.Tenant(c, c.Param("slug")); err != nil {
		s.problem(c, err)
		return
	}
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/x-ndjson" {
		s.problem(c, problemOf("unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type",
			"send the users as application/x-ndjson, one JSON object a line"))
		return
	}
	opt := service.ImportOptions{OnConflict: c.Query("on_conflict"), BatchTimeout: s.adminTimeout()}
	var err error
	if opt.DryRun, err = queryBool(c, "dry_run"); err != nil {
		s.problem(c, err)
		return
	}
	limit := s.cfg.ImportMaxBytes
	if limit <= 0 {
		limit = DefaultImportMaxBytes
	}
	body := &idleReader{r: http.MaxBytesReader(c.Writer, c.Request.Body, limit), rc: http.NewResponseController(c.Writer)}
	sum, err := a.ImportUsers(c, c.Param("slug"), body, opt)
	var conflict *service.ImportConflictError
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		_ = body.rc.SetWriteDeadline(time.Now().Add(streamIdle))
		c.JSON(http.StatusOK, sum)
	case errors.As(err, &conflict):
		p := problemOf("conflict", http.StatusConflict, "Conflict", conflict.Error()+"; the lines before it were imported")
		s.writeImportProblem(c, importProblem{p, sum})
	case errors.As(err, &tooLarge):
		p := problemOf("body-too-large", http.StatusRequestEntityTooLarge, "Request body too large",
			"the import is larger than the limit; the lines before it were imported")
		s.writeImportProblem(c, importProblem{p, sum})
	default:
		s.problem(c, err)
	}
}

func (s *Server) writeImportProblem(c *gin.Context, p importProblem) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(streamIdle))
	body, _ := json.Marshal(p)
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}

// idleReader moves the connection's read deadline forward as the body arrives, at most
// once a second.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	last atomic.Int64
}

func (r *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Unix() != r.last.Load() {
		r.last.Store(now.Unix())
		_ = r.rc.SetReadDeadline(now.Add(streamIdle))
	}
	return r.r.Read(p)
}

// GET /admin/v1/tenants/{slug}/users/export?include_secrets=true
func (s *Server) exportUsers(c *gin.Context, a service.Admin) {
	opt := service.ExportOptions{PageTimeout: s.adminTimeout()}
	var err error
	if opt.IncludeSecrets, err = queryBool(c, "include_secrets"); err != nil {
		s.problem(c, err)
		return
	}
	rc := http.NewResponseController(c.Writer)
	bw := bufio.NewWriterSize(c.Writer, 64<<10)
	enc := json.NewEncoder(bw)
	started, n := false, 0
	err = a.ExportUsers(c, c.Param("slug"), opt, func(l service.ImportLine) error {
		if !started {
			started = true
			c.Header("Content-Type", "application/x-ndjson")
			c.Status(http.StatusOK)
		}
		if n++; n%1000 == 1 {
			_ = rc.SetWriteDeadline(time.Now().Add(streamIdle))
		}
		return enc.Encode(l)
	})
	if err == nil {
		if !started {
			c.Header("Content-Type", "application/x-ndjson")
			c.Status(http.StatusOK)
		}
		err = bw.Flush()
	}
	switch {
	case err == nil:
	case !started:
		s.problem(c, err)
	default:
		// The answer has begun: cut the connection, so that a client cannot take a
		// truncated export for a whole one.
		s.log.ErrorContext(c, "export failed midway", slog.String("request_id", requestID(c)), slog.Any("err", err))
		panic(http.ErrAbortHandler)
	}
}

// queryBool reads a true/false query parameter; absent is false.
func queryBool(c *gin.Context, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, invalidField(name, "must be true or false")
}
