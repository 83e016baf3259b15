package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Run reasons a retry rule matches on (ExitRule.OnReason), beside exit codes.
const (
	// ReasonOOM: the container was killed for running out of memory.
	ReasonOOM = "oom"
	// ReasonTimeout: stopped at the execution timeout.
	ReasonTimeout = "timeout"
	// ReasonInterrupted: the run's machine or agent went away under it; the
	// job did nothing wrong.
	ReasonInterrupted = "interrupted"
	// ReasonError: daestro could not run it (image pull, invalid spec).
	ReasonError = "error"
)

// Retry actions.
const (
	RetryActionRetry = "retry"
	RetryActionExit  = "exit"
)

// MaxRetryAttempts and MaxExitRules bound a retry strategy.
const (
	MaxRetryAttempts = 10
	MaxExitRules     = 5
)

// RetryStrategy says when a run that did not complete is tried again, as a
// new run of the same job (with its own logs and metrics).
type RetryStrategy struct {
	// Attempts is how many runs the job gets in all, 1–10.
	Attempts int `json:"attempts"`
	// EvaluateOnExit are checked in order and the first that matches
	// decides; when none matches, the run is retried while attempts remain
	// (as AWS Batch does).
	EvaluateOnExit []ExitRule `json:"evaluate_on_exit"`
}

// ExitRule is one evaluate_on_exit rule: every condition it gives must hold.
type ExitRule struct {
	// OnExitCode is an exit code ("3"), a range ("1-5") or "*" (any exit
	// code); a run without an exit code (error, interrupted) never matches.
	OnExitCode string `json:"on_exit_code,omitempty"`
	// OnReason is oom, timeout, interrupted, error or "*".
	OnReason string `json:"on_reason,omitempty"`
	// Action is retry or exit.
	Action string `json:"action"`
}

// DefaultRetryStrategy is a job's strategy when neither it nor its
// definition gives one: an interrupted run is tried once more, nothing else.
var DefaultRetryStrategy = RetryStrategy{Attempts: 2, EvaluateOnExit: []ExitRule{
	{OnReason: ReasonInterrupted, Action: RetryActionRetry},
	{OnReason: "*", Action: RetryActionExit},
	{OnExitCode: "*", Action: RetryActionExit},
}}

// clone copies s deeply; nil stays nil.
func (s *RetryStrategy) clone() *RetryStrategy {
	if s == nil {
		return nil
	}
	c := *s
	c.EvaluateOnExit = append([]ExitRule{}, s.EvaluateOnExit...)
	return &c
}

// Effective is the strategy that applies: the first given of a job's own
// and its definition's, else the default.
func Effective(strategies ...*RetryStrategy) RetryStrategy {
	for _, s := range strategies {
		if s != nil {
			return *s.clone()
		}
	}
	return *DefaultRetryStrategy.clone()
}

// Validate checks a strategy given by a client; field prefixes the errors.
func (s RetryStrategy) Validate(field string) error {
	if s.Attempts < 1 || s.Attempts > MaxRetryAttempts {
		return Errorf(EINVALID, "%s.attempts: %d is out of range: a job gets 1 to %d runs in all (1 = no retry)", field, s.Attempts, MaxRetryAttempts)
	}
	if s.EvaluateOnExit == nil {
		s.EvaluateOnExit = []ExitRule{}
	}
	if len(s.EvaluateOnExit) > MaxExitRules {
		return Errorf(EINVALID, "%s.evaluate_on_exit: %d rules are too many: at most %d", field, len(s.EvaluateOnExit), MaxExitRules)
	}
	for i, r := range s.EvaluateOnExit {
		at := fmt.Sprintf("%s.evaluate_on_exit[%d]", field, i)
		if r.OnExitCode == "" && r.OnReason == "" {
			return Errorf(EINVALID, "%s: give on_exit_code (e.g. \"3\", \"1-5\" or \"*\") or on_reason (oom, timeout, interrupted, error or \"*\"), or both", at)
		}
		if r.OnExitCode != "" {
			if _, _, err := parseExitCodes(r.OnExitCode); err != nil {
				return Errorf(EINVALID, "%s.on_exit_code: %v", at, err)
			}
		}
		switch r.OnReason {
		case "", "*", ReasonOOM, ReasonTimeout, ReasonInterrupted, ReasonError:
		default:
			return Errorf(EINVALID, "%s.on_reason: %q is not a reason: use oom, timeout, interrupted, error or \"*\"", at, r.OnReason)
		}
		switch r.Action {
		case RetryActionRetry, RetryActionExit:
		default:
			return Errorf(EINVALID, "%s.action: %q is not an action: use retry or exit", at, r.Action)
		}
	}
	return nil
}

// parseExitCodes reads "3", "1-5" or "*" as an inclusive range.
func parseExitCodes(s string) (lo, hi int, err error) {
	if s == "*" {
		return -1 << 31, 1<<31 - 1, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	lo, errA := strconv.Atoi(strings.TrimSpace(a))
	hi, errB := lo, error(nil)
	if isRange {
		hi, errB = strconv.Atoi(strings.TrimSpace(b))
	}
	if errA != nil || errB != nil || lo < 0 || hi < lo || hi > 255 {
		return 0, 0, fmt.Errorf("%q is not an exit code: use a code 0-255 (\"3\"), a range (\"1-5\") or \"*\"", s)
	}
	return lo, hi, nil
}

// RunOutcome is how a run that did not complete ended, as the retry rules see it.
type RunOutcome struct {
	// Reason is oom, timeout, interrupted, error, or "" for a plain non-zero exit.
	Reason string
	// ExitCode is the container's exit code; nil when it has none.
	ExitCode *int
}

func (r ExitRule) matches(o RunOutcome) bool {
	if r.OnReason != "" && r.OnReason != o.Reason && (r.OnReason != "*" || o.Reason == "") {
		return false
	}
	if r.OnExitCode != "" {
		if o.ExitCode == nil {
			return false
		}
		lo, hi, err := parseExitCodes(r.OnExitCode)
		if err != nil || *o.ExitCode < lo || *o.ExitCode > hi {
			return false
		}
	}
	return true
}

// Retries reports whether a run that ended with o, being attempt of the
// job's runs, is tried again.
func (s RetryStrategy) Retries(attempt int, o RunOutcome) bool {
	if attempt >= s.Attempts {
		return false
	}
	for _, r := range s.EvaluateOnExit {
		if r.matches(o) {
			return r.Action == RetryActionRetry
		}
	}
	return true
}

// RetryBackoff is the wait before attempt next (2, 3, …): 10 s, doubling,
// at most 10 minutes.
func RetryBackoff(next int) time.Duration {
	d := 10 * time.Second
	for i := 2; i < next && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// RetryWaitSentence is the pending reason of a job waiting for its next attempt.
func RetryWaitSentence(next, attempts int, at time.Time) string {
	return fmt.Sprintf("waiting to retry (attempt %d of %d at %s)", next, attempts, at.UTC().Format("15:04:05"))
}
