package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/store"
)

// splitChunkUpstream answers one streaming call with the role chunk, a content
// chunk "A" and the first half of a content chunk "B" in one write, and sends the
// rest of "B" and the end only once release is closed (or after a while).
func splitChunkUpstream(t *testing.T, release <-chan struct{}, released chan<- bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	chunk := func(data string) string {
		event := "data: " + data + "\n\n"
		return fmt.Sprintf("%x\r\n%s\r\n", len(event), event)
	}
	content := func(text string) string {
		return `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + text + `"},"finish_reason":null}]}`
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		role := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
		b := chunk(content("B"))
		half := len(b) / 2
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk(role) + chunk(content("A")) + b[:half]))
		select {
		case <-release:
			released <- true
		case <-time.After(3 * time.Second):
			released <- false
		}
		usage := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`
		_, _ = c.Write([]byte(b[half:] + chunk(usage) + chunk("[DONE]") + "0\r\n\r\n"))
	}()
	return "http://" + ln.Addr().String() + "/v1"
}

// A whole event is relayed at once even when the next one arrives split: the
// upstream sends the rest of "B" only after the client has seen "A".
func TestStreamEventNotHeldBehindASplitOne(t *testing.T) {
	h := newHarness(t, usd)
	release, released := make(chan struct{}), make(chan bool, 1)
	url := splitChunkUpstream(t, release, released)
	if _, err := h.store.UpdateChannel(t.Context(), h.channel.ID, store.ChannelInput{BaseURL: &url}); err != nil {
		t.Fatal(err)
	}
	if err := h.gw.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(chatBody(map[string]any{"stream": true}))
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var texts []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			t.Fatalf("chunk %q: %v", line, err)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content == "A" {
				close(release)
			}
			if c.Delta.Content != "" {
				texts = append(texts, c.Delta.Content)
			}
		}
	}
	if !<-released {
		t.Fatal(`the client did not get "A" until the upstream finished "B": a whole event was held back behind a split one`)
	}
	if strings.Join(texts, "") != "AB" {
		t.Fatalf("client got %q, want A then B", texts)
	}
	if rec := waitForCall(t, h); rec.Status != http.StatusOK || rec.Usage.CompletionTokens != 2 {
		t.Fatalf("call %+v", rec)
	}
}
