package cli

import (
	"github.com/spf13/cobra"

	"daestro/client"
)

func envCmd() *cobra.Command {
	return group("env", "manage compute environments",
		`Compute environments: templates for machines — a cloud auth with a region and
an instance type, or self-hosted machines you run the agent on. Only the name
and the enabled state change after creation. Named by name or ID.`,
		envLsCmd(), envGetCmd(), envCreateCmd(), envUpdateCmd(), envDeleteCmd())
}

func envTable(e client.ComputeEnv) *table {
	t := newTable()
	t.field("ID", idOf(e.Id))
	t.field("Name", str(e.Name))
	t.field("Kind", str(e.Kind))
	t.field("Enabled", yesNo(e.Enabled))
	if str(e.Kind) == "cloud" {
		t.field("Cloud auth", idOf(e.CloudAuthId))
		t.field("Region", str(e.Region))
		t.field("Instance type", str(e.InstanceType)+" ("+num(e.InstanceVcpu)+" vCPU, "+num(e.InstanceMemoryMb)+" MB)")
	} else {
		t.field("Usable CPU", firstOf(num(e.UsableCpuPct), "the whole machine")+" %")
		t.field("Usable memory", firstOf(num(e.UsableMemoryMb), "the whole machine")+" MB")
	}
	t.field("Created", stamp(e.CreatedAt))
	return t
}

func envLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list compute environments", `Lists the project's compute environments.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListComputeEnvs(s.ctx, &client.ListComputeEnvsParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.ComputeEnvPage) *table {
				s.nextPage(p.NextToken)
				// Environments go by name in every command: the ID is in -o json.
				t := newTable("NAME~", "KIND", "ENABLED", "REGION~", "TYPE~")
				for _, e := range deref(p.Items) {
					t.row(str(e.Name), str(e.Kind), yesNo(e.Enabled), str(e.Region), str(e.InstanceType))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func envGetCmd() *cobra.Command {
	return verb("get ENV", "show a compute environment", `Shows a compute environment.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.envID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetComputeEnv(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, envTable)
		})
}

func envCreateCmd() *cobra.Command {
	var (
		kind, auth, region, instanceType string
		cpu, memory                      int
		disabled                         bool
	)
	cmd := verb("create NAME", "create a compute environment (self-hosted or cloud)",
		`Creates a compute environment: --kind selfhosted (optionally --usable-cpu in
percent of a core, at least 10, and --usable-memory in MB), or --kind cloud
with --auth (a cloud auth's name or ID), --region and --instance-type
(daestro auth regions / instance-types list them).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			in := client.ComputeEnvInput{Name: args[0], Kind: ptr(client.ComputeEnvInputKind(kind)), Region: nonEmpty(region), InstanceType: nonEmpty(instanceType)}
			if auth != "" {
				id, err := s.authID(auth)
				if err != nil {
					return err
				}
				u, _ := parseUUID(id)
				in.CloudAuthId = &u
			}
			if s.cmd.Flags().Changed("usable-cpu") {
				in.UsableCpuPct = &cpu
			}
			if s.cmd.Flags().Changed("usable-memory") {
				in.UsableMemoryMb = &memory
			}
			if disabled {
				in.Enabled = ptr(false)
			}
			raw, err := s.data(s.api.CreateComputeEnv(s.ctx, in))
			if err != nil {
				return err
			}
			return show(s, raw, envTable)
		})
	cmd.Flags().StringVar(&kind, "kind", "selfhosted", "selfhosted or cloud")
	cmd.Flags().StringVar(&auth, "auth", "", "the cloud auth (name or ID; kind cloud)")
	cmd.Flags().StringVar(&region, "region", "", "the region (kind cloud)")
	cmd.Flags().StringVar(&instanceType, "instance-type", "", "the instance type (kind cloud)")
	cmd.Flags().IntVar(&cpu, "usable-cpu", 0, "CPU the agent may offer, percent of a core: 100 = one core (selfhosted; default the whole machine)")
	cmd.Flags().IntVar(&memory, "usable-memory", 0, "memory the agent may offer in MB (selfhosted; default the whole machine)")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "create it disabled")
	return cmd
}

func envUpdateCmd() *cobra.Command {
	var (
		name    string
		enabled bool
	)
	cmd := verb("update ENV", "rename, enable or disable a compute environment", `Renames (--name), enables or disables (--enabled=false) a compute environment.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.envID(args[0])
			if err != nil {
				return err
			}
			p := client.ComputeEnvPatch{Name: nonEmpty(name)}
			if s.cmd.Flags().Changed("enabled") {
				p.Enabled = &enabled
			}
			raw, err := s.data(s.api.UpdateComputeEnv(s.ctx, id, p))
			if err != nil {
				return err
			}
			return show(s, raw, envTable)
		})
	cmd.Flags().StringVar(&name, "name", "", "the new name")
	cmd.Flags().BoolVar(&enabled, "enabled", true, "enable (true) or disable (false)")
	return cmd
}

func envDeleteCmd() *cobra.Command {
	return verb("delete ENV", "delete a compute environment (disabled, no active spawn)", `Deletes a compute environment; it must be disabled and have no active spawn.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.envID(args[0])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.DeleteComputeEnv(s.ctx, id)))
		})
}
