package domain_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

func TestSubstituteParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		values  map[string]string
		want    []string
		wantErr string
	}{
		{"no placeholders", []string{"echo", "hi"}, nil, []string{"echo", "hi"}, ""},
		{"empty command", []string{}, nil, []string{}, ""},
		{"whole element", []string{"uname", "Param::subcommand"}, map[string]string{"subcommand": "-a"}, []string{"uname", "-a"}, ""},
		{"inside elements", []string{"--day=Param::day", "s3://b/Param::day/Param::part.csv"}, map[string]string{"day": "2025-05-17", "part": "7"},
			[]string{"--day=2025-05-17", "s3://b/2025-05-17/7.csv"}, ""},
		{"empty value is a value", []string{"x", "Param::flag"}, map[string]string{"flag": ""}, []string{"x", ""}, ""},
		{"a value is never expanded again", []string{"Param::a"}, map[string]string{"a": "Param::b", "b": "no"}, []string{"Param::b"}, ""},
		{"longest name wins", []string{"Param::day_2"}, map[string]string{"day": "x", "day_2": "y"}, []string{"y"}, ""},
		{"unused values are fine", []string{"Param::a"}, map[string]string{"a": "1", "zzz": "2"}, []string{"1"}, ""},
		{"case matters", []string{"param::a"}, nil, []string{"param::a"}, ""},
		{"missing value", []string{"etl", "Param::day"}, map[string]string{"other": "x"}, nil,
			"container_cmd: Param::day has no value: pass it in container_cmd_parameter or give the definition a default"},
		{"first missing in order of use", []string{"Param::b", "Param::a"}, nil, nil, "Param::b has no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.SubstituteParams(tt.command, tt.values)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEffectiveCommand(t *testing.T) {
	t.Parallel()
	def := domain.JobDefinition{Name: "etl", Version: 2, Type: domain.JobDefinitionDocker,
		Command: []string{"etl", "--day", "Param::day", "--mode", "Param::mode"}, Parameters: map[string]string{"mode": "full"}}
	tests := []struct {
		name    string
		req     domain.SubmitJob
		want    []string
		wantErr string
	}{
		{"definition's command, job parameter and definition default",
			domain.SubmitJob{Parameters: map[string]string{"day": "2025-05-17"}}, []string{"etl", "--day", "2025-05-17", "--mode", "full"}, ""},
		{"job parameters override defaults",
			domain.SubmitJob{Parameters: map[string]string{"day": "d", "mode": "delta"}}, []string{"etl", "--day", "d", "--mode", "delta"}, ""},
		{"job command replaces the definition's", domain.SubmitJob{Command: []string{"echo", "Param::mode"}}, []string{"echo", "full"}, ""},
		{"an empty job command replaces too", domain.SubmitJob{Command: []string{}}, []string{}, ""},
		{"missing value", domain.SubmitJob{}, nil, "Param::day has no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.EffectiveCommand(def, tt.req)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	bash := domain.JobDefinition{Name: "script", Version: 1, Type: domain.JobDefinitionBash, Command: []string{}}
	_, err := domain.EffectiveCommand(bash, domain.SubmitJob{Command: []string{"echo"}})
	require.ErrorContains(t, err, "container_cmd: job definition 'script:1' runs a bash script")
	got, err := domain.EffectiveCommand(bash, domain.SubmitJob{Command: []string{}})
	require.NoError(t, err)
	assert.Equal(t, []string{}, got)
}

func TestParseScheduleAt(t *testing.T) {
	t.Parallel()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		v = v.UTC()
		return &v
	}
	tests := []struct {
		raw     string
		want    *time.Time
		wantErr string
	}{
		{raw: ``},
		{raw: `null`},
		{raw: `""`},
		{raw: `"2025-05-17T06:37:00.000Z"`, want: at("2025-05-17T06:37:00Z")},
		{raw: `"2025-05-17T08:37:00+02:00"`, want: at("2025-05-17T06:37:00Z")},
		{raw: `"2025-05-17T06:37:00.123456789Z"`, want: at("2025-05-17T06:37:00.123456Z")},
		{raw: `1747463820`, want: at("2025-05-17T06:37:00Z")},
		{raw: ` 1747463820 `, want: at("2025-05-17T06:37:00Z")},
		{raw: `1747463820.25`, want: at("2025-05-17T06:37:00.25Z")},
		{raw: `1.74746382e9`, want: at("2025-05-17T06:37:00Z")},
		{raw: `0`, want: at("1970-01-01T00:00:00Z")},
		{raw: `"2000-01-01T00:00:00Z"`, want: at("2000-01-01T00:00:00Z")},
		{raw: `"2025-05-17 06:37:00"`, wantErr: `"2025-05-17 06:37:00" is not an RFC 3339 time`},
		{raw: `"2025-05-17"`, wantErr: "is not an RFC 3339 time"},
		{raw: `"tomorrow"`, wantErr: "is not an RFC 3339 time"},
		{raw: `-1`, wantErr: "is outside 1970 to 9999"},
		{raw: `1e300`, wantErr: "is outside 1970 to 9999"},
		{raw: `99999999999999999999`, wantErr: "is outside 1970 to 9999"},
		{raw: `"1969-12-31T23:59:59Z"`, wantErr: "is outside 1970 to 9999"},
		{raw: `true`, wantErr: "is neither a string nor a number"},
		{raw: `{"at":1}`, wantErr: "is neither a string nor a number"},
		{raw: `["2025-05-17T06:37:00Z"]`, wantErr: "is neither a string nor a number"},
		{raw: `"1747463820"`, wantErr: "is not an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := domain.ParseScheduleAt(json.RawMessage(tt.raw))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "schedule_at: ", "the message names the field")
				return
			}
			require.NoError(t, err)
			if tt.want == nil {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.True(t, tt.want.Equal(*got), "got %s, want %s", got, tt.want)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestSubmitJobInputNormalize(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	valid := func() domain.SubmitJobInput {
		return domain.SubmitJobInput{JobDefinition: "acme::etl:3", JobQueue: "acme::nightly"}
	}
	got, err := domain.SubmitJobInput{
		JobDefinition: "acme::etl:3", JobQueue: "acme::nightly", Name: "Run-42",
		ContainerCmd: []string{"etl", "Param::day"}, ContainerCmdParameter: map[string]string{"day": "2025-05-17"},
		ContainerEnv: map[string]domain.EnvVarInput{"TOKEN": {Value: str("s3cret"), Sensitive: true}, "DROP": {}},
		ScheduleAt:   json.RawMessage(`1747463820`),
	}.Normalize("acme", true)
	require.NoError(t, err)
	at := time.Unix(1747463820, 0).UTC()
	assert.Equal(t, domain.SubmitJob{DefinitionName: "etl", DefinitionVersion: 3, QueueName: "nightly", Name: "Run-42",
		Command: []string{"etl", "Param::day"}, Parameters: map[string]string{"day": "2025-05-17"},
		Env: domain.Env{"TOKEN": {Value: "s3cret", Sensitive: true}, "DROP": {}}, ScheduleAt: &at}, got)
	assert.Equal(t, "etl:3", got.DefinitionRef())

	got, err = valid().Normalize("acme", true)
	require.NoError(t, err)
	assert.Nil(t, got.Command, "no container_cmd keeps the definition's command")
	assert.Equal(t, map[string]string{}, got.Parameters)
	assert.Equal(t, domain.Env{}, got.Env)
	latest, err := domain.SubmitJobInput{JobDefinition: "acme::etl", JobQueue: "acme::q"}.Normalize("acme", true)
	require.NoError(t, err)
	assert.Equal(t, 0, latest.DefinitionVersion, "no version: the latest active one")

	plain, err := domain.SubmitJobInput{JobDefinition: "etl", JobQueue: "nightly"}.Normalize("acme", false)
	require.NoError(t, err, "the management API takes names without the project code")
	assert.Equal(t, "etl", plain.DefinitionName)
	assert.Equal(t, "nightly", plain.QueueName)

	tests := []struct {
		name    string
		edit    func(*domain.SubmitJobInput)
		prefix  bool
		wantErr string
	}{
		{"definition required", func(in *domain.SubmitJobInput) { in.JobDefinition = "" }, true, "job_definition: is required, e.g. acme::nightly-etl:3"},
		{"queue required", func(in *domain.SubmitJobInput) { in.JobQueue = "" }, true, "job_queue: is required, e.g. acme::etl"},
		{"client API needs the project code", func(in *domain.SubmitJobInput) { in.JobQueue = "nightly" }, true,
			`job_queue: "nightly" must start with the project code, e.g. acme::nightly`},
		{"another project's definition", func(in *domain.SubmitJobInput) { in.JobDefinition = "other::etl:3" }, true,
			"job_definition: project code 'other' is not the project of this API key ('acme'): use acme::etl:3"},
		{"another project's queue, management API too", func(in *domain.SubmitJobInput) { in.JobQueue = "other::nightly" }, false,
			"job_queue: project code 'other' is not the project of this API key ('acme')"},
		{"nothing after the code", func(in *domain.SubmitJobInput) { in.JobQueue = "acme::" }, true, `job_queue: "acme::" names no job queue after the project code`},
		{"bad version", func(in *domain.SubmitJobInput) { in.JobDefinition = "acme::etl:0" }, true, "job_definition: job definition reference \"etl:0\": the version must be"},
		{"bad definition name", func(in *domain.SubmitJobInput) { in.JobDefinition = "acme::e t l" }, true, "job_definition: job definition reference"},
		{"bad queue name", func(in *domain.SubmitJobInput) { in.JobQueue = "acme::a:b" }, true, `job_queue: "a:b" is not a job queue name`},
		{"bad name", func(in *domain.SubmitJobInput) { in.Name = "my job" }, true, `name: "my job" is not a valid job name`},
		{"long name", func(in *domain.SubmitJobInput) { in.Name = strings.Repeat("a", 129) }, true, "is not a valid job name: use 1-128 characters"},
		{"NUL in command", func(in *domain.SubmitJobInput) { in.ContainerCmd = []string{"a", "b\x00"} }, true, "container_cmd: element 1 contains a NUL character"},
		{"bad parameter name", func(in *domain.SubmitJobInput) { in.ContainerCmdParameter = map[string]string{"a-b": "x"} }, true,
			`container_cmd_parameter: "a-b" is not a parameter name`},
		{"bad env key", func(in *domain.SubmitJobInput) {
			in.ContainerEnv = map[string]domain.EnvVarInput{"1X": {Value: str("v")}}
		}, true,
			`container_env: "1X" is not a variable name`},
		{"reserved env key", func(in *domain.SubmitJobInput) {
			in.ContainerEnv = map[string]domain.EnvVarInput{"DAESTRO_JOB_ID": {Value: str("v")}}
		}, true, `container_env: "DAESTRO_JOB_ID" starts with DAESTRO_`},
		{"bad schedule", func(in *domain.SubmitJobInput) { in.ScheduleAt = json.RawMessage(`"soon"`) }, true, `schedule_at: "soon" is not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.edit(&in)
			_, err := in.Normalize("acme", tt.prefix)
			require.Error(t, err)
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestRandomJobName(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[a-z]+-[a-z]+-[1-9][0-9]{3}$`)
	seen := map[string]bool{}
	for range 1000 {
		n := domain.RandomJobName()
		assert.Regexp(t, re, n)
		require.NoError(t, domain.ValidateJobName(n))
		seen[n] = true
	}
	assert.Greater(t, len(seen), 990, "names are spread widely enough that clashes are rare")
}

func TestMergeEnv(t *testing.T) {
	t.Parallel()
	def := domain.Env{"A": {Value: "1"}, "B": {Value: "2", Sensitive: true}, "C": {Value: "3"}}
	got := domain.MergeEnv(def, domain.Env{"B": {Value: "override"}, "C": {}, "D": {Value: "4", Sensitive: true}})
	assert.Equal(t, []string{"A=1", "B=override", "D=4"}, got, "overrides by key, an empty one removes, sorted by key")
	assert.Equal(t, []string{}, domain.MergeEnv(nil, nil))
}

func TestJobStates(t *testing.T) {
	t.Parallel()
	var cancellable, final []domain.JobState
	for _, s := range domain.JobStates {
		require.NoError(t, domain.ValidateJobState("state", s))
		if s.IsCancellable() {
			cancellable = append(cancellable, s)
		}
		if s.IsFinal() {
			final = append(final, s)
		}
	}
	assert.Equal(t, []domain.JobState{"submitted", "pending", "runnable", "starting", "running"}, cancellable)
	assert.Equal(t, []domain.JobState{"cancelled", "timeout", "completed", "failed", "error"}, final)
	assert.EqualError(t, domain.JobNotCancellable("j1", "completed"), "job j1 is completed: only queued or running jobs can be cancelled")
}

// FuzzSubstituteParams: substitution never panics, fills every placeholder
// that has a value, refuses exactly when one has none, and never expands a
// value a second time.
func FuzzSubstituteParams(f *testing.F) {
	f.Add("uname Param::subcommand", "subcommand", "-a")
	f.Add("--day=Param::day/Param::day", "day", "Param::day")
	f.Add("Param::x_1y Param::", "x_1y", "")
	f.Add("param::x Param::-", "x", "v")
	f.Add("Param::a\x00Param::b", "a", "é")
	f.Fuzz(func(t *testing.T, command, name, value string) {
		args := strings.Fields(command)
		values := map[string]string{name: value}
		got, err := domain.SubstituteParams(args, values)
		missing := false
		for _, p := range domain.CommandParams(args) {
			if _, ok := values[p]; !ok {
				missing = true
			}
		}
		if missing {
			require.Error(t, err)
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.Contains(t, err.Error(), "has no value")
			return
		}
		require.NoError(t, err)
		require.Len(t, got, len(args))
		if !strings.Contains(value, "Param::") {
			assert.Empty(t, domain.CommandParams(got), "no placeholder is left: %q → %q", args, got)
		}
		// Substituting with a marker and then the value gives the same result:
		// the one-pass replacement never looks inside an inserted value.
		if strings.Contains(command, "\x01") {
			return
		}
		marked, err := domain.SubstituteParams(args, map[string]string{name: "\x01"})
		require.NoError(t, err)
		for i := range marked {
			assert.Equal(t, strings.ReplaceAll(marked[i], "\x01", value), got[i])
		}
	})
}

// FuzzParseScheduleAt: any JSON value is either refused with a message naming
// the field or read as a UTC time within 1970..9999.
func FuzzParseScheduleAt(f *testing.F) {
	for _, s := range []string{`"2025-05-17T06:37:00.000Z"`, `1747463820`, `1747463820.5`, `-1`, `null`, `""`, `"x"`, `true`, `1e400`, `"\u0000"`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := domain.ParseScheduleAt(json.RawMessage(raw))
		if err != nil {
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.True(t, strings.HasPrefix(err.Error(), "schedule_at: "), err.Error())
			return
		}
		if got == nil {
			return
		}
		assert.Equal(t, time.UTC, got.Location())
		assert.False(t, got.Before(time.Unix(0, 0)), "%s", got)
		assert.Less(t, got.Year(), 10000)
		assert.Equal(t, got.Truncate(time.Microsecond), *got, "stored exactly as answered")
	})
}

// FuzzNormalizeReferences: any pair of references is either refused with a
// message naming the field or resolved to names of the caller's project.
func FuzzNormalizeReferences(f *testing.F) {
	for _, s := range [][2]string{{"acme::etl:3", "acme::q"}, {"other::etl", "acme::q"}, {"etl", "q"}, {"acme::", "::"},
		{"acme::acme::etl", "acme::q::x"}, {"acme::etl:1:2", "acme::é"}} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, def, queue string, prefix bool) {
		got, err := domain.SubmitJobInput{JobDefinition: def, JobQueue: queue}.Normalize("acme", prefix)
		if err != nil {
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "job_definition: ") || strings.HasPrefix(msg, "job_queue: "), msg)
			return
		}
		assert.Regexp(t, `^[a-zA-Z0-9-]{1,128}$`, got.DefinitionName)
		assert.Regexp(t, `^[a-zA-Z0-9-]{1,128}$`, got.QueueName)
		assert.GreaterOrEqual(t, got.DefinitionVersion, 0)
		if prefix {
			assert.True(t, strings.HasPrefix(def, "acme::") && strings.HasPrefix(queue, "acme::"), "the client API takes only the caller's project")
		}
	})
}
