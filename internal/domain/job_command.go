package domain

import (
	"sort"
	"strings"
)

// SubstituteParams returns command with every Param::name replaced by
// values[name], in one pass: a value that itself contains "Param::x" is
// inserted as is, never expanded again. A placeholder without a value is an
// EINVALID error naming the first one, in order of use.
func SubstituteParams(command []string, values map[string]string) ([]string, error) {
	for _, name := range CommandParams(command) {
		if _, ok := values[name]; !ok {
			return nil, Errorf(EINVALID, "container_cmd: Param::%s has no value: pass it in container_cmd_parameter or give the definition a default", name)
		}
	}
	out := make([]string, len(command))
	for i, arg := range command {
		out[i] = paramRefRE.ReplaceAllStringFunc(arg, func(m string) string {
			return values[strings.TrimPrefix(m, "Param::")]
		})
	}
	return out, nil
}

// EffectiveCommand is what a job runs: its own command if it gave one, else
// the definition's, with placeholders filled from the job's parameters over
// the definition's defaults.
func EffectiveCommand(def JobDefinition, r SubmitJob) ([]string, error) {
	command := def.Command
	if r.Command != nil {
		if def.Type == JobDefinitionBash && len(r.Command) > 0 {
			return nil, Errorf(EINVALID, "container_cmd: job definition '%s' runs a bash script, which has no command to replace: leave container_cmd out", def.Ref())
		}
		command = r.Command
	}
	values := make(map[string]string, len(def.Parameters)+len(r.Parameters))
	for k, v := range def.Parameters {
		values[k] = v
	}
	for k, v := range r.Parameters {
		values[k] = v
	}
	return SubstituteParams(command, values)
}

// MergeEnv is the environment a job's container gets: the definition's,
// with the job's overrides applied by key (an empty override removes the
// variable), as KEY=value pairs sorted by key so a spec is stable.
func MergeEnv(def, overrides Env) []string {
	merged := make(map[string]string, len(def)+len(overrides))
	for k, v := range def {
		merged[k] = v.Value
	}
	for k, v := range overrides {
		if v.Value == "" {
			delete(merged, k)
			continue
		}
		merged[k] = v.Value
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + merged[k]
	}
	return out
}
