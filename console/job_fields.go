package console

import (
	"net/url"
	"strconv"
	"strings"

	"daestro/internal/domain"
)

// Form fields of a retry strategy (job and definition forms), named as the
// API's sentences name them, so an error lands next to its field.
const (
	fieldRetryAttempts = "retry_strategy.attempts"
	fieldRetryRules    = "retry_strategy.evaluate_on_exit"
)

// ruleKeys are the words of an evaluate_on_exit line, in the order a line is written back.
var ruleKeys = []string{"on_exit_code", "on_reason", "action"}

// retryInput reads a form's retry strategy: the number of runs in all and
// one evaluate_on_exit rule per line ("on_exit_code=3 action=retry"). Nil
// when both are empty: the definition's strategy (or the default) applies.
// The values are checked by the domain's rules, with the API's sentences.
func retryInput(v url.Values) (*domain.RetryStrategy, error) {
	attempts, rules := strings.TrimSpace(v.Get(fieldRetryAttempts)), lines(v.Get(fieldRetryRules))
	if attempts == "" && len(rules) == 0 {
		return nil, nil
	}
	s := &domain.RetryStrategy{EvaluateOnExit: []domain.ExitRule{}}
	if attempts != "" {
		n, err := strconv.Atoi(attempts)
		if err != nil {
			return nil, invalid(fieldRetryAttempts, "must be a whole number of runs from 1 to %d, not %q", domain.MaxRetryAttempts, attempts)
		}
		s.Attempts = n
	}
	for i, l := range rules {
		var r domain.ExitRule
		for _, word := range strings.Fields(l) {
			k, val, ok := strings.Cut(word, "=")
			switch {
			case ok && k == "on_exit_code":
				r.OnExitCode = val
			case ok && k == "on_reason":
				r.OnReason = val
			case ok && k == "action":
				r.Action = val
			default:
				return nil, invalid(fieldRetryRules, "line %d %q: %q is not on_exit_code=…, on_reason=… or action=…; write e.g. on_exit_code=3 action=retry", i+1, l, word)
			}
		}
		s.EvaluateOnExit = append(s.EvaluateOnExit, r)
	}
	return s, nil
}

// setRetryValues writes a strategy into the form's two fields.
func setRetryValues(v url.Values, s *domain.RetryStrategy) {
	if s == nil {
		return
	}
	v.Set(fieldRetryAttempts, strconv.Itoa(s.Attempts))
	v.Set(fieldRetryRules, strings.Join(ruleLines(s.EvaluateOnExit), "\n"))
}

// ruleLines writes evaluate_on_exit rules as the form takes them.
func ruleLines(rules []domain.ExitRule) []string {
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		var words []string
		for i, val := range []string{r.OnExitCode, r.OnReason, r.Action} {
			if val != "" {
				words = append(words, ruleKeys[i]+"="+val)
			}
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}

// dependsInput reads depends_on: one job ID per line, optionally followed
// by its type (success when left out), or SEQUENTIAL alone for an array
// job whose children run one after the other.
func dependsInput(s string) []domain.JobDependency {
	var out []domain.JobDependency
	for _, l := range lines(s) {
		words := strings.Fields(l)
		d := domain.JobDependency{JobID: words[0]}
		if len(words) > 1 {
			d.Type = strings.Join(words[1:], " ")
		}
		if d.JobID == domain.DependencySequential && len(words) == 1 {
			d = domain.JobDependency{Type: domain.DependencySequential}
		}
		out = append(out, d)
	}
	return out
}
