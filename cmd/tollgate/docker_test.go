package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// No Docker engine runs in CI, so these tests take the Dockerfile apart instead: its
// final stage must be the shape the README promises (non-root, /data volume, the
// healthcheck subcommand), and the binary, run exactly as ENTRYPOINT, ENV and
// HEALTHCHECK say, must serve and report healthy.

// dockerInstr is one instruction of a Dockerfile, continuation lines joined.
type dockerInstr struct {
	cmd  string // upper-case instruction, e.g. "ENV"
	args string
}

// dockerStage is one FROM … section.
type dockerStage struct {
	from   string
	instrs []dockerInstr
}

func (s dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func (s dockerStage) one(t *testing.T, cmd string) string {
	t.Helper()
	all := s.all(cmd)
	if len(all) != 1 {
		t.Fatalf("final stage has %d %s instructions, want 1", len(all), cmd)
	}
	return all[0]
}

func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	var pending string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, dockerStage{from: in.args})
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // ARGs before the first FROM
			}
			t.Fatalf("%s before FROM", in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages; want a build stage and a final stage", len(stages))
	}
	return stages
}

// execForm decodes an exec-form (JSON array) argument.
func execForm(t *testing.T, what, s string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s %q is not exec form (a JSON array): slim images have no shell", what, s)
	}
	return argv
}

// dockerEnv reads the final stage's ENV instructions (KEY=value forms).
func dockerEnv(t *testing.T, st dockerStage) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, args := range st.all("ENV") {
		for _, kv := range strings.Fields(args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %q: use KEY=value", args)
			}
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}

func TestDockerfileShape(t *testing.T) {
	stages := parseDockerfile(t, "../../Dockerfile")
	build, final := stages[0], stages[len(stages)-1]

	runs := strings.Join(build.all("RUN"), "\n")
	if !strings.Contains(runs, "CGO_ENABLED=1") || !strings.Contains(runs, "./cmd/tollgate") {
		t.Errorf("the build stage must build ./cmd/tollgate with CGO_ENABLED=1 (SQLite is cgo):\n%s", runs)
	}
	for _, v := range []string{"main.version", "main.commit", "main.date"} {
		if !strings.Contains(runs, "-X "+v+"=") {
			t.Errorf("the build does not stamp %s", v)
		}
	}
	if base := strings.ToLower(final.from); strings.Contains(base, "scratch") || strings.Contains(base, "static") || strings.Contains(base, "alpine") {
		t.Errorf("final image %q lacks the glibc a cgo binary built on Debian links against", final.from)
	}

	user := final.one(t, "USER")
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("USER %q: the image must not run as root", user)
	}
	env := dockerEnv(t, final)
	if env["TOLLGATE_DATA_DIR"] == "" || env["TOLLGATE_ADDR"] == "" {
		t.Fatalf("ENV must set TOLLGATE_ADDR and TOLLGATE_DATA_DIR: %v", env)
	}
	if vol := execForm(t, "VOLUME", final.one(t, "VOLUME")); len(vol) != 1 || vol[0] != env["TOLLGATE_DATA_DIR"] {
		t.Errorf("VOLUME %v is not the data directory %s", vol, env["TOLLGATE_DATA_DIR"])
	}
	_, port, err := net.SplitHostPort(env["TOLLGATE_ADDR"])
	if err != nil || final.one(t, "EXPOSE") != port {
		t.Errorf("EXPOSE %q does not match TOLLGATE_ADDR %q", final.one(t, "EXPOSE"), env["TOLLGATE_ADDR"])
	}
	copied := regexp.MustCompile(`^--from=\S+ \S+ /usr/local/bin/tollgate$`)
	if !slices.ContainsFunc(final.all("COPY"), copied.MatchString) {
		t.Errorf("the binary must be copied to /usr/local/bin/tollgate (on the PATH): %v", final.all("COPY"))
	}
	if argv := execForm(t, "ENTRYPOINT", final.one(t, "ENTRYPOINT")); strings.Join(argv, " ") != "tollgate serve" {
		t.Errorf("ENTRYPOINT %v, want [tollgate serve]", argv)
	}
	if hc := healthcheckArgv(t, final); hc[0] != "tollgate" || hc[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK runs %v; slim images have no curl: use tollgate healthcheck", hc)
	}
}

// healthcheckArgv returns the HEALTHCHECK's CMD, options stripped.
func healthcheckArgv(t *testing.T, st dockerStage) []string {
	t.Helper()
	hc := st.one(t, "HEALTHCHECK")
	_, cmd, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q has no CMD", hc)
	}
	argv := execForm(t, "HEALTHCHECK CMD", strings.TrimSpace(cmd))
	if len(argv) < 2 {
		t.Fatalf("HEALTHCHECK CMD %v", argv)
	}
	return argv
}

var (
	dockerBinOnce sync.Once
	dockerBinDir  string
	dockerBinErr  error
)

// dockerBinary builds tollgate the way the Dockerfile's build stage does (cgo on,
// trimmed, version stamped) into a directory that plays /usr/local/bin.
func dockerBinary(t *testing.T) string {
	t.Helper()
	dockerBinOnce.Do(func() {
		dockerBinDir, dockerBinErr = os.MkdirTemp("", "tollgate-docker-bin-")
		if dockerBinErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", "-X main.version=v0.0.0-docker -X main.commit=test -X main.date=now",
			"-o", filepath.Join(dockerBinDir, "tollgate"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			dockerBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if dockerBinErr != nil {
		t.Fatal(dockerBinErr)
	}
	return dockerBinDir
}

// TestDockerEntrypointServesAndIsHealthy runs the binary with exactly the final
// stage's ENTRYPOINT, ENV and HEALTHCHECK. Two values are moved because this is
// not a container: the data directory (the /data volume) goes to a temp dir, and
// the port to a free one; the host part of TOLLGATE_ADDR stays as written.
func TestDockerEntrypointServesAndIsHealthy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	stages := parseDockerfile(t, "../../Dockerfile")
	final := stages[len(stages)-1]
	imageEnv := dockerEnv(t, final)
	entry := execForm(t, "ENTRYPOINT", final.one(t, "ENTRYPOINT"))
	check := healthcheckArgv(t, final)
	binDir := dockerBinary(t)

	volume := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(volume, 0o700); err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(imageEnv["TOLLGATE_ADDR"])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	env := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, kv := range os.Environ() { // the test's own TOLLGATE_* must not leak in
		if !strings.HasPrefix(kv, "TOLLGATE_") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	for k, v := range imageEnv {
		switch k {
		case "TOLLGATE_DATA_DIR":
			v = volume
		case "TOLLGATE_ADDR":
			v = net.JoinHostPort(host, port)
		}
		env = append(env, k+"="+v)
	}
	command := func(argv []string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(binDir, argv[0]), argv[1:]...) // argv[0] as found on the image's PATH
		cmd.Env = env
		return cmd
	}

	srv := command(entry)
	logs := &lockedBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Kill()
		<-exited
	})

	healthy := false
	var last []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := command(check).CombinedOutput()
		last = out
		if err == nil {
			healthy = true
			break
		}
	}
	if !healthy {
		t.Fatalf("HEALTHCHECK %v never succeeded; last output %q\nserver log:\n%s", check, last, logText(logs))
	}
	if !strings.Contains(string(last), "answered 200") {
		t.Fatalf("healthcheck output %q", last)
	}
	// What `docker logs` shows on the first start: the one-time admin token, then JSON logs.
	text := logText(logs)
	if !regexp.MustCompile(`tga-[0-9a-f]{48}`).MatchString(text) || !strings.Contains(text, `"msg":"tollgate listening"`) {
		t.Fatalf("first-start output lacks the admin token or JSON logs:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(volume, "tollgate.db")); err != nil {
		t.Fatalf("nothing written to the data volume: %v", err)
	}

	// `docker stop` sends SIGTERM: the gateway exits cleanly, then the check fails.
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logText(logs))
		}
		exited <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
	if out, err := command(check).CombinedOutput(); err == nil {
		t.Fatalf("healthcheck passed with the gateway stopped: %s", out)
	} else if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("healthcheck with the gateway stopped: %v (want exit status 1)", err)
	}
}

func logText(b *lockedBuffer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
