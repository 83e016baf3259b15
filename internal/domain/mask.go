package domain

import (
	"slices"
	"strings"
)

// Mask is what a sensitive value is replaced with in stored output.
const Mask = "***"

// minMaskedLen is the shortest sensitive value that is masked: masking a
// one- or two-character value would garble every line and hide nothing.
const minMaskedLen = 4

// SecretMasker replaces a run's sensitive values in its output with Mask.
type SecretMasker struct {
	r *strings.Replacer
}

// NewSecretMasker masks values (longest first, so a secret that contains
// another is masked whole); values shorter than minMaskedLen are left alone.
func NewSecretMasker(values []string) SecretMasker {
	vs := slices.Clone(values)
	slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for i, v := range vs {
		if len(v) >= minMaskedLen && (i == 0 || v != vs[i-1]) {
			pairs = append(pairs, v, Mask)
		}
	}
	if len(pairs) == 0 {
		return SecretMasker{}
	}
	return SecretMasker{r: strings.NewReplacer(pairs...)}
}

// Mask returns text with every sensitive value replaced.
func (m SecretMasker) Mask(text string) string {
	if m.r == nil {
		return text
	}
	return m.r.Replace(text)
}

// SensitiveValues lists the sensitive values of a run's environment: the
// definition's, then the job's overrides (an override replaces the
// definition's value; a sensitive value is masked whichever side set it).
func SensitiveValues(def, overrides Env) []string {
	var out []string
	for _, env := range []Env{def, overrides} {
		for _, v := range env {
			if v.Sensitive && v.Value != "" {
				out = append(out, v.Value)
			}
		}
	}
	return out
}
