package main

// The ceilings: what the hardware, PostgreSQL and Gin allow for the same work with none of
// jeton's rules. The naive handler and the writes handler are HTTP servers run in a child
// process (`jeton-bench ceiling --kind ...`), like jeton; the argon2id rate is measured in
// a child process too, so neither shares a heap or scheduler with the load generator.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/pgcluster"
	"github.com/jeton-auth/jeton/tokens"
	"golang.org/x/crypto/argon2"
)

// ceiling is the child process's entry point.
func ceiling(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jeton-bench ceiling", flag.ContinueOnError)
	kind := fs.String("kind", "", "naive, writes or argon2")
	addr := fs.String("addr", "127.0.0.1:0", "listen address (naive, writes)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (naive, writes)")
	pool := fs.Int("pool", 4, "database connections, as many as jeton uses")
	tenant := fs.String("tenant", "", "tenant id of the writes handler's token and event")
	client := fs.String("client", "", "client_id of the writes handler's token and event")
	d := fs.Duration("duration", 10*time.Second, "argon2: how long to hash")
	mem := fs.Uint("memory", 19456, "argon2: memory in KiB")
	iter := fs.Uint("time", 2, "argon2: iterations")
	threads := fs.Uint("threads", 1, "argon2: parallelism")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kind == "argon2" {
		n, el := argon2Rate(ctx, *d, uint32(*mem), uint32(*iter), uint8(*threads))
		return json.NewEncoder(stdout).Encode(map[string]any{"hashes": n, "seconds": el.Seconds(), "goroutines": runtime.NumCPU()})
	}
	cfg, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*pool)
	cfg.ConnConfig.RuntimeParams["application_name"] = "jeton-bench-ceiling"
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusOK) })
	switch *kind {
	case "naive":
		e.POST("/introspect", naiveIntrospect(db))
	case "writes":
		tid, err := uuid.Parse(*tenant)
		if err != nil {
			return fmt.Errorf("--tenant: %w", err)
		}
		e.POST("/token", issueWrites(db, tid, *client))
	default:
		return fmt.Errorf("unknown --kind %q", *kind)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// naiveQuery is the naive handler's one primary-key lookup.
const naiveQuery = `SELECT id, kind, tenant_id, client_id, user_id, session_id, scope, issued_at, expires_at,
		revoked_at, tenant_epoch, client_epoch, user_epoch FROM tokens WHERE hash = $1`

// naiveIntrospect is the naive handler jeton's introspection is held against: no client
// authentication, one pgx primary-key lookup per request.
func naiveIntrospect(db *pgxpool.Pool) gin.HandlerFunc {
	const q = naiveQuery
	return func(c *gin.Context) {
		tok := c.PostForm("token")
		h := sha256.Sum256([]byte(tok))
		var (
			id              uuid.UUID
			kind            byte
			tenant          uuid.UUID
			client, scope   string
			user, session   *uuid.UUID
			issued, expires time.Time
			revoked         *time.Time
			tEpoch, cEpoch  int64
			uEpoch          *int64
		)
		err := db.QueryRow(c, q, h[:]).Scan(&id, &kind, &tenant, &client, &user, &session, &scope, &issued,
			&expires, &revoked, &tEpoch, &cEpoch, &uEpoch)
		if err != nil {
			c.JSON(http.StatusOK, gin.H{"active": false})
			return
		}
		active := kind == 'a' && revoked == nil && expires.After(time.Now())
		if !active {
			c.JSON(http.StatusOK, gin.H{"active": false})
			return
		}
		c.JSON(http.StatusOK, gin.H{"active": true, "scope": scope, "client_id": client, "token_type": "Bearer",
			"exp": expires.Unix(), "iat": issued.Unix(), "jti": id.String(), "tenant": tenant.String()})
	}
}

// issueWrites does the writes of client_credentials issuance with nothing else: a new
// token and its event, in one statement.
func issueWrites(db *pgxpool.Pool, tenant uuid.UUID, client string) gin.HandlerFunc {
	const q = `WITH a AS (
	INSERT INTO tokens (hash, id, kind, tenant_id, client_id, scope, issued_at, expires_at, tenant_epoch, client_epoch)
	VALUES ($1, $2, 'a', $3, $4, 'read write', $5, $6, 1, 1) RETURNING 1
), e AS (
	INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name, subject_type, subject_id,
		client_id, client_ip, request_id, detail)
	SELECT $3, $5, 'token_issued', 'client', $4, 'batch', 'token', $2::uuid::text, $4, $7, $8, $9 FROM a
)
SELECT count(*) FROM a`
	return func(c *gin.Context) {
		tok, err := tokens.New(tokens.Access, rand.Reader)
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		h := sha256.Sum256([]byte(tok))
		id := uuid.New()
		now := time.Now().UTC()
		var reqID [12]byte
		_, _ = rand.Read(reqID[:])
		detail := map[string]any{"grant_type": "client_credentials", "scope": "read write"}
		var n int
		if err := db.QueryRow(c, q, h[:], id, tenant, client, now, now.Add(15*time.Minute), c.ClientIP(),
			fmt.Sprintf("%x", reqID), detail).Scan(&n); err != nil || n != 1 {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "server_error"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": tok, "token_type": "Bearer", "expires_in": 900, "scope": "read write"})
	}
}

// argon2Rate hashes with runtime.NumCPU() goroutines for d and returns how many hashes
// completed and the time they took.
func argon2Rate(ctx context.Context, d time.Duration, mem, iter uint32, threads uint8) (int64, time.Duration) {
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	var last atomic.Int64
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, 16)
			for ctx.Err() == nil && time.Now().Before(stop) {
				_, _ = rand.Read(salt)
				argon2.IDKey([]byte("a benchmark password of some length"), salt, iter, mem, threads, 32)
				n.Add(1)
				last.Store(int64(time.Since(start)))
			}
		}()
	}
	wg.Wait()
	return n.Load(), time.Duration(last.Load())
}

// startCeiling runs `jeton-bench ceiling --kind kind args...` and waits until it serves.
func (b *bench) startCeiling(ctx context.Context, kind string, args ...string) (*proc, error) {
	self, err := osExecutable()
	if err != nil {
		return nil, err
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	b.seq++
	logPath := filepath.Join(b.tmp, fmt.Sprintf("%02d-ceiling-%s.log", b.seq, kind))
	all := append([]string{"ceiling", "--kind", kind, "--addr", addr, "--database-url", b.dbURL,
		"--pool", strconv.Itoa(b.jetonPool())}, args...)
	return startProc(ctx, "ceiling "+kind, self, all, nil, "http://"+addr, "/healthz", logPath)
}

// argon2Ceiling measures the raw argon2id rate with jeton's parameters in a child process.
func (b *bench) argon2Ceiling(ctx context.Context, mem, iter uint32, threads uint8) (float64, error) {
	self, err := osExecutable()
	if err != nil {
		return 0, err
	}
	out, err := execCommandOutput(ctx, self, "ceiling", "--kind", "argon2", "--duration", b.cfg.duration.String(),
		"--memory", strconv.Itoa(int(mem)), "--time", strconv.Itoa(int(iter)), "--threads", strconv.Itoa(int(threads)))
	if err != nil {
		return 0, fmt.Errorf("argon2 ceiling: %w: %s", err, out)
	}
	var r struct {
		Hashes  int64   `json:"hashes"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Seconds <= 0 {
		return 0, fmt.Errorf("argon2 ceiling: %q", out)
	}
	return float64(r.Hashes) / r.Seconds, nil
}
