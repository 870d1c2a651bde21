package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/router"
)

// Sign returns the signature header of a delivery: "t=<unix seconds>,v1=<hex>",
// the hex being HMAC-SHA256 with the tenant's secret over "<unix seconds>.<body>".
// The time is signed with the body, so a captured delivery cannot be replayed later
// with a fresh timestamp.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("signature timestamp is too old")
)

// Verify checks a delivery's signature header as a receiver should: the HMAC must
// match and its time be within tolerance of now. Receivers in Go may call it; it
// also documents the scheme by example.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// CheckURL refuses a webhook URL that is not http(s), carries credentials, or names
// a private, loopback, link-local or metadata host; unless allowPrivate it must be
// https. Names are checked again after DNS at every delivery (NewClient).
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("give a full URL such as https://example.com/hooks/tollgate")
	case u.User != nil:
		return fmt.Errorf("the URL must not carry a user name or password")
	case len(raw) > 2000:
		return fmt.Errorf("the URL is longer than 2000 characters")
	case allowPrivate:
		return nil
	case u.Scheme != "https":
		return fmt.Errorf("the URL must use https (the alert names your balance)")
	}
	if err := router.CheckUpstreamHost(strings.TrimSuffix(u.Hostname(), ".")); err != nil {
		return fmt.Errorf("the URL points at a private, loopback or link-local address, which alerts may not reach")
	}
	return nil
}
