package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// runCLI runs the store-facing subcommands. They open the same database as serve
// (SQLite in WAL mode tolerates a second process), so operators can script
// against a running gateway. Create commands print the one value a script needs.
func runCLI(cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub := ""
	if cmd != "topup" && cmd != "migrate" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "tollgate %s: missing subcommand\n\n%s", cmd, usage)
			return errUsage
		}
		sub, args = args[0], args[1:]
	}
	name := strings.TrimSpace(cmd + " " + sub)
	cfg, rest, err := parseWith(name, args, getenv, stderr, cliFlags[name])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg.Config)
	if err != nil {
		return err
	}
	defer st.Close()
	cli := &cli{st: st, out: stdout, v: cfg.values, args: rest}
	err = cli.dispatch(ctx, name, cfg.Config)
	if err == nil && name != "migrate" && !strings.HasSuffix(name, " list") {
		cli.audit(ctx, name)
	}
	if errors.Is(err, errUnknownCommand) {
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n%s", name, usage)
		return errUsage
	}
	return err
}

var errUnknownCommand = errors.New("unknown command")

// audit records a change made from the command line, flag values redacted where
// they are secrets.
func (c *cli) audit(ctx context.Context, name string) {
	detail := map[string]string{}
	for k, v := range c.v {
		if v == nil || *v == "" {
			continue
		}
		if k == "api-key" || k == "new-secret-key" {
			detail[k] = "[redacted]"
		} else {
			detail[k] = *v
		}
	}
	if len(c.args) > 0 {
		detail["args"] = strings.Join(c.args, " ")
	}
	_ = c.st.Audit(ctx, store.AuditEntry{Actor: "cli", Action: name, Detail: detail})
}

func (c *cli) dispatch(ctx context.Context, name string, cfg Config) error {
	cli := c
	switch name {
	case "migrate":
		v, err := c.st.AppliedVersion(ctx)
		if err == nil {
			fmt.Fprintf(c.out, "schema at version %d\n", v)
		}
		return err
	case "tenant create":
		return cli.tenantCreate(ctx)
	case "tenant list":
		return cli.tenantList(ctx)
	case "topup":
		return cli.topup(ctx)
	case "key create":
		return cli.keyCreate(ctx)
	case "key list":
		return cli.keyList(ctx)
	case "key revoke":
		return cli.keyRevoke(ctx)
	case "key update":
		return cli.keyUpdate(ctx)
	case "channel add":
		return cli.channelAdd(ctx)
	case "channel list":
		return cli.channelList(ctx)
	case "price set":
		return cli.priceSet(ctx)
	case "price list":
		return cli.priceList(ctx)
	case "secret rotate":
		return cli.secretRotate(ctx, cfg)
	}
	return errUnknownCommand
}

// cliFlags are each command's own flags, beside the shared store flags.
var cliFlags = map[string][]string{
	"tenant create": {"name"},
	"topup":         {"tenant", "amount", "note", "idempotency-key"},
	"key create":    {"tenant", "name", "models", "budget", "expires"},
	"key list":      {"tenant"},
	"key revoke":    {"id"},
	"key update":    {"id", "budget", "models", "expires"},
	"channel add":   {"name", "provider", "base-url", "api-key", "models", "model-map", "priority", "weight"},
	"price set":     {"model", "input", "output", "cached-input", "cache-write", "context-window", "max-output"},
	"secret rotate": {"new-secret-key"},
}

type cliConfig struct {
	Config
	values map[string]*string
}

// parseWith parses a command's own string flags, the shared store flags and its
// positional arguments, in any order (parseOps): a flag after an argument once
// went unread, and `tenant create acme --data-dir /srv` created the tenant in
// ./data. A command takes at most the arguments cliArgs names.
func parseWith(name string, args []string, getenv func(string) string, stderr io.Writer, own []string) (cliConfig, []string, error) {
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	values := map[string]*string{}
	for _, f := range own {
		values[f] = fs.String(f, "", cliFlagUsage[f])
	}
	allowed := cliArgs[name]
	synopsis := name + " [flags]"
	if allowed != "" {
		synopsis += " [" + allowed + "]"
	}
	cfg, rest, err := parseOps(name, synopsis, fs, args, getenv, stderr)
	if err != nil {
		return cliConfig{}, nil, err
	}
	most := 0
	if allowed != "" {
		most = 1
	}
	if len(rest) > most {
		return cliConfig{}, nil, opsUsageError(fs, stderr, "unexpected argument %q", rest[most])
	}
	return cliConfig{Config: cfg, values: values}, rest, nil
}

// cliFlagUsage explains the commands' own flags in their usage.
var cliFlagUsage = map[string]string{
	"name":            "name of the tenant, key or channel",
	"tenant":          "tenant id (ten_…)",
	"amount":          "amount in USD, e.g. 12.50",
	"note":            "note kept in the ledger",
	"idempotency-key": "a repeated top-up with the same key credits once",
	"models":          "comma-separated model names (key update: all allows every model)",
	"budget":          "the key's spending limit in USD (key update: none removes it)",
	"expires":         "expiry: RFC 3339 time (2027-01-01T00:00:00Z) or a duration (720h); key update: never removes it",
	"id":              "id of the key (key_…)",
	"provider":        "upstream provider (openai, anthropic, gemini, …)",
	"base-url":        "the upstream's API base URL",
	"api-key":         "the upstream's API key (stored encrypted)",
	"model-map":       "JSON object of model names: {\"gpt-4o\":\"my-deployment\"}",
	"priority":        "higher is tried first",
	"weight":          "share of traffic among channels of one priority",
	"model":           "model name",
	"input":           "USD per million input tokens",
	"output":          "USD per million output tokens",
	"cached-input":    "USD per million cached input tokens",
	"cache-write":     "USD per million cache-write tokens",
	"context-window":  "the model's context window, in tokens",
	"max-output":      "the model's output limit, in tokens",
	"new-secret-key":  "the new secret key: 32 bytes as 64 hex characters or base64",
}

// cliArgs names the one positional argument a command takes instead of a flag.
var cliArgs = map[string]string{
	"tenant create": "name",
	"key revoke":    "id",
	"key update":    "id",
}

type cli struct {
	st   *store.Store
	out  io.Writer
	v    map[string]*string
	args []string
}

func (c *cli) get(name string) string {
	if p := c.v[name]; p != nil {
		return strings.TrimSpace(*p)
	}
	return ""
}

func (c *cli) need(names ...string) error {
	var missing []string
	for _, n := range names {
		if c.get(n) == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *cli) tenantCreate(ctx context.Context) error {
	name := c.get("name")
	if name == "" && len(c.args) > 0 {
		name = c.args[0]
	}
	if name == "" {
		return errors.New("missing --name")
	}
	t, err := c.st.CreateTenant(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, t.ID)
	return nil
}

func (c *cli) tenantList(ctx context.Context) error {
	ts, err := c.st.ListTenants(ctx, store.TenantFilter{Limit: 1000})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tBALANCE_USD\tHELD_USD\tCREDIT_LIMIT_USD")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Balance, t.Held, t.CreditLimit)
	}
	return tw.Flush()
}

func (c *cli) topup(ctx context.Context) error {
	if err := c.need("tenant", "amount"); err != nil {
		return err
	}
	amount, err := billing.ParseUSD(c.get("amount"))
	if err != nil {
		return fmt.Errorf("--amount: %w", err)
	}
	e, replayed, err := c.st.Topup(ctx, c.get("tenant"), amount, c.get("note"), c.get("idempotency-key"))
	if err != nil {
		return err
	}
	if replayed {
		fmt.Fprintf(c.out, "already credited (idempotency key %s); balance after that top-up: %s USD\n", e.Ref, e.BalanceAfter)
		return nil
	}
	fmt.Fprintf(c.out, "credited %s USD; balance %s USD\n", e.Amount, e.BalanceAfter)
	return nil
}

func (c *cli) keyCreate(ctx context.Context) error {
	if err := c.need("tenant"); err != nil {
		return err
	}
	nk := store.NewKey{TenantID: c.get("tenant"), Name: c.get("name"), Models: splitList(c.get("models"))}
	if b := c.get("budget"); b != "" {
		budget, err := billing.ParseUSD(b)
		if err != nil || budget < 0 {
			return fmt.Errorf("--budget must be a non-negative USD amount")
		}
		nk.Budget = &budget
	}
	if e := c.get("expires"); e != "" {
		t, err := parseExpires(e)
		if err != nil {
			return err
		}
		nk.ExpiresAt = t
	}
	_, secret, err := c.st.CreateKey(ctx, nk)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, secret)
	return nil
}

func (c *cli) keyList(ctx context.Context) error {
	if err := c.need("tenant"); err != nil {
		return err
	}
	keys, err := c.st.ListKeys(ctx, c.get("tenant"))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tHINT\tSPENT_USD\tACTIVE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.ID, k.Name, k.Hint, k.Spent, k.Active(time.Now()))
	}
	return tw.Flush()
}

// keyID is the key a command names, by --id or as its argument.
func (c *cli) keyID() (string, error) {
	id := c.get("id")
	if id == "" && len(c.args) > 0 {
		id = c.args[0]
	}
	if id == "" {
		return "", errors.New("missing --id")
	}
	return id, nil
}

func (c *cli) keyRevoke(ctx context.Context) error {
	id, err := c.keyID()
	if err != nil {
		return err
	}
	if _, err := c.st.RevokeKey(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "revoked %s (a running gateway stops accepting it within seconds)\n", id)
	return nil
}

// parseExpires reads --expires: an RFC 3339 time or a duration from now.
func parseExpires(e string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, e)
	if err != nil {
		d, derr := time.ParseDuration(e)
		if derr != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("--expires must be RFC3339 (2027-01-01T00:00:00Z) or a positive duration (720h)")
		}
		t = time.Now().Add(d)
	}
	if !t.After(time.Now()) {
		return time.Time{}, fmt.Errorf("--expires %s is not in the future", t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// keyUpdate changes a key's budget, models or expiry: only the flags given.
func (c *cli) keyUpdate(ctx context.Context) error {
	id, err := c.keyID()
	if err != nil {
		return err
	}
	var u store.KeyUpdate
	switch b := c.get("budget"); b {
	case "":
	case "none":
		var none *billing.Nanos
		u.Budget = &none
	default:
		budget, err := billing.ParseUSD(b)
		if err != nil || budget < 0 {
			return fmt.Errorf("--budget must be a non-negative USD amount, or none")
		}
		p := &budget
		u.Budget = &p
	}
	switch m := c.get("models"); m {
	case "":
	case "all":
		u.Models = &[]string{}
	default:
		models := splitList(m)
		u.Models = &models
	}
	switch e := c.get("expires"); e {
	case "":
	case "never":
		u.ExpiresAt = new(int64)
	default:
		t, err := parseExpires(e)
		if err != nil {
			return err
		}
		ms := t.UnixMilli()
		u.ExpiresAt = &ms
	}
	if u.Budget == nil && u.Models == nil && u.ExpiresAt == nil {
		return errors.New("nothing to change: give --budget, --models or --expires")
	}
	k, err := c.st.Key(ctx, id)
	if err != nil {
		return err
	}
	if k.RevokedAt != 0 {
		return fmt.Errorf("key %s is revoked; a revoked key cannot be changed", id)
	}
	if _, err := c.st.UpdateKey(ctx, id, u); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "updated %s (a running gateway sees the change within seconds)\n", id)
	return nil
}

func (c *cli) channelAdd(ctx context.Context) error {
	if err := c.need("name", "provider", "base-url", "models"); err != nil {
		return err
	}
	in := store.ChannelInput{Name: ptr(c.get("name")), Provider: ptr(c.get("provider")), BaseURL: ptr(c.get("base-url")),
		APIKey: ptr(c.get("api-key")), Models: ptr(splitList(c.get("models")))}
	if mm := c.get("model-map"); mm != "" {
		m := map[string]string{}
		if err := json.Unmarshal([]byte(mm), &m); err != nil {
			return fmt.Errorf("--model-map must be a JSON object like {\"gpt-4o\":\"my-deployment\"}")
		}
		in.ModelMap = &m
	}
	for flagName, dst := range map[string]**int{"priority": &in.Priority, "weight": &in.Weight} {
		if v := c.get(flagName); v != "" {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				return fmt.Errorf("--%s must be an integer", flagName)
			}
			*dst = &n
		}
	}
	ch, err := c.st.CreateChannel(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, ch.ID)
	return nil
}

func (c *cli) channelList(ctx context.Context) error {
	chs, err := c.st.ListChannels(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPROVIDER\tBASE_URL\tMODELS\tPRIORITY\tWEIGHT\tENABLED")
	for _, ch := range chs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%v\n", ch.ID, ch.Name, ch.Provider, ch.BaseURL, strings.Join(ch.Models, ","), ch.Priority, ch.Weight, ch.Enabled)
	}
	return tw.Flush()
}

func (c *cli) priceSet(ctx context.Context) error {
	if err := c.need("model", "input", "output"); err != nil {
		return err
	}
	p := billing.Price{Model: c.get("model")}
	for flagName, dst := range map[string]*billing.PicoPerToken{"input": &p.Input, "output": &p.Output, "cached-input": &p.CachedInput, "cache-write": &p.CacheWrite} {
		if v := c.get(flagName); v != "" {
			x, err := billing.ParsePerMTok(v)
			if err != nil {
				return fmt.Errorf("--%s (USD per 1M tokens): %w", flagName, err)
			}
			*dst = x
		}
	}
	for flagName, dst := range map[string]*int64{"context-window": &p.ContextWindow, "max-output": &p.MaxOutput} {
		if v := c.get(flagName); v != "" {
			if _, err := fmt.Sscan(v, dst); err != nil {
				return fmt.Errorf("--%s must be an integer", flagName)
			}
		}
	}
	if err := c.st.PutPrice(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: input %s, output %s USD per 1M tokens\n", p.Model, p.Input.PerMTok(), p.Output.PerMTok())
	return nil
}

func (c *cli) priceList(ctx context.Context) error {
	overrides, err := c.st.PriceOverrides(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tINPUT_PER_MTOK\tOUTPUT_PER_MTOK\tCONTEXT\tMAX_OUTPUT\tSOURCE")
	for _, pm := range billing.NewPriceBook(billing.DefaultPrices(), overrides).All() {
		p := pm.Price
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", p.Model, p.Input.PerMTok(), p.Output.PerMTok(), p.ContextWindow, p.MaxOutput, pm.Source)
	}
	return tw.Flush()
}

func ptr[T any](v T) *T { return &v }
