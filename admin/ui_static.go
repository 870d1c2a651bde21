package admin

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/web"
)

// static serves an embedded asset. Its URL carries the file's checksum, so a hit is
// cached for a year; a stale checksum (a page from before an upgrade) still gets the
// current file, but uncached, so it never pins an old version.
func (u *UI) static(c *gin.Context) {
	name := strings.TrimPrefix(path.Clean(c.Param("file")), "/")
	sum := web.Checksum(name)
	data, err := fs.ReadFile(web.Static(), name)
	if sum == "" || err != nil {
		c.String(http.StatusNotFound, "no such asset")
		return
	}
	h := c.Writer.Header()
	h.Del("Content-Security-Policy")
	if c.Param("sum") == sum {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+sum+`"`)
	if match := c.GetHeader("If-None-Match"); match == `"`+sum+`"` {
		c.Status(http.StatusNotModified)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case "":
		ctype = "text/plain; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Data(http.StatusOK, ctype, data)
}
