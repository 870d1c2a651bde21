package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is everything `tollgate serve` (and the store-facing subcommands) reads
// from flags and their TOLLGATE_* environment twins. A flag beats its variable.
type Config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	AdminToken      string
	SecretKey       string
	MaxBodyBytes    int64
	UpstreamTimeout time.Duration
	ShutdownGrace   time.Duration
	SweepInterval   time.Duration
	LogLevel        string
	LogFormat       string
	AccessLog       bool
	// LeanHTTP has the API's calls read by Tollgate's own HTTP/1.1 server (h1.Server);
	// false serves every request with Go's net/http, as before it existed.
	LeanHTTP bool
	// AllowPrivateUpstreams lets channels reach private, loopback and link-local
	// addresses (a local vLLM or Ollama); refused by default against SSRF.
	AllowPrivateUpstreams bool
	// UpstreamCAFile names a PEM file of certificate authorities trusted for upstream
	// channels besides the system's (an in-house vLLM behind a private CA).
	UpstreamCAFile string
	// RedisURL shares rate limits between gateway nodes; empty keeps them per process.
	RedisURL string
	// TrustedProxies lists the reverse proxies (addresses or CIDR ranges, comma-
	// separated) whose X-Forwarded-For names the client: for sign-in throttling and
	// the audit log. Empty trusts none, so a client cannot pick its own address.
	TrustedProxies string
	// Tenant self-service (cmd/tollgate/portal.go): the public address for links,
	// Stripe card top-ups, and low-balance alerts.
	PublicURL            string
	StripeSecretKey      string
	StripeWebhookSecret  string
	StripeAPIURL         string
	AlertInterval        time.Duration
	AllowPrivateWebhooks bool
}

// setting describes one flag with its environment twin, for parsing and for the
// help text and README table.
type setting struct {
	flag, env, usage string
	secret           bool // may also come from ${env}_FILE, and is never printed
}

var settings = []setting{
	{"addr", "TOLLGATE_ADDR", "address to listen on", false},
	{"data-dir", "TOLLGATE_DATA_DIR", "directory for the SQLite database and the generated secret key", false},
	{"database-url", "TOLLGATE_DATABASE_URL", "postgres://… to use PostgreSQL (default: SQLite file tollgate.db in the data directory)", true},
	{"admin-token", "TOLLGATE_ADMIN_TOKEN", "admin API bearer token (default: generated on first start, printed once, only its digest stored)", true},
	{"secret-key", "TOLLGATE_SECRET_KEY", "32-byte key (64 hex chars or base64) encrypting upstream API keys at rest (default: generated into <data-dir>/secret.key; required with PostgreSQL)", true},
	{"max-body-bytes", "TOLLGATE_MAX_BODY_BYTES", "largest accepted request body in bytes", false},
	{"upstream-timeout", "TOLLGATE_UPSTREAM_TIMEOUT", "longest one upstream call (streams included) may take", false},
	{"shutdown-grace", "TOLLGATE_SHUTDOWN_GRACE", "how long in-flight calls may run on after SIGTERM/SIGINT before they are cut and settled", false},
	{"sweep-interval", "TOLLGATE_SWEEP_INTERVAL", "how often expired holds (of crashed processes) are released", false},
	{"log-level", "TOLLGATE_LOG_LEVEL", "debug, info, warn or error", false},
	{"log-format", "TOLLGATE_LOG_FORMAT", "json or text", false},
	{"access-log", "TOLLGATE_ACCESS_LOG", "log one line per request", false},
	{"lean-http", "TOLLGATE_LEAN_HTTP", "read the API's calls (/v1) with Tollgate's own HTTP/1.1 server; false serves every request with Go's net/http", false},
	{"redis-url", "TOLLGATE_REDIS_URL", "redis://… to share rate limits between gateway nodes (default: per process)", true},
	{"trusted-proxies", "TOLLGATE_TRUSTED_PROXIES", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client (default: none)", false},
	{"allow-private-upstreams", "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS", "let channels reach private, loopback and link-local addresses (local vLLM/Ollama)", false},
	{"upstream-ca-file", "TOLLGATE_UPSTREAM_CA_FILE", "PEM file of certificate authorities trusted for upstream channels besides the system's", false},
	{"public-url", "TOLLGATE_PUBLIC_URL", "the gateway's address as browsers reach it (https://gw.example): tenant invite links and Stripe's return URLs", false},
	{"stripe-secret-key", "TOLLGATE_STRIPE_SECRET_KEY", "Stripe secret key (sk_…); with the webhook secret it turns on card top-ups in the tenant portal", true},
	{"stripe-webhook-secret", "TOLLGATE_STRIPE_WEBHOOK_SECRET", "signing secret (whsec_…) of the Stripe webhook endpoint <public-url>/portal/stripe/webhook", true},
	{"stripe-api-url", "TOLLGATE_STRIPE_API_URL", "Stripe API base URL (default: Stripe itself; a stripe-mock for testing)", false},
	{"alert-interval", "TOLLGATE_ALERT_INTERVAL", "how often balances are checked for low-balance alerts and due alerts sent", false},
	{"allow-private-webhooks", "TOLLGATE_ALLOW_PRIVATE_WEBHOOKS", "let low-balance alert URLs reach private, loopback and link-local addresses", false},
}

// defaultConfig is the configuration with nothing set.
func defaultConfig() Config {
	return Config{Addr: ":8080", DataDir: "./data", MaxBodyBytes: 16 << 20, UpstreamTimeout: 10 * time.Minute,
		ShutdownGrace: 30 * time.Second, SweepInterval: time.Minute, AlertInterval: 15 * time.Second, LogLevel: "info", LogFormat: "json", AccessLog: true, LeanHTTP: true}
}

// ParseFlags reads the configuration for a subcommand from args and the environment
// (getenv), apart from running anything, so tests can build configs cheaply.
func ParseFlags(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, []string, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "")
	fs.StringVar(&cfg.SecretKey, "secret-key", "", "")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", cfg.MaxBodyBytes, "")
	fs.DurationVar(&cfg.UpstreamTimeout, "upstream-timeout", cfg.UpstreamTimeout, "")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "")
	fs.BoolVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "")
	fs.BoolVar(&cfg.LeanHTTP, "lean-http", cfg.LeanHTTP, "")
	fs.BoolVar(&cfg.AllowPrivateUpstreams, "allow-private-upstreams", false, "")
	fs.StringVar(&cfg.UpstreamCAFile, "upstream-ca-file", "", "")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", "", "")
	portalFlags(fs, &cfg)
	fs.Usage = func() { printUsage(stderr, name) }

	// Environment first, so flags given on the command line win.
	for _, s := range settings {
		v, err := envValue(s, getenv)
		if err != nil {
			return cfg, nil, err
		}
		if v != "" {
			if err := fs.Set(s.flag, v); err != nil {
				return cfg, nil, fmt.Errorf("%s: %v", s.env, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	return cfg, fs.Args(), nil
}

// envValue reads a setting's variable, or for secrets the file ${VAR}_FILE names
// (the Docker/Kubernetes secrets convention).
func envValue(s setting, getenv func(string) string) (string, error) {
	v := getenv(s.env)
	if s.secret {
		if path := getenv(s.env + "_FILE"); path != "" {
			if v != "" {
				return "", fmt.Errorf("set %s or %s_FILE, not both", s.env, s.env)
			}
			b, err := os.ReadFile(path) // #nosec G304 -- the secret file the operator named in ${VAR}_FILE
			if err != nil {
				return "", fmt.Errorf("%s_FILE: %v", s.env, err)
			}
			v = strings.TrimSpace(string(b))
		}
	}
	return v, nil
}

func printUsage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: tollgate %s [flags]\n\nEvery flag has an environment twin; a flag given on the command line wins.\nSecrets may also be read from a file named by <VAR>_FILE.\n\n", name)
	d := defaultConfig()
	defaults := map[string]string{"addr": d.Addr, "data-dir": d.DataDir, "max-body-bytes": strconv.FormatInt(d.MaxBodyBytes, 10),
		"upstream-timeout": d.UpstreamTimeout.String(), "shutdown-grace": d.ShutdownGrace.String(), "sweep-interval": d.SweepInterval.String(),
		"log-level": d.LogLevel, "log-format": d.LogFormat, "access-log": strconv.FormatBool(d.AccessLog),
		"lean-http":               strconv.FormatBool(d.LeanHTTP),
		"allow-private-upstreams": "false", "alert-interval": d.AlertInterval.String(), "allow-private-webhooks": "false"}
	for _, s := range settings {
		def := ""
		if v := defaults[s.flag]; v != "" {
			def = " (default " + v + ")"
		}
		fmt.Fprintf(w, "  --%-24s %-33s %s%s\n", s.flag, s.env, s.usage, def)
	}
}

// Validate checks the configuration before anything starts, with messages that say
// which setting is wrong and how to fix it.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("TOLLGATE_ADDR / --addr must not be empty (e.g. :8080)"))
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("TOLLGATE_DATA_DIR / --data-dir must not be empty"))
	}
	if c.DatabaseURL != "" && !isPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("TOLLGATE_DATABASE_URL must be a postgres:// URL (leave it empty for SQLite in the data directory)"))
	}
	if isPostgresURL(c.DatabaseURL) && c.SecretKey == "" {
		errs = append(errs, errors.New("TOLLGATE_SECRET_KEY is required with PostgreSQL: every node must share the key that encrypts upstream API keys (generate one with: openssl rand -hex 32)"))
	}
	if c.SecretKey != "" {
		if _, err := decodeSecretKey(c.SecretKey); err != nil {
			errs = append(errs, err)
		}
	}
	if c.UpstreamCAFile != "" {
		if _, err := upstreamCAs(c.UpstreamCAFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("TOLLGATE_REDIS_URL must be a redis:// or rediss:// URL"))
	}
	if _, err := c.trustedProxies(); err != nil {
		errs = append(errs, err)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("TOLLGATE_ADMIN_TOKEN must be at least 16 characters"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("TOLLGATE_MAX_BODY_BYTES must be at least 1024"))
	}
	if c.UpstreamTimeout < time.Second {
		errs = append(errs, errors.New("TOLLGATE_UPSTREAM_TIMEOUT must be at least 1s"))
	}
	if c.ShutdownGrace < 0 || c.SweepInterval < time.Second {
		errs = append(errs, errors.New("TOLLGATE_SHUTDOWN_GRACE must not be negative and TOLLGATE_SWEEP_INTERVAL must be at least 1s"))
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		errs = append(errs, fmt.Errorf("TOLLGATE_LOG_LEVEL must be one of %s", strings.Join(sortedKeys(logLevels), ", ")))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("TOLLGATE_LOG_FORMAT must be json or text"))
	}
	errs = append(errs, c.validatePortal()...)
	return errors.Join(errs...)
}

// trustedProxies is TrustedProxies as a list, each entry checked: an IP address or
// a CIDR range.
func (c Config) trustedProxies() ([]string, error) {
	var list []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			if _, err := netip.ParsePrefix(p); err != nil {
				return nil, fmt.Errorf("TOLLGATE_TRUSTED_PROXIES: %q is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)", p)
			}
		}
		list = append(list, p)
	}
	return list, nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// DSN is what the store opens: the PostgreSQL URL, or the SQLite file in the data dir.
func (c Config) DSN() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "tollgate.db")
}

// decodeSecretKey accepts 64 hex characters or base64 of 32 bytes.
func decodeSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("TOLLGATE_SECRET_KEY must be 32 bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)")
}

// loadSecretKey returns the configured key, or the one kept in the data directory,
// creating it (mode 0600) on first start.
func (c Config) loadSecretKey() ([]byte, error) {
	if c.SecretKey != "" {
		return decodeSecretKey(c.SecretKey)
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- the key file in the operator's configured data directory
		key, err := decodeSecretKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the key file in the configured data directory; O_EXCL never overwrites
	if errors.Is(err, os.ErrExist) {
		return c.loadSecretKey() // another process created it first
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// upstreamCAs reads the PEM file of TOLLGATE_UPSTREAM_CA_FILE.
func upstreamCAs(path string) ([]byte, error) {
	pemCerts, err := os.ReadFile(path) // #nosec G304 -- a path the operator configured
	if err != nil {
		return nil, fmt.Errorf("TOLLGATE_UPSTREAM_CA_FILE: %v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pemCerts) {
		return nil, fmt.Errorf("TOLLGATE_UPSTREAM_CA_FILE: %s holds no PEM certificate", path)
	}
	return pemCerts, nil
}
