package webui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// Form is a posted form as a page shows it back: the user's own input, and an error
// per field (or for the whole form) when it was refused.
type Form struct {
	Values url.Values
	Errors map[string]string
	Error  string // not tied to one field
}

// NewForm starts a form with some initial values (name, value pairs).
func NewForm(pairs ...string) *Form {
	f := &Form{Values: url.Values{}, Errors: map[string]string{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Values.Set(pairs[i], pairs[i+1])
	}
	return f
}

// PostedForm reads the request's form, trimmed, without its CSRF token.
func PostedForm(c *gin.Context) *Form {
	f := NewForm()
	_ = c.Request.ParseForm()
	for k, vs := range c.Request.PostForm {
		if k == CSRFField {
			continue
		}
		for _, v := range vs {
			f.Values.Add(k, strings.TrimSpace(v))
		}
	}
	return f
}

// Get is a field's value.
func (f *Form) Get(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Err is a field's error, empty when it is fine.
func (f *Form) Err(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// Failed says whether any error was set.
func (f *Form) Failed() bool { return f != nil && (len(f.Errors) > 0 || f.Error != "") }

// Fail records err on its field (the API error's param, or the field named by
// fallback for store conflicts) and returns the status the page should answer with.
func (f *Form) Fail(err error, fallback string) int {
	var re *router.RequestError
	field := ""
	if errors.As(err, &re) {
		field = re.Param
	}
	if field == "" && (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid)) {
		field = fallback
	}
	if field != "" {
		f.Errors[field] = UserMessage(err)
	} else {
		f.Error = UserMessage(err)
	}
	return StatusOf(err)
}

// SetField records an error on one field; it returns false so checks can chain.
func (f *Form) SetField(name, msg string) bool {
	f.Errors[name] = msg
	return false
}

// WithError sets one field's error and returns the form.
func (f *Form) WithError(field, msg string) *Form {
	f.Errors[field] = msg
	return f
}

// StatusOf picks the HTTP status a page answers an error with.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, router.ErrInvalidRequest), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// UserMessage is an error as a person should read it: the API error's own
// sentence, or a store error without its sentinel prefix.
func UserMessage(err error) string {
	var re *router.RequestError
	switch {
	case errors.As(err, &re):
		return re.Message
	case errors.Is(err, store.ErrUnavailable):
		return "The database is unavailable right now, so nothing was changed. Try again shortly."
	}
	msg := err.Error()
	for _, s := range []error{store.ErrInvalid, store.ErrConflict, store.ErrNotFound} {
		msg = strings.TrimPrefix(msg, s.Error()+": ")
	}
	if msg == "" {
		return "Something went wrong."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}
