package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// start runs the command on a free port until ctx ends and returns the base URL it
// printed and the channel its result arrives on.
func start(t *testing.T, ctx context.Context, args ...string) (base string, done <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		result <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	if base = regexp.MustCompile(`https?://\S+/v1`).FindString(line); base == "" {
		t.Fatalf("no base URL printed: %q", line)
	}
	return base, result
}

// TestServesFakeOpenAI: the command listens where asked, prints its base URL, answers
// a chat call in OpenAI's shape with the configured usage, refuses a wrong key, and
// stops when its context ends.
func TestServesFakeOpenAI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	base, done := start(t, ctx, "--api-key", "sk-up", "--text", "pong", "--prompt-tokens", "7", "--completion-tokens", "3")

	call := func(key string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"ping"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := call("sk-up")
	var out struct {
		Choices []struct{ Message struct{ Content string } }
	}
	json.Unmarshal(body, &out)
	if resp.StatusCode != 200 || len(out.Choices) != 1 || out.Choices[0].Message.Content != "pong" {
		t.Fatalf("answer %d %s", resp.StatusCode, body)
	}
	var usage struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(body, &usage)
	if usage.Usage.PromptTokens != 7 || usage.Usage.CompletionTokens != 3 {
		t.Fatalf("usage %s", body)
	}
	if resp, body := call("sk-wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong key: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestBadFlag(t *testing.T) {
	if err := run(context.Background(), []string{"--addr", "not-an-address"}, io.Discard, io.Discard); err == nil {
		t.Fatal("listened on a bad address")
	}
}

// TestStallAfter: --chunks splits a streamed reply, and --stall-after sends that many
// content chunks and then nothing, until the fake stops.
func TestStallAfter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	base, done := start(t, ctx, "--text", "abcd", "--chunks", "4", "--stall-after", "1")
	resp, err := http.Post(base+"/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events <- sc.Text()
			}
		}
		close(events)
	}()
	for i, want := range []string{`"role":"assistant"`, `"content":"a"`} {
		select {
		case e := <-events:
			if !strings.Contains(e, want) {
				t.Fatalf("event %d: %s, want %s", i, e, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %d", i)
		}
	}
	select {
	case e, ok := <-events:
		t.Fatalf("the stream went on after the stall point: %q (open %v)", e, ok)
	case <-time.After(300 * time.Millisecond):
	}
	cancel() // stopping the fake ends the stalled stream
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop with a stalled stream open")
	}
}

// TestTLS: --tls-cert-out serves HTTPS with HTTP/2, under a certificate written for
// the client to trust.
func TestTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	base, _ := start(t, ctx, "--tls-cert-out", certFile)
	pemCerts, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !strings.HasPrefix(base, "https://") || !pool.AppendCertsFromPEM(pemCerts) {
		t.Fatalf("base %s, certificate %q", base, pemCerts)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Post(base+"/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("status %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
}
