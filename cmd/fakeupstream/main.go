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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
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
	certOut := fs.String("tls-cert-out", "", "serve HTTPS (HTTP/2 and HTTP/1.1) with a fresh self-signed certificate for 127.0.0.1 and localhost, written to this PEM file for the client to trust")
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
	scheme := "http"
	if *certOut != "" {
		cert, err := selfSigned(*certOut)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
		ln, scheme = tls.NewListener(ln, srv.TLSConfig), "https"
	}
	fmt.Fprintf(stdout, "fakeupstream: serving a fake OpenAI API at %s://%s/v1\n", scheme, ln.Addr())
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

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a day, and
// writes it (without its key) as PEM to path.
func selfSigned(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "fakeupstream"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
