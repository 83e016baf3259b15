package cli

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"daestro/client"
)

func defCmd() *cobra.Command {
	return group("def", "manage job definitions",
		`Job definitions: what a job runs (a Docker image or a bash script), its
command with Param::name placeholders, env, quotas and timeout. They are
immutable: def revise makes the next version. A definition is named by
name (its latest version) or name:version.`,
		defLsCmd(), defGetCmd(), defCreateCmd(), defReviseCmd(), defRevisionsCmd(), defDeleteCmd())
}

func defsTable(defs []client.JobDefinition) *table {
	t := newTable("NAME~", "VERSION", "TYPE", "IMAGE~", "CPU %", "MEMORY", "COMMAND~")
	for _, d := range defs {
		mem := num(d.MemoryMb)
		if mem != "" && mem != "0" {
			mem += " MB"
		}
		t.row(str(d.Name), num(d.Version), str(d.Type), str(d.Image), num(d.CpuQuotaPct), mem, list(d.Command))
	}
	return t
}

func defLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list job definitions (the latest version of each)", `Lists the latest active version of each job definition.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListJobDefinitions(s.ctx, &client.ListJobDefinitionsParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.JobDefinitionPage) *table {
				s.nextPage(p.NextToken)
				return defsTable(deref(p.Items))
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func defTable(d client.JobDefinition) *table {
	t := newTable("ENV", "VALUE~")
	t.field("ID", idOf(d.Id))
	t.field("Name", fmt.Sprintf("%s:%s", str(d.Name), num(d.Version)))
	t.field("Type", str(d.Type))
	if v := str(d.Image); v != "" {
		t.field("Image", v)
	}
	if v := str(d.Script); v != "" {
		t.field("Script", v)
	}
	t.field("Command", list(d.Command))
	params := deref2(d.Parameters)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		t.field("Param "+k, params[k])
	}
	if d.CpuQuotaPct != nil {
		t.field("CPU quota", num(d.CpuQuotaPct)+" % of a core")
		t.field("Memory", num(d.MemoryMb)+" MB")
	} else {
		t.field("Quotas", "none: a job takes a whole spawn")
	}
	if val(d.TimeoutSeconds) > 0 {
		t.field("Timeout", num(d.TimeoutSeconds)+" s")
	} else {
		t.field("Timeout", "none")
	}
	t.field("Privileged", yesNo(d.Privileged))
	t.field("Created", stamp(d.CreatedAt))
	env := deref2(d.Env)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		value := str(v.Value)
		if v.Sensitive != nil && *v.Sensitive {
			value = "(sensitive)"
		}
		t.row(k, value)
	}
	return t
}

// deref2 is the map p points to.
func deref2[V any](p *map[string]V) map[string]V {
	if p == nil {
		return nil
	}
	return *p
}

func defGetCmd() *cobra.Command {
	return verb("get NAME[:VERSION]", "show a job definition", `Shows a job definition version (the latest without :version).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			raw, err := s.data(s.api.GetJobDefinition(s.ctx, args[0]))
			if err != nil {
				return err
			}
			return show(s, raw, defTable)
		})
}

func defRevisionsCmd() *cobra.Command {
	return verb("revisions NAME", "list the active versions of a job definition", `Lists the active versions of a job definition.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			raw, err := s.data(s.api.ListJobDefinitionRevisions(s.ctx, args[0], &client.ListJobDefinitionRevisionsParams{}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.JobDefinitionPage) *table {
				s.nextPage(p.NextToken)
				return defsTable(deref(p.Items))
			})
		})
}

func defDeleteCmd() *cobra.Command {
	return verb("delete NAME:VERSION", "delete a job definition version", `Deletes one version of a job definition (no running job, no cron job using it).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			return s.deleted(s.data(s.api.DeleteJobDefinition(s.ctx, args[0])))
		})
}

// defFlags are the settings of a definition, for create and revise.
type defFlags struct {
	file, typ, image, script, scriptFile, registry string
	cpu, memory, timeout                           int
	privileged                                     bool
	o                                              overrideFlags
}

func (f *defFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "read the definition from a YAML or JSON file (the API's body; - for stdin)")
	cmd.Flags().StringVar(&f.typ, "type", "", "docker or bash (default docker, or bash with --script)")
	cmd.Flags().StringVar(&f.image, "image", "", "the Docker image (type docker)")
	cmd.Flags().StringVar(&f.script, "script", "", "the bash script (type bash)")
	cmd.Flags().StringVar(&f.scriptFile, "script-file", "", "read the bash script from this file")
	cmd.Flags().StringVar(&f.registry, "registry", "", "the registry auth that pulls the image (name or ID)")
	cmd.Flags().IntVar(&f.cpu, "cpu", 0, "CPU quota in percent of a core (at least 10; with --memory)")
	cmd.Flags().IntVar(&f.memory, "memory", 0, "memory limit in MB (with --cpu)")
	cmd.Flags().IntVar(&f.timeout, "timeout", 0, "execution timeout in seconds (0 = none)")
	cmd.Flags().BoolVar(&f.privileged, "privileged", false, "run the container privileged")
	f.o.add(cmd)
	cmd.Flags().Lookup("param").Usage = "a default Param::name value, `name=value` (repeatable)"
}

// fill sets in's fields from the flags that were given.
func (f *defFlags) fill(s *session, args []string, in *client.JobDefinitionRevisionInput) error {
	flags := s.cmd.Flags()
	if f.scriptFile != "" {
		b, err := os.ReadFile(f.scriptFile)
		if err != nil {
			return err
		}
		f.script = string(b)
	}
	if f.typ == "" && f.script != "" {
		f.typ = "bash"
	}
	if f.typ != "" {
		in.Type = ptr(client.JobDefinitionRevisionInputType(f.typ))
	}
	if f.image != "" {
		in.Image = &f.image
	}
	if f.script != "" {
		in.Script = &f.script
	}
	if len(args) > 0 {
		in.Command = &args
	}
	if f.registry != "" {
		id, err := s.registryID(f.registry)
		if err != nil {
			return err
		}
		u, _ := parseUUID(id)
		in.RegistryAuthId = &u
	}
	if flags.Changed("cpu") {
		in.CpuQuotaPct = &f.cpu
	}
	if flags.Changed("memory") {
		in.MemoryMb = &f.memory
	}
	if flags.Changed("timeout") {
		in.TimeoutSeconds = &f.timeout
	}
	if flags.Changed("privileged") {
		in.Privileged = &f.privileged
	}
	params, err := f.o.parameters()
	if err != nil {
		return err
	}
	if params != nil {
		in.Parameters = mergeMap(in.Parameters, *params)
	}
	env, err := f.o.environment()
	if err != nil {
		return err
	}
	if env != nil {
		in.Env = mergeMap(in.Env, *env)
	}
	return nil
}

func defCreateCmd() *cobra.Command {
	var f defFlags
	cmd := verb("create NAME [flags] [-- command args…]", "create a job definition (version 1)",
		`Creates a job definition, version 1: a Docker image (--image) or a bash script
(--script or --script-file), the command after -- (elements may hold
Param::name placeholders, --param gives their defaults), env, quotas
(--cpu and --memory, both or neither) and a timeout. Or -f def.yaml with
the API's body (name, type, image, command, parameters, env, …); flags
given with -f override the file.`,
		cobra.MinimumNArgs(1), func(s *session, args []string) error {
			var in client.JobDefinitionInput
			if f.file != "" {
				var err error
				if in, err = readSpec[client.JobDefinitionInput](f.file); err != nil {
					return err
				}
			}
			// The revision input has the same fields but the name: fill it, then copy.
			rev := client.JobDefinitionRevisionInput{Command: in.Command, CpuQuotaPct: in.CpuQuotaPct, Env: in.Env, Image: in.Image,
				MemoryMb: in.MemoryMb, Parameters: in.Parameters, Privileged: in.Privileged, RegistryAuthId: in.RegistryAuthId,
				Script: in.Script, TimeoutSeconds: in.TimeoutSeconds}
			if in.Type != "" {
				rev.Type = ptr(client.JobDefinitionRevisionInputType(in.Type))
			}
			if err := f.fill(s, args[1:], &rev); err != nil {
				return err
			}
			in = client.JobDefinitionInput{Name: args[0], Type: client.JobDefinitionInputType(firstOf(str(rev.Type), "docker")), Command: rev.Command,
				CpuQuotaPct: rev.CpuQuotaPct, Env: rev.Env, Image: rev.Image, MemoryMb: rev.MemoryMb, Parameters: rev.Parameters,
				Privileged: rev.Privileged, RegistryAuthId: rev.RegistryAuthId, Script: rev.Script, TimeoutSeconds: rev.TimeoutSeconds}
			raw, err := s.data(s.api.CreateJobDefinition(s.ctx, in))
			if err != nil {
				return err
			}
			return show(s, raw, defTable)
		})
	f.add(cmd)
	return cmd
}

func defReviseCmd() *cobra.Command {
	var f defFlags
	cmd := verb("revise NAME [flags] [-- command args…]", "make the next version of a job definition",
		`Creates version n+1 of a job definition: what is given replaces the latest
version's settings, the rest is inherited; --env merges by key (an empty
value removes one). The command after -- replaces the command. Or -f with
the API's revision body.`,
		cobra.MinimumNArgs(1), func(s *session, args []string) error {
			var in client.JobDefinitionRevisionInput
			if f.file != "" {
				var err error
				if in, err = readSpec[client.JobDefinitionRevisionInput](f.file); err != nil {
					return err
				}
			}
			if err := f.fill(s, args[1:], &in); err != nil {
				return err
			}
			raw, err := s.data(s.api.CreateJobDefinitionRevision(s.ctx, args[0], in))
			if err != nil {
				return err
			}
			return show(s, raw, defTable)
		})
	f.add(cmd)
	return cmd
}
