package webui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestCSRFTokens(t *testing.T) {
	a, b := CSRFFor("session-1", "dashboard"), CSRFFor("session-1", "portal")
	if a == b || a != CSRFFor("session-1", "dashboard") || a == CSRFFor("session-2", "dashboard") {
		t.Fatal("tokens must be stable per session and purpose, and differ otherwise")
	}
	gin.SetMode(gin.TestMode)
	check := func(header, field string) bool {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		form := url.Values{}
		if field != "" {
			form.Set(CSRFField, field)
		}
		c.Request = httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		c.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			c.Request.Header.Set(CSRFHeader, header)
		}
		return CSRFValid(c, a)
	}
	if !check("", a) || !check(a, "") || check("", "") || check("", b) || check(b, "") {
		t.Fatal("CSRFValid accepts the wrong token or refuses the right one")
	}
}

func TestFlashAndCookiesStayUnderThePrefix(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Site{Prefix: "/portal", Cookie: "tollgate_portal"}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/portal/x", nil)
	c.Request.Header.Set("X-Forwarded-Proto", "https")
	s.Redirect(c, "/portal/", "!"+strings.Repeat("x", 400))
	cookies := w.Result().Cookies()
	if c.Writer.Status() != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("%d %v", c.Writer.Status(), cookies)
	}
	ck := cookies[0]
	if ck.Name != "tollgate_portal_flash" || ck.Path != "/portal" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", ck)
	}
	w2 := httptest.NewRecorder()
	c2, _ := gin.CreateTestContext(w2)
	c2.Request = httptest.NewRequest("GET", "/portal/", nil)
	c2.Request.AddCookie(ck)
	msg, kind := s.TakeFlash(c2)
	if kind != "error" || len(msg) > 310 || !strings.HasSuffix(msg, "…") {
		t.Fatalf("%q %q", msg, kind)
	}
	if del := w2.Result().Cookies(); len(del) != 1 || del[0].MaxAge >= 0 {
		t.Fatalf("the flash is not cleared: %v", del)
	}
}
