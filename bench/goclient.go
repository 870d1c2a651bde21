package main

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadGo runs conns clients in closed loops for d, each reading every answer whole.
// A client starts no call after d, so none is in flight when it returns. It gives
// exact percentiles; wrk generates more load per CPU for the loaded scenarios.
func loadGo(url, key string, body []byte, conns int, d time.Duration) *result {
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	var ok, failed atomic.Int64
	lat := make([][]time.Duration, conns)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close() // the body was read to the end; err above decides
				if err != nil || resp.StatusCode/100 != 2 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	return &result{ok: ok.Load(), errors: failed.Load(), elapsed: time.Since(start), p50: percentile(all, 50), p99: percentile(all, 99)}
}

func percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*q/100]
}
