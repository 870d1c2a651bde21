package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// secretFields are request fields whose values never reach the audit log; the entry
// records only that they were set.
var secretFields = map[string]bool{"api_key": true, "password": true, "token": true, "key": true, "secret": true, "admin_token": true,
	"confirm": true, "password_confirm": true, "new_password": true, "current_password": true, "webhook_secret": true}

// Audit records every change made through the admin API or dashboard: who (actor),
// what (method and route), which object, the request's fields with secrets redacted,
// and the answer's status. Reads are not recorded.
func Audit(st *store.Store, actor func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead || c.Request.Method == http.MethodOptions {
			c.Next()
			return
		}
		var body []byte
		if c.Request.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(c.Request.Body, maxBodyBytes+1))
			c.Request.Body = io.NopCloser(bytes.NewReader(body))
		}
		c.Next()
		target := c.Param("id")
		if target == "" {
			target = strings.TrimPrefix(c.Param("model"), "/")
		}
		e := store.AuditEntry{Actor: actor(c), Action: c.Request.Method + " " + c.FullPath(), Target: target,
			Detail: redactedFields(body, c.ContentType()), Remote: c.ClientIP(), Status: c.Writer.Status()}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
		defer cancel()
		_ = st.Audit(ctx, e) // an audit write failing must not undo the change it records
	}
}

// redactedFields flattens a JSON object or form body to field → value, replacing
// secrets with "[redacted]" and truncating long values.
func redactedFields(body []byte, contentType string) map[string]string {
	out := map[string]string{}
	put := func(k, v string) {
		switch {
		case secretFields[strings.ToLower(k)]:
			v = "[redacted]"
		case strings.HasPrefix(strings.ToLower(k), "csrf") || strings.HasPrefix(k, "_"):
			return
		case len(v) > 200:
			v = v[:200] + "…"
		}
		out[k] = v
	}
	if strings.Contains(contentType, "json") || (len(body) > 0 && body[0] == '{') {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			for k, raw := range m {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					s = string(raw)
				}
				put(k, s)
			}
		}
		return out
	}
	if vals, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range vals {
			put(k, strings.Join(vs, ","))
		}
	}
	return out
}

// auditLog serves GET /audit: the newest administrative changes first.
func (a *API) auditLog(c *gin.Context) error {
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 1, 1<<63-1)
	if err != nil {
		return err
	}
	entries, err := a.store.AuditLog(c.Request.Context(), before, limit)
	if err != nil {
		return err
	}
	type entryJSON struct {
		ID        int64             `json:"id"`
		Actor     string            `json:"actor"`
		Action    string            `json:"action"`
		Target    string            `json:"target"`
		Detail    map[string]string `json:"detail"`
		Remote    string            `json:"remote"`
		Status    int               `json:"status"`
		CreatedAt string            `json:"created_at"`
	}
	out := make([]entryJSON, len(entries))
	for i, e := range entries {
		out[i] = entryJSON{ID: e.ID, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail, Remote: e.Remote,
			Status: e.Status, CreatedAt: stamp(e.CreatedAt)}
	}
	var last int64
	if len(entries) > 0 {
		last = entries[len(entries)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"data": out, "next_before": nextBefore(len(entries), limit, last)})
	return nil
}
