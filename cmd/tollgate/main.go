// Command tollgate runs the Tollgate gateway and administers its data.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-gw/tollgate/admin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/internal/h1"
	"github.com/tollgate-gw/tollgate/metrics"
	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// Build information, set by the release build with -ldflags -X.
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `Tollgate — an OpenAI-compatible LLM gateway with prepaid, per-token billing.

Usage: tollgate <command> [flags]

Commands:
  serve                       run the gateway (see: tollgate serve --help)
  migrate                     apply database migrations and exit
  tenant create|list          manage tenants
  topup                       credit a tenant's wallet
  key create|list|revoke|update  manage a tenant's API keys
  channel add|list            manage upstream channels
  price set|list              manage the price book
  secret rotate               re-encrypt upstream API keys under a new secret key
  admin create|passwd|delete|list   manage dashboard users (the first one may also come from the admin token)
  version                     print version, commit and build date
  backup <file>               copy the SQLite database consistently, while it serves
  restore <file>              put a backup in place (gateway stopped; keeps tollgate.db.bak)
  doctor                      check config, database, channels (1-token test calls), holds
  healthcheck [--ready]       exit 0 if the local gateway answers /healthz (or /readyz)

Store commands take the same --data-dir / --database-url / --secret-key flags
(and TOLLGATE_* variables) as serve.
`

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(rest, getenv, stdout, stderr)
	case "version", "--version":
		printVersion(stdout)
	case "backup":
		err = backupCmd(rest, getenv, stdout, stderr)
	case "restore":
		err = restoreCmd(rest, getenv, stdout, stderr)
	case "doctor":
		err = doctor(rest, getenv, stdout, stderr)
	case "healthcheck":
		err = healthcheck(rest, getenv, stdout, stderr)
	case "admin":
		err = adminCmd(rest, getenv, stdout, stderr)
	default:
		err = runCLI(cmd, rest, getenv, stdout, stderr)
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate: %v\n", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func serve(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := ParseFlags("serve", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	tuneGC(getenv)
	m := &Main{Config: cfg, Out: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Open(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	m.Logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	return m.Close()
}

// Main is one running gateway: config in, store, gateway and server out. Tests build
// it with Addr ":0" and a temp data dir, which makes end-to-end tests cheap.
type Main struct {
	Config  Config
	Out     io.Writer // where the one-time admin token is printed
	Logger  *slog.Logger
	Store   *store.Store
	Gateway *router.Gateway
	Server  *http.Server  // serves what the front server leaves to net/http
	Outbox  *store.Outbox // settlements waiting for the store
	Metrics *metrics.Metrics

	redis  *redis.Client // shared rate limits, when configured
	portal *portalParts  // tenant self-service (portal.go)

	front      *h1.Server // reads the API's calls itself
	listener   net.Listener
	baseCtx    context.Context
	cancelBase context.CancelFunc
	stopSweep  context.CancelFunc
	sweepDone  chan struct{}
}

// Open validates the config, opens and migrates the store, ensures an admin
// credential, and starts serving.
func (m *Main) Open(ctx context.Context) error {
	if err := m.Config.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if m.Out == nil {
		m.Out = os.Stderr
	}
	if m.Logger == nil {
		m.Logger = newLogger(m.Config, m.Out)
	}
	st, err := openStore(ctx, m.Config)
	if err != nil {
		return err
	}
	m.Store = st
	go billing.CountTokens("gpt-4o", "warm") // load the tokenizer now, not on the first call that needs it
	authorize, err := m.adminCredential(ctx)
	if err != nil {
		_ = st.Close() // start-up failed: report its error, not the close's
		return err
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		_ = st.Close()
		return err
	}
	m.Metrics = metrics.New()
	limiter, err := m.openLimiter()
	if err != nil {
		_ = st.Close()
		return err
	}
	m.Outbox, err = store.OpenOutbox(filepath.Join(m.Config.DataDir, "outbox.jsonl"))
	if err != nil {
		_ = st.Close()
		return fmt.Errorf("outbox: %w", err)
	}
	st.UseOutbox(m.Outbox)
	upstream := router.NewUpstreamClientFor(m.Config.AllowPrivateUpstreams)
	if m.Config.UpstreamCAFile != "" {
		pemCerts, err := upstreamCAs(m.Config.UpstreamCAFile)
		if err == nil {
			err = router.TrustUpstreamCAs(upstream, pemCerts)
		}
		if err != nil {
			_ = st.Close()
			return err
		}
	}
	gw, err := router.New(ctx, router.Config{MaxBodyBytes: m.Config.MaxBodyBytes, UpstreamTimeout: m.Config.UpstreamTimeout,
		Logger: m.Logger, Outbox: m.Outbox, AllowPrivateUpstreams: m.Config.AllowPrivateUpstreams, Metrics: m.Metrics, Limiter: limiter,
		HTTPClient: upstream, AccessLog: m.Config.AccessLog}, st)
	if err != nil {
		_ = st.Close()
		return err
	}
	m.Gateway = gw

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// gin trusts X-Forwarded-For from anyone by default; only the operator's proxies.
	proxies, err := m.Config.trustedProxies()
	if err == nil {
		err = e.SetTrustedProxies(proxies)
	}
	if err != nil {
		_ = st.Close()
		return err
	}
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(router.RequestID, requestContext, logRequestErrors(m.Logger), router.Recover(m.Logger))
	if m.Config.AccessLog {
		e.Use(accessLog(m.Logger))
	}
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", m.ready)
	e.GET("/metrics", bearerOnly(authorize), gin.WrapH(m.Metrics.Handler()))
	// Go's profiler, for the operator (and the load benchmark) to see where time goes.
	e.GET("/debug/pprof/*profile", bearerOnly(authorize), gin.WrapF(profile))
	gw.Register(e)
	admin.New(st, gw, authorize).AllowPrivateUpstreams(m.Config.AllowPrivateUpstreams).
		PublicURL(m.Config.PublicURL).AllowPrivateWebhooks(m.Config.AllowPrivateWebhooks).Register(e)
	admin.NewUI(st, gw, authorize).AllowPrivateUpstreams(m.Config.AllowPrivateUpstreams).PublicURL(m.Config.PublicURL).Register(e)
	if err := m.openPortal(e); err != nil {
		_ = st.Close()
		return err
	}
	e.NoRoute(router.NotFound)
	e.NoMethod(router.MethodNotAllowed)

	m.baseCtx, m.cancelBase = context.WithCancel(context.Background())
	errorLog := slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)
	m.Server = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		// No answer, streams included, may outlive the longest upstream call.
		WriteTimeout: m.Config.UpstreamTimeout + time.Minute,
		IdleTimeout:  2 * time.Minute,
		BaseContext:  func(net.Listener) context.Context { return m.baseCtx },
		ErrorLog:     errorLog,
	}
	// The API's calls are read by h1.Server, everything else by net/http (m.Server).
	// Without a hang-up watch (--lean-http=false, or no epoll) every connection goes to net/http.
	watch := router.WatchHangUp()
	if !m.Config.LeanHTTP {
		watch = nil
	}
	m.front = &h1.Server{Handler: e, Serves: router.ServedLean, Fallback: m.Server, WatchHangUp: watch,
		ReadHeaderTimeout: m.Server.ReadHeaderTimeout, ReadTimeout: m.Server.ReadTimeout,
		WriteTimeout: m.Server.WriteTimeout, IdleTimeout: m.Server.IdleTimeout,
		BaseContext: m.baseCtx, ErrorLog: errorLog}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		m.closePortal()
		_ = st.Close()
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	// Streams that detached from their handler hand their connection back here.
	gw.HandBackTo(m.front.Return)
	m.listener = ln
	m.startSweeper()
	go gw.Watch(m.baseCtx, router.ConfigPollInterval)
	go func() {
		if err := m.front.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("server stopped", "error", err)
		}
	}()
	m.Logger.Info("tollgate listening", "addr", ln.Addr().String(), "store", st.Dialect(), "version", currentBuild().Version)
	return nil
}

// URL is the base URL the server listens on.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Close shuts down gracefully: it stops accepting, lets calls in flight finish for
// the grace period, then cuts the rest (they settle what they produced) and closes
// the store only after every call has settled.
func (m *Main) Close() error {
	graceCtx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
	defer cancel()
	err := m.front.Shutdown(graceCtx)
	if err == nil {
		err = m.Gateway.Wait(graceCtx) // streams that detached from the server
	}
	if err != nil {
		m.Logger.Warn("grace period over; cutting the calls still running", "error", err)
	}
	m.cancelBase()
	m.Gateway.CutStreams()
	settleCtx, cancelSettle := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelSettle()
	if werr := m.Gateway.Wait(settleCtx); werr != nil {
		m.Logger.Error("calls still unsettled at exit; their holds expire and are swept on the next start", "error", werr)
	}
	_ = m.front.Close() // after Shutdown: only cuts what outlived the grace period
	m.stopSweep()
	<-m.sweepDone
	m.closePortal()
	if m.redis != nil {
		_ = m.redis.Close() // a shared rate-limit client; closing it has nothing to save
	}
	return m.Store.Close()
}

func (m *Main) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := m.Store.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "store unreachable"})
		return
	}
	v, err := m.Store.AppliedVersion(ctx)
	if err != nil || v != store.SchemaVersion() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "migrations not applied"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "schema_version": v})
}

// startSweeper settles what the outbox holds, then releases expired holds (a crash
// may have left some), and repeats: the outbox every few seconds, the rest at the
// sweep interval. A settlement whose hold was swept meanwhile is still billed once
// (store.SettleLate).
func (m *Main) startSweeper() {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopSweep, m.sweepDone = cancel, make(chan struct{})
	go func() {
		defer close(m.sweepDone)
		outboxTick := time.NewTicker(2 * time.Second)
		defer outboxTick.Stop()
		sweepTick := time.NewTicker(m.Config.SweepInterval)
		defer sweepTick.Stop()
		sweep := true
		for {
			if m.Outbox.Len() > 0 {
				if n, err := m.Store.DrainOutbox(ctx, m.Outbox); n > 0 {
					m.Logger.Info("settled calls from the outbox", "count", n, "waiting", m.Outbox.Len())
				} else if err != nil && ctx.Err() == nil {
					m.Logger.Warn("outbox still waiting for the store", "waiting", m.Outbox.Len(), "error", err)
				}
			}
			if sweep {
				if n, err := m.Store.SweepExpiredHolds(ctx, time.Now()); err != nil && ctx.Err() == nil {
					m.Logger.Error("sweeping expired holds", "error", err)
				} else if n > 0 {
					m.Logger.Warn("released expired holds", "count", n)
				}
				if _, err := m.Store.SweepIdempotencyKeys(ctx, time.Now()); err != nil && ctx.Err() == nil {
					m.Logger.Error("sweeping idempotency keys", "error", err)
				}
				if n, total, err := m.Store.OpenHolds(ctx); err == nil {
					m.Metrics.SetHoldsOutstanding(n, int64(total))
				}
			}
			sweep = false
			select {
			case <-ctx.Done():
				return
			case <-outboxTick.C:
			case <-sweepTick.C:
				sweep = true
			}
		}
	}()
}

func openStore(ctx context.Context, cfg Config) (*store.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	key, err := cfg.loadSecretKey()
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return store.Open(ctx, store.Options{DSN: cfg.DSN(), SecretKey: key})
}

const adminDigestSetting = "admin_token_sha256"

// adminCredential returns the admin API's check. TOLLGATE_ADMIN_TOKEN wins; without
// it the first start generates a token, prints it once, and stores only its digest.
func (m *Main) adminCredential(ctx context.Context) (func(string) bool, error) {
	var digest []byte
	if m.Config.AdminToken != "" {
		d := sha256.Sum256([]byte(m.Config.AdminToken))
		digest = d[:]
	} else {
		stored, err := m.Store.Setting(ctx, adminDigestSetting)
		if errors.Is(err, store.ErrNotFound) {
			token := newAdminToken()
			d := sha256.Sum256([]byte(token))
			created, err := m.Store.SetSettingOnce(ctx, adminDigestSetting, hex.EncodeToString(d[:]))
			if err != nil {
				return nil, err
			}
			if created {
				fmt.Fprintf(m.Out, "\n  Tollgate admin token (shown once; only its digest is stored):\n\n      %s\n\n  Use it as 'Authorization: Bearer <token>' on /admin/api/v1.\n\n", token)
			}
			stored, err = m.Store.Setting(ctx, adminDigestSetting)
			if err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		if digest, err = hex.DecodeString(stored); err != nil {
			return nil, fmt.Errorf("stored admin token digest is corrupt: %w", err)
		}
	}
	return func(token string) bool {
		d := sha256.Sum256([]byte(token))
		return subtle.ConstantTimeCompare(d[:], digest) == 1
	}, nil
}

// openLimiter picks the rate limiter: Redis shared by every node when
// TOLLGATE_REDIS_URL is set (short timeouts: a slow Redis must not stall calls, and
// its errors admit calls, since holds still bound spend), else per process.
func (m *Main) openLimiter() (ratelimit.Limiter, error) {
	if m.Config.RedisURL == "" {
		return ratelimit.NewMemory(), nil
	}
	opts, err := redis.ParseURL(m.Config.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("TOLLGATE_REDIS_URL: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 200*time.Millisecond, 200*time.Millisecond
	m.redis = redis.NewClient(opts)
	return ratelimit.NewRedis(m.redis, "tollgate:"), nil
}

// profile serves net/http/pprof's pages under /debug/pprof/.
func profile(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r) // the index and the named profiles (heap, goroutine, ...)
	}
}

// bearerOnly guards an endpoint with the admin token (Prometheus sends it with
// bearer_token / authorization in its scrape config).
func bearerOnly(authorize func(string) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || !authorize(strings.TrimSpace(token)) {
			c.Header("WWW-Authenticate", `Bearer realm="tollgate-metrics"`)
			router.WriteError(c, router.APIError(router.ErrUnauthorized, "", "GET %s needs the admin token as 'Authorization: Bearer <token>'.", c.Request.URL.Path))
			return
		}
		c.Next()
	}
}

func newAdminToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "tga-" + hex.EncodeToString(b)
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevels[cfg.LogLevel]}
	if cfg.LogFormat == "text" {
		return slog.New(requestIDHandler{slog.NewTextHandler(w, opts)})
	}
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, opts)})
}

// accessLog writes one structured line per request, with its id; never the query
// string or headers, where secrets could hide.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		path := c.Request.URL.Path
		if strings.HasPrefix(path, "/healthz") || strings.HasPrefix(path, "/readyz") || router.Detached(c) {
			return // a detached stream logs its own line when it ends
		}
		log.Info("request", "request_id", router.RequestIDOf(c), "method", c.Request.Method, "path", path,
			"status", c.Writer.Status(), "duration_ms", time.Since(start).Milliseconds(), "bytes", c.Writer.Size())
	}
}
