// Command fakeupstream serves a fake OpenAI API (providers/providertest) on an
// address, so the install test, the README's walkthrough and demos can make real,
// billed calls through Tollgate without an upstream account or network. The load
// benchmark runs it as its upstream too, and with --stall-after as one whose streams
// go silent, to hold idle streams open through the gateway.
//
//	go run ./cmd/fakeupstream --addr 127.0.0.1:9099
//	tollgate channel add --name fake --provider openai-compatible \
//	    --base-url http://127.0.0.1:9099/v1 --models gpt-4o-mini
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollgate-gw/tollgate/providers/providertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "fakeupstream: %v\n", err)
		}
		os.Exit(2)
	}
}

// run serves until ctx ends. It prints the base URL once it is listening, so a
// script that started it with --addr 127.0.0.1:0 can read the port.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeupstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9099", "address to listen on (port 0 picks a free one)")
	apiKey := fs.String("api-key", "", "refuse calls without 'Authorization: Bearer <key>' (OpenAI's 401); empty accepts any")
	text := fs.String("text", "", "the assistant's reply (default: "+providertest.DefaultText+")")
	prompt := fs.Int("prompt-tokens", 0, "prompt tokens to report (0: one per four bytes of the request)")
	completion := fs.Int("completion-tokens", 0, "completion tokens to report (0: the request's max_tokens, else one per streamed word)")
	delay := fs.Duration("delay", 0, "wait this long before answering")
	chunks := fs.Int("chunks", 0, "content chunks a streamed reply is split into (0: one per word)")
	stallAfter := fs.Int("stall-after", -1, "send this many content chunks of a stream (of a plain answer: nothing), then stay silent until the client leaves or the fake stops (-1: never stall)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := providertest.Behavior{Text: *text, Chunks: *chunks, PromptTokens: *prompt, CompletionTokens: *completion, HeaderDelay: *delay}
	if *stallAfter >= 0 {
		b.Fault, b.FaultAfter = providertest.FaultStall, *stallAfter
	}
	h := providertest.NewOpenAIHandler()
	h.SetRecording(false) // a long demo must not grow memory with every call
	h.RequireAPIKey(*apiKey)
	h.SetBehavior(b)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "fakeupstream: serving a fake OpenAI API at http://%s/v1\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	h.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
