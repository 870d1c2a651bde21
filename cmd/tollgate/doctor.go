package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// Doctor verdicts, from fine to broken. Only fail makes `tollgate doctor` exit 1.
const (
	verdictOK   = "ok"
	verdictInfo = "info"
	verdictWarn = "warn"
	verdictFail = "FAIL"
)

// finding is one line of the doctor's report.
type finding struct {
	verdict, subject, detail string
}

// doctorRun collects findings; problems counts the failures.
type doctorRun struct {
	cfg      Config
	findings []finding
	problems int
	timeout  time.Duration
	client   *http.Client
}

func (d *doctorRun) add(verdict, subject, format string, args ...any) {
	d.findings = append(d.findings, finding{verdict, subject, fmt.Sprintf(format, args...)})
	if verdict == verdictFail {
		d.problems++
	}
}

// doctor runs `tollgate doctor`: it checks the configuration, the secret key, the
// database, the admin credential, every channel (with one real 1-token call), the
// price of every served model, open holds and the running gateway, prints one
// line per finding and exits 1 when something is broken.
func doctor(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	own := flag.NewFlagSet("tollgate doctor", flag.ContinueOnError)
	skipChannels := own.Bool("skip-channels", false, "do not call the channels' upstreams (each test call costs one output token)")
	timeout := own.Duration("timeout", 30*time.Second, "how long each channel's test call may take")
	cfg, rest, err := parseOps("doctor", "doctor [flags]", own, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(rest) > 0 {
		return opsUsageError(own, stderr, "unexpected argument %q", rest[0])
	}
	// The gateway's own upstream client, so a channel it may not reach fails here too.
	d := &doctorRun{cfg: cfg, timeout: *timeout, client: router.NewUpstreamClientFor(cfg.AllowPrivateUpstreams)}
	d.run(context.Background(), !*skipChannels)

	fmt.Fprintf(stdout, "%s\n\n", currentBuild())
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, f := range d.findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.verdict, f.subject, f.detail)
	}
	_ = tw.Flush() // stdout, as for the Fprintf calls above: nowhere else to report a failed write
	if d.problems > 0 {
		fmt.Fprintln(stdout)
		return fmt.Errorf("doctor found %d problem(s), marked FAIL above", d.problems)
	}
	fmt.Fprintln(stdout, "\nno problems found")
	return nil
}

func (d *doctorRun) run(ctx context.Context, callChannels bool) {
	if err := d.cfg.Validate(); err != nil {
		d.add(verdictFail, "config", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	d.add(verdictOK, "config", "valid")
	if !d.checkSecretKey() {
		return
	}
	st := d.openStore(ctx)
	if st == nil {
		d.checkGateway(ctx)
		return
	}
	defer st.Close()
	d.checkAdmin(ctx, st)
	d.checkChannels(ctx, st, callChannels)
	d.checkHolds(ctx, st)
	d.checkGateway(ctx)
}

// checkSecretKey makes sure the key that encrypts upstream API keys is there, and
// reports whether the store may be opened: without the key file a start would
// generate a new one, and every stored channel key would stop decrypting.
func (d *doctorRun) checkSecretKey() bool {
	if d.cfg.SecretKey != "" {
		d.add(verdictOK, "secret key", "from TOLLGATE_SECRET_KEY")
		return true
	}
	path := filepath.Join(d.cfg.DataDir, "secret.key")
	_, dbErr := os.Stat(d.cfg.DSN())
	key, err := existingSecretKey(d.cfg)
	switch {
	case err != nil:
		d.add(verdictFail, "secret key", "%v", err)
		return false
	case key == nil && dbErr == nil:
		d.add(verdictFail, "secret key", "%s is missing but the database exists: the gateway would generate a new key and no stored channel API key would decrypt; put the original file back (or set TOLLGATE_SECRET_KEY)", path)
		return false
	case key == nil:
		d.add(verdictInfo, "secret key", "%s does not exist yet; the first start generates it", path)
		return true
	}
	d.add(verdictOK, "secret key", "%s", path)
	return true
}

// openStore checks the database and opens it when that changes nothing: a SQLite
// file behind this binary's schema is reported, not migrated, because an older
// gateway may still be running on it.
func (d *doctorRun) openStore(ctx context.Context) *store.Store {
	where := "postgres"
	if d.cfg.DatabaseURL == "" {
		path := d.cfg.DSN()
		where = "sqlite " + path
		info, err := store.InspectSQLite(ctx, path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			d.add(verdictFail, "database", "no database at %s: start the gateway once (tollgate serve), or point --data-dir / TOLLGATE_DATA_DIR at the right directory", path)
			return nil
		case err != nil:
			d.add(verdictFail, "database", "%v", err)
			return nil
		case info.SchemaVersion < store.SchemaVersion():
			d.add(verdictWarn, "database", "%s is at schema version %d, this binary's is %d: the next `tollgate serve` (or `tollgate migrate`) applies the rest; the checks that need the store were skipped",
				path, info.SchemaVersion, store.SchemaVersion())
			return nil
		}
		where += fmt.Sprintf(" (%d tenants, %s)", info.Tenants, humanBytes(info.Bytes))
	}
	key, err := d.cfg.loadSecretKey()
	if err != nil {
		d.add(verdictFail, "database", "secret key: %v", err)
		return nil
	}
	openCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := store.Open(openCtx, store.Options{DSN: d.cfg.DSN(), SecretKey: key})
	if err != nil {
		d.add(verdictFail, "database", "%s: %v", where, err)
		return nil
	}
	if err := st.Ping(openCtx); err != nil {
		d.add(verdictFail, "database", "%s: %v", where, err)
		_ = st.Close() // the failure is already recorded above
		return nil
	}
	v, err := st.AppliedVersion(openCtx)
	if err != nil || v != store.SchemaVersion() {
		d.add(verdictFail, "database", "%s: schema version %d, want %d (%v)", where, v, store.SchemaVersion(), err)
		_ = st.Close() // the failure is already recorded above
		return nil
	}
	d.add(verdictOK, "database", "%s, schema version %d", where, v)
	return st
}

func (d *doctorRun) checkAdmin(ctx context.Context, st *store.Store) {
	if d.cfg.AdminToken != "" {
		d.add(verdictOK, "admin token", "from TOLLGATE_ADMIN_TOKEN")
		return
	}
	_, err := st.Setting(ctx, adminDigestSetting)
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.add(verdictWarn, "admin token", "none yet: the first `tollgate serve` prints one once (or set TOLLGATE_ADMIN_TOKEN)")
	case err != nil:
		d.add(verdictFail, "admin token", "%v", err)
	default:
		d.add(verdictOK, "admin token", "generated at the first start (only its digest is stored; TOLLGATE_ADMIN_TOKEN replaces it)")
	}
}

// checkChannels lists the channels and, for each enabled one, makes the smallest
// real call the gateway could make through it: one user message, one output token.
func (d *doctorRun) checkChannels(ctx context.Context, st *store.Store, call bool) {
	chs, err := st.ListChannels(ctx)
	if err != nil {
		d.add(verdictFail, "channels", "%v", err)
		return
	}
	enabled := 0
	for _, ch := range chs {
		if ch.Enabled {
			enabled++
		}
	}
	if enabled == 0 {
		d.add(verdictFail, "channels", "no enabled channel: every call will fail; add one (tollgate channel add --help, or POST /admin/api/v1/channels)")
		return
	}
	overrides, err := st.PriceOverrides(ctx)
	if err != nil {
		d.add(verdictFail, "prices", "%v", err)
		return
	}
	book := billing.NewPriceBook(billing.DefaultPrices(), overrides)
	for _, ch := range chs {
		subject := fmt.Sprintf("channel %q", ch.Name)
		if !ch.Enabled {
			d.add(verdictInfo, subject, "disabled, not checked")
			continue
		}
		for _, m := range ch.Models {
			if _, _, ok := book.Lookup(m); !ok {
				d.add(verdictWarn, subject, "model %s has no price, so calls to it are refused: set one (tollgate price set --model %s --input … --output …)", m, m)
			}
		}
		if !call {
			d.add(verdictInfo, subject, "%s %s: test call skipped (--skip-channels)", ch.Provider, ch.BaseURL)
			continue
		}
		d.callChannel(ctx, subject, ch)
	}
}

func (d *doctorRun) callChannel(ctx context.Context, subject string, ch store.Channel) {
	if len(ch.Models) == 0 {
		d.add(verdictFail, subject, "serves no model")
		return
	}
	model := ch.UpstreamModel(ch.Models[0])
	p, err := router.NewProvider(ch, d.client)
	if err != nil {
		d.add(verdictFail, subject, "%v", err)
		return
	}
	limit := "max_tokens" // what router sends; OpenAI itself wants its newer field
	if ch.Provider == "openai" {
		limit = "max_completion_tokens"
	}
	body, _ := json.Marshal(map[string]any{
		"model":    model,
		"messages": []map[string]string{{"role": "user", "content": "Reply with OK."}},
		limit:      1,
	})
	callCtx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	resp, err := p.Chat(callCtx, &providers.ChatRequest{Body: body, Model: model})
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		d.add(verdictFail, subject, "%s %s, model %s: %v (after %s)", ch.Provider, ch.BaseURL, model, err, took)
		return
	}
	d.add(verdictOK, subject, "%s %s, model %s answered %q in %s", ch.Provider, ch.BaseURL, model, answerText(resp.Body), took)
}

// answerText pulls the first choice's text out of a chat completion, shortened.
func answerText(body []byte) string {
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(body, &c) != nil || len(c.Choices) == 0 {
		return "(no text)"
	}
	text := strings.TrimSpace(c.Choices[0].Message.Content)
	if r := []rune(text); len(r) > 60 {
		text = string(r[:60]) + "…"
	}
	return text
}

func (d *doctorRun) checkHolds(ctx context.Context, st *store.Store) {
	n, total, err := st.OpenHolds(ctx)
	switch {
	case err != nil:
		d.add(verdictFail, "holds", "%v", err)
	case n == 0:
		d.add(verdictOK, "holds", "none open")
	default:
		d.add(verdictInfo, "holds", "%d open, %s USD held: calls in flight (holds of a crashed process are released when they expire; see GET /admin/api/v1/holds)", n, total)
	}
}

// checkGateway asks the gateway at the configured address whether it is ready.
func (d *doctorRun) checkGateway(ctx context.Context) {
	host, err := localAddr(d.cfg.Addr)
	if err != nil {
		d.add(verdictFail, "gateway", "%v", err)
		return
	}
	url := "http://" + host + "/readyz"
	reqCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		d.add(verdictWarn, "gateway", "not answering at %s (%v); start it with `tollgate serve` (or: systemctl start tollgate)", url, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		d.add(verdictFail, "gateway", "%s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
		return
	}
	d.add(verdictOK, "gateway", "%s: %s", url, strings.TrimSpace(string(body)))
}
