// Package browsertest drives the web UI (dashboard and tenant portal) in headless
// Chromium for tests: one tab with a closed-network set of flags, steps with time
// limits that fail the test with what went wrong, screenshots kept as artifacts, and
// the pages' console errors. Only tests import it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Tab is one headless Chromium tab on a site.
type Tab struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string
	console *consoleLog
}

// consoleLog collects what pages log as errors (CSP refusals included).
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// New opens a tab on the site at base. name ("dashboard", "portal") names the test
// in the skip message and the screenshots' directory.
func New(t *testing.T, base, name string) *Tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t, name)), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Tab{t: t, ctx: ctx, base: base, shots: artifactDir(t, name), console: &consoleLog{}}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.console.mu.Lock()
				b.console.errs = append(b.console.errs, m.String())
				b.console.mu.Unlock()
			}
		}
	}()
	return b
}

// findChromium locates a Chromium to drive. Without one the test fails in CI
// (CI=true installs it, so its absence is a broken setup) and is skipped, with the
// reason, elsewhere.
func findChromium(t *testing.T, name string) string {
	t.Helper()
	for _, c := range []string{os.Getenv("TOLLGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "the " + name + " browser test needs Chromium: install it (Debian: apt-get install -y chromium) or set TOLLGATE_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	fmt.Println(name+": browser test skipped:", msg)
	t.Skip(msg)
	return ""
}

// artifactDir is where screenshots go: $TOLLGATE_ARTIFACTS/<name>, else
// artifacts/<name> at the repository root (ignored by git).
func artifactDir(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs("..") // tests run in their package's directory, one below the root
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			root = t.TempDir()
		}
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o750); err != nil { // #nosec G703 -- the artifact directory whoever runs the tests chose
		t.Fatal(err)
	}
	return dir
}

// In returns the tab reporting failures to t (a subtest).
func (b *Tab) In(t *testing.T) *Tab {
	c := *b
	c.t = t
	return &c
}

// Do runs steps with a time limit and fails the test with the step's error.
func (b *Tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// read runs one query with a time limit and fails the test with its error.
func read[T any](b *Tab, what string, q chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, q)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Text reads an element's text, trimmed.
func (b *Tab) Text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(read(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// Value reads a form field's value.
func (b *Tab) Value(sel string) string {
	b.t.Helper()
	return read(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// Attr reads an attribute an element must have.
func (b *Tab) Attr(sel, name string) string {
	b.t.Helper()
	r := read(b, "attribute "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !r.Exists {
		b.t.Fatalf("%s has no attribute %s", sel, name)
	}
	return r.Value
}

// HTML reads an element's outer HTML.
func (b *Tab) HTML(sel string) string {
	b.t.Helper()
	return read(b, "html of "+sel, chromedp.OuterHTML(chromedp.CSS(sel)))
}

// Open navigates to a path of the site and waits for an element of it.
func (b *Tab) Open(path, ready string) {
	b.t.Helper()
	b.Do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// Fill sets a form's named fields, submits it and waits for an element of the next
// page.
func (b *Tab) Fill(form string, fields map[string]string, ready string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	steps = append(steps, markStale, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)), nextPage, chromedp.WaitVisible(chromedp.CSS(ready)))
	b.Do("fill "+form, steps...)
}

// Click clicks an element that loads another page and waits for an element of it.
func (b *Tab) Click(sel, ready string) {
	b.t.Helper()
	b.Do("click "+sel, markStale, chromedp.Click(chromedp.CSS(sel)), nextPage, chromedp.WaitVisible(chromedp.CSS(ready)))
}

// markStale tags the current page, so a wait after a click can tell the next page
// from the one still showing (nextPage).
func markStale(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`document.body.setAttribute("data-stale", "1"), true`)(ctx, t)
	return chromedp.Void{}, err
}

var nextPage = chromedp.WaitReady(chromedp.CSS("body:not([data-stale])"))

// Shot saves a full-page PNG of the current page as an artifact.
func (b *Tab) Shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// ConsoleErrors returns what the pages logged as errors.
func (b *Tab) ConsoleErrors() []string {
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	return append([]string(nil), b.console.errs...)
}

// ForgetConsoleErrors drops the errors logged so far (one a test provoked on purpose).
func (b *Tab) ForgetConsoleErrors() {
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	b.console.errs = nil
}

// Location reads the address of the page showing.
func (b *Tab) Location() string {
	b.t.Helper()
	return read(b, "location", chromedp.Location())
}
