package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// form is a posted form as a page shows it back: the user's own input, and an error
// per field (or for the whole form) when it was refused.
type form struct {
	Values url.Values
	Errors map[string]string
	Error  string // not tied to one field
}

// newForm starts a form with some initial values (name, value pairs).
func newForm(pairs ...string) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Values.Set(pairs[i], pairs[i+1])
	}
	return f
}

// postedForm reads the request's form, trimmed.
func postedForm(c *gin.Context) *form {
	f := newForm()
	_ = c.Request.ParseForm()
	for k, vs := range c.Request.PostForm {
		if k == csrfField {
			continue
		}
		for _, v := range vs {
			f.Values.Add(k, strings.TrimSpace(v))
		}
	}
	return f
}

// Get is a field's value.
func (f *form) Get(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Err is a field's error, empty when it is fine.
func (f *form) Err(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// Failed says whether any error was set.
func (f *form) Failed() bool { return f != nil && (len(f.Errors) > 0 || f.Error != "") }

// fail records err on its field (the API error's param, or the field named by
// fallback for store conflicts) and returns the status the page should answer with.
func (f *form) fail(err error, fallback string) int {
	var re *router.RequestError
	field := ""
	if errors.As(err, &re) {
		field = re.Param
	}
	if field == "" && (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid)) {
		field = fallback
	}
	if field != "" {
		f.Errors[field] = userMessage(err)
	} else {
		f.Error = userMessage(err)
	}
	if s := statusOf(err); s != http.StatusInternalServerError {
		return s
	}
	return http.StatusInternalServerError
}

// setField records an error on one field; it returns false so checks can chain.
func (f *form) setField(name, msg string) bool {
	f.Errors[name] = msg
	return false
}
