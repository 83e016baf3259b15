package console

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"daestro/internal/domain"
)

// form is what the user typed into a form and what was wrong with it: a
// failed submit shows the form again with every value kept.
type form struct {
	// Values are the submitted (or prefilled) values by field name.
	Values url.Values
	// Errors are sentences by field name: the API's own, shown next to the field.
	Errors map[string]string
	// General is an error that names no field of the form.
	General string
	// CSRF is the session's token, for templates that build forms from a form value.
	CSRF string
}

func newForm(v url.Values) *form {
	if v == nil {
		v = url.Values{}
	}
	return &form{Values: v, Errors: map[string]string{}}
}

// Get is a field's value.
func (f *form) Get(name string) string { return f.Values.Get(name) }

// Has reports whether a checkbox or a multi-value field holds value.
func (f *form) Has(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Err is the error of a field.
func (f *form) Err(name string) string { return f.Errors[name] }

// Failed reports whether any error is set.
func (f *form) Failed() bool { return f.General != "" || len(f.Errors) > 0 }

// fail puts err next to the field its sentence names ("name: …", the
// API's convention; "depends_on[1].type: …" names the field depends_on),
// or at the top of the form when it names none of fields.
func (f *form) fail(err error, fields ...string) {
	msg := domain.ErrorMessage(err)
	if field, _, ok := strings.Cut(msg, ":"); ok {
		for _, name := range fields {
			if field == name {
				f.Errors[name] = msg
				return
			}
		}
		for _, name := range fields {
			if strings.HasPrefix(field, name+"[") || strings.HasPrefix(field, name+".") {
				f.Errors[name] = msg
				return
			}
		}
	}
	f.General = msg
}

// invalid is an EINVALID error about field (the form's own parsing, worded like the API's).
func invalid(field, format string, args ...any) error {
	return domain.Errorf(domain.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// optInt reads a whole number field; empty is nil.
func optInt(v url.Values, field string) (*int, error) {
	s := strings.TrimSpace(v.Get(field))
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, invalid(field, "must be a whole number, not %q", s)
	}
	return &n, nil
}

// intOr reads a whole number field; empty is def.
func intOr(v url.Values, field string, def int) (int, error) {
	p, err := optInt(v, field)
	if err != nil || p == nil {
		return def, err
	}
	return *p, nil
}

// lines splits a textarea into its non-empty lines (trailing CR and
// surrounding blanks dropped).
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(strings.TrimSuffix(l, "\r")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// argLines reads a command textarea, one argument per line; nil when empty.
func argLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// pairs reads "key=value" lines; a line without '=' is an error unless
// bareOK, when it maps to a nil value.
func pairs(field, s string, bareOK bool) (map[string]*string, []string, error) {
	out := map[string]*string{}
	var order []string
	for i, l := range lines(s) {
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok && !bareOK {
			return nil, nil, invalid(field, "line %d %q is not name=value", i+1, l)
		}
		if _, dup := out[k]; dup {
			return nil, nil, invalid(field, "%q is given twice", k)
		}
		order = append(order, k)
		if ok {
			val := v
			out[k] = &val
		} else {
			out[k] = nil
		}
	}
	return out, order, nil
}

// stringMap reads "name=value" lines into a map; nil when empty.
func stringMap(field, s string) (map[string]string, error) {
	p, _, err := pairs(field, s, false)
	if err != nil || len(p) == 0 {
		return nil, err
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = *v
	}
	return out, nil
}

// joinPairs writes a map as sorted "name=value" lines, for a prefilled textarea.
func joinPairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

// checked reads a checkbox.
func checked(v url.Values, field string) bool {
	s := v.Get(field)
	return s == "on" || s == "true" || s == "1"
}
