package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"daestro/internal/domain"
)

func code(c int) *int { return &c }

func TestRetryStrategyRules(t *testing.T) {
	s := domain.RetryStrategy{Attempts: 3, EvaluateOnExit: []domain.ExitRule{
		{OnReason: "oom", Action: "exit"},
		{OnExitCode: "3", Action: "retry"},
		{OnExitCode: "10-20", Action: "retry"},
		{OnReason: "*", Action: "exit"},
		{OnExitCode: "*", Action: "exit"},
	}}
	for _, tt := range []struct {
		name    string
		attempt int
		o       domain.RunOutcome
		want    bool
	}{
		{"exact code", 1, domain.RunOutcome{ExitCode: code(3)}, true},
		{"range low end", 1, domain.RunOutcome{ExitCode: code(10)}, true},
		{"range high end", 2, domain.RunOutcome{ExitCode: code(20)}, true},
		{"outside the range", 1, domain.RunOutcome{ExitCode: code(21)}, false},
		{"oom before its code", 1, domain.RunOutcome{Reason: "oom", ExitCode: code(3)}, false},
		{"any reason", 1, domain.RunOutcome{Reason: "timeout", ExitCode: code(143)}, false},
		{"no attempts left", 3, domain.RunOutcome{ExitCode: code(3)}, false},
	} {
		assert.Equal(t, tt.want, s.Retries(tt.attempt, tt.o), tt.name)
	}
	noRules := domain.RetryStrategy{Attempts: 2}
	assert.True(t, noRules.Retries(1, domain.RunOutcome{ExitCode: code(1)}), "without rules every failure retries while attempts remain")
	assert.True(t, noRules.Retries(1, domain.RunOutcome{Reason: "error"}))
	codeOnly := domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{OnExitCode: "*", Action: "exit"}}}
	assert.True(t, codeOnly.Retries(1, domain.RunOutcome{Reason: "interrupted"}), "an exit-code rule never matches a run without a code")

	def := domain.Effective(nil, nil)
	assert.True(t, def.Retries(1, domain.RunOutcome{Reason: "interrupted"}), "the default retries an interruption once")
	assert.False(t, def.Retries(2, domain.RunOutcome{Reason: "interrupted"}))
	for _, o := range []domain.RunOutcome{{ExitCode: code(1)}, {Reason: "oom", ExitCode: code(137)}, {Reason: "timeout"}, {Reason: "error"}} {
		assert.False(t, def.Retries(1, o), "the default retries nothing else: %+v", o)
	}
	own := domain.RetryStrategy{Attempts: 5}
	assert.Equal(t, 5, domain.Effective(&own, &domain.RetryStrategy{Attempts: 2}).Attempts, "the job's own strategy wins over its definition's")
}

func TestRetryStrategyValidate(t *testing.T) {
	for _, tt := range []struct {
		s    domain.RetryStrategy
		want string
	}{
		{domain.RetryStrategy{Attempts: 0}, "retry_strategy.attempts: 0 is out of range: a job gets 1 to 10 runs in all (1 = no retry)"},
		{domain.RetryStrategy{Attempts: 11}, "retry_strategy.attempts: 11 is out of range"},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{Action: "retry"}}}, "retry_strategy.evaluate_on_exit[0]: give on_exit_code"},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{OnExitCode: "5-1", Action: "retry"}}}, `retry_strategy.evaluate_on_exit[0].on_exit_code: "5-1" is not an exit code`},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{OnExitCode: "x", Action: "retry"}}}, `"x" is not an exit code`},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{OnReason: "crash", Action: "retry"}}}, `on_reason: "crash" is not a reason`},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{{OnReason: "oom", Action: "again"}}}, `action: "again" is not an action: use retry or exit`},
		{domain.RetryStrategy{Attempts: 2, EvaluateOnExit: make([]domain.ExitRule, 6)}, "6 rules are too many: at most 5"},
	} {
		err := tt.s.Validate("retry_strategy")
		if assert.Error(t, err, "%+v", tt.s) {
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.Contains(t, domain.ErrorMessage(err), tt.want)
		}
	}
	assert.NoError(t, domain.RetryStrategy{Attempts: 3, EvaluateOnExit: []domain.ExitRule{{OnExitCode: "1-5", OnReason: "*", Action: "retry"}}}.Validate("x"))
}

func TestRetryBackoff(t *testing.T) {
	assert.Equal(t, 10*time.Second, domain.RetryBackoff(2))
	assert.Equal(t, 20*time.Second, domain.RetryBackoff(3))
	assert.Equal(t, 40*time.Second, domain.RetryBackoff(4))
	assert.Equal(t, 10*time.Minute, domain.RetryBackoff(10))
	assert.Equal(t, "waiting to retry (attempt 2 of 3 at 10:42:05)", domain.RetryWaitSentence(2, 3, time.Date(2026, 1, 1, 10, 42, 5, 0, time.UTC)))
}
