package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

func TestCommandParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		want    []string
	}{
		{"none", []string{"echo", "hello"}, nil},
		{"empty command", nil, nil},
		{"whole element", []string{"etl", "Param::input"}, []string{"input"}},
		{"inside an element", []string{"--in=Param::input_file", "--out=s3://b/Param::day/x"}, []string{"input_file", "day"}},
		{"several in one element", []string{"Param::a-Param::b"}, []string{"a", "b"}},
		{"each once, in order of first use", []string{"Param::b", "Param::a", "Param::b"}, []string{"b", "a"}},
		{"digits and underscores", []string{"Param::_1x_2"}, []string{"_1x_2"}},
		{"name stops at other characters", []string{"Param::in.csv"}, []string{"in"}},
		{"no name is no placeholder", []string{"Param::", "Param::-x"}, nil},
		{"case matters", []string{"param::x", "PARAM::y"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, domain.CommandParams(tt.command))
		})
	}
}

func TestParseDefinitionRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref     string
		name    string
		version int
		wantErr string
	}{
		{ref: "etl", name: "etl"},
		{ref: "etl:3", name: "etl", version: 3},
		{ref: "Nightly-ETL-2:12", name: "Nightly-ETL-2", version: 12},
		{ref: strings.Repeat("a", 128) + ":1", name: strings.Repeat("a", 128), version: 1},
		{ref: "", wantErr: "the name must be"},
		{ref: ":3", wantErr: "the name must be"},
		{ref: "etl_x:3", wantErr: "the name must be"},
		{ref: strings.Repeat("a", 129), wantErr: "the name must be"},
		{ref: "etl:", wantErr: "the version must be"},
		{ref: "etl:0", wantErr: "the version must be"},
		{ref: "etl:-1", wantErr: "the version must be"},
		{ref: "etl:+1", wantErr: "the version must be"},
		{ref: "etl:03", wantErr: "the version must be"},
		{ref: "etl:x", wantErr: "the version must be"},
		{ref: "etl:1:2", wantErr: "the version must be"},
		{ref: "etl:99999999999", wantErr: "the version must be"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			name, version, err := domain.ParseDefinitionRef(tt.ref)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.version, version)
			assert.Equal(t, tt.ref, domain.FormatDefinitionRef(name, version))
		})
	}
}

func FuzzParseDefinitionRef(f *testing.F) {
	for _, seed := range []string{"etl", "etl:3", "a-b:10", "", ":", "x:0", "x:1:2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		name, version, err := domain.ParseDefinitionRef(ref)
		if err != nil {
			return
		}
		// Whatever parses formats back to itself, and names a valid definition.
		if got := domain.FormatDefinitionRef(name, version); got != ref {
			t.Fatalf("ParseDefinitionRef(%q) = %q, %d; formats back to %q", ref, name, version, got)
		}
		if domain.ValidateName("job definition", name) != nil || version < 0 {
			t.Fatalf("ParseDefinitionRef(%q) accepted name %q version %d", ref, name, version)
		}
	})
}

func TestValidateEnvKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key     string
		wantErr string
	}{
		{key: "PATH"},
		{key: "_private"},
		{key: "db_url_2"},
		{key: "DAESTRO"},
		{key: "MY_DAESTRO_JOB"},
		{key: "", wantErr: "not a variable name"},
		{key: "2FA", wantErr: "not a variable name"},
		{key: "MY-VAR", wantErr: "not a variable name"},
		{key: "A B", wantErr: "not a variable name"},
		{key: "A=B", wantErr: "not a variable name"},
		{key: "DAESTRO_JOB_ID", wantErr: "reserved"},
		{key: "DAESTRO_", wantErr: "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			err := domain.ValidateEnvKey(tt.key)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.Contains(t, err.Error(), "env: ")
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// decodeInput decodes a request body the way the API does.
func decodeInput(t *testing.T, body string) domain.JobDefinitionInput {
	t.Helper()
	var in domain.JobDefinitionInput
	require.NoError(t, json.Unmarshal([]byte(body), &in))
	return in
}

func TestJobDefinitionInputBuild(t *testing.T) {
	t.Parallel()
	const bashImage = "ubuntu:24.04"
	base, err := decodeInput(t, `{"name":"etl","type":"docker","image":"python:3.12","command":["run","Param::day"],
		"parameters":{"day":"today"},"env":{"A":{"value":"1"},"S":{"value":"secret","sensitive":true}},
		"cpu_quota_pct":50,"memory_mb":512,"privileged":true,"timeout_seconds":60,"registry_auth_id":"r1"}`).Build(nil, bashImage)
	require.NoError(t, err)

	t.Run("omitted fields are inherited", func(t *testing.T) {
		d, err := decodeInput(t, `{"timeout_seconds":5}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.Equal(t, 5, d.TimeoutSeconds)
		assert.Equal(t, base.Image, d.Image)
		assert.Equal(t, base.Command, d.Command)
		assert.Equal(t, base.Env, d.Env)
		assert.Equal(t, base.CPUQuotaPct, d.CPUQuotaPct)
		assert.Equal(t, base.RegistryAuthID, d.RegistryAuthID)
		assert.True(t, d.Privileged)
	})
	t.Run("null resets to the default", func(t *testing.T) {
		d, err := decodeInput(t, `{"registry_auth_id":null,"cpu_quota_pct":null,"memory_mb":null,"command":null,"env":null,"privileged":null}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.Nil(t, d.RegistryAuthID)
		assert.Nil(t, d.CPUQuotaPct)
		assert.Nil(t, d.MemoryMB)
		assert.Equal(t, []string{}, d.Command)
		assert.Empty(t, d.Env)
		assert.False(t, d.Privileged)
	})
	t.Run("env merges per key", func(t *testing.T) {
		d, err := decodeInput(t, `{"env":{"A":{"value":""},"B":{"value":"2"},"S":{"sensitive":true}}}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.Equal(t, domain.Env{"B": {Value: "2"}, "S": {Value: "secret", Sensitive: true}}, d.Env)
	})
	t.Run("a value-less entry without sensitive removes the key", func(t *testing.T) {
		d, err := decodeInput(t, `{"env":{"S":{}}}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.NotContains(t, d.Env, "S")
	})
	t.Run("the base is left alone", func(t *testing.T) {
		_, err := decodeInput(t, `{"env":{"A":{"value":"changed"}},"parameters":{"x":"y"}}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.Equal(t, "1", base.Env["A"].Value)
		assert.Equal(t, map[string]string{"day": "today"}, base.Parameters)
	})
	t.Run("switching to bash drops what only docker uses", func(t *testing.T) {
		d, err := decodeInput(t, `{"type":"bash","script":"echo hi"}`).Build(&base, bashImage)
		require.NoError(t, err)
		assert.Equal(t, bashImage, d.Image)
		assert.Nil(t, d.RegistryAuthID)
	})
	t.Run("name is not accepted in a revision", func(t *testing.T) {
		_, err := decodeInput(t, `{"name":"etl"}`).Build(&base, bashImage)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "name: ")
	})
	t.Run("responses hide sensitive values", func(t *testing.T) {
		raw, err := json.Marshal(base)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "secret")
		assert.Contains(t, string(raw), `"S":{"sensitive":true}`)
		assert.Contains(t, string(raw), `"A":{"value":"1","sensitive":false}`)
	})
	t.Run("unknown fields and wrong types name the field", func(t *testing.T) {
		var in domain.JobDefinitionInput
		err := json.Unmarshal([]byte(`{"nmae":"x"}`), &in)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"nmae"`)
		var typ *json.UnmarshalTypeError
		require.ErrorAs(t, json.Unmarshal([]byte(`{"memory_mb":"1"}`), &in), &typ)
		assert.Equal(t, "memory_mb", typ.Field)
	})
}
