package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheck runs `tollgate healthcheck`: it GETs the local gateway's /healthz (or
// /readyz with --ready) and succeeds only on 200. Slim container images have no
// curl, so the Dockerfile's HEALTHCHECK and docker-compose run this instead.
func healthcheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tollgate healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv("TOLLGATE_ADDR"), defaultConfig().Addr), "the gateway's listen address (TOLLGATE_ADDR); an unspecified host means this machine")
	target := fs.String("url", "", "check this URL instead of the one derived from --addr")
	ready := fs.Bool("ready", false, "check /readyz (database reachable, migrations applied) instead of /healthz (process up)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tollgate healthcheck [flags]\n\nExits 0 when the gateway answers 200, 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	url := *target
	if url == "" {
		host, err := localAddr(*addr)
		if err != nil {
			return err
		}
		path := "/healthz"
		if *ready {
			path = "/readyz"
		}
		url = "http://" + host + path
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// No proxy: the check is about this machine's gateway, whatever HTTP_PROXY says.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "ok: GET %s answered 200 %s\n", url, strings.TrimSpace(string(body)))
	return nil
}

// localAddr turns a listen address into one to dial on this machine: ":8080",
// "0.0.0.0:8080" and "[::]:8080" become "127.0.0.1:8080" (Go listens dual-stack on
// "::", and containers do not always have IPv6 loopback).
func localAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("TOLLGATE_ADDR %q is not host:port: %v", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func envOr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
