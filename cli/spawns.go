package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"daestro/client"
)

func spawnCmd() *cobra.Command {
	return group("spawn", "list, create and terminate compute spawns (machines running the agent)",
		`Compute spawns: machines running the agent, each in one job queue. Cloud
spawns are made by the dispatcher; spawn new makes a self-hosted one and
prints the docker run line that starts its agent. Named by ID.`,
		spawnLsCmd(), spawnGetCmd(), spawnNewCmd(), spawnTerminateCmd(), spawnEventsCmd())
}

func spawnTable(sp client.ComputeSpawn) *table {
	t := newTable()
	t.field("ID", idOf(sp.Id))
	t.field("Kind", str(sp.Kind))
	t.field("State", str(sp.State))
	if sp.JobQueue != nil {
		t.field("Queue", str(sp.JobQueue.Name))
	}
	if sp.ComputeEnv != nil {
		t.field("Compute env", str(sp.ComputeEnv.Name))
	}
	if c := sp.Capacity; c != nil {
		t.field("CPU", fmt.Sprintf("%s %% free of %s %%", num(c.FreeCpuPct), num(c.TotalCpuPct)))
		t.field("Memory", fmt.Sprintf("%s MB free of %s MB", num(c.FreeMemoryMb), num(c.TotalMemoryMb)))
	}
	if m := sp.Machine; m != nil {
		t.field("Machine", fmt.Sprintf("%s %s %s %s", str(m.Provider), str(m.InstanceId), str(m.InstanceType), str(m.PublicIpv4)))
	}
	t.field("Host", str(sp.Hostname))
	t.field("Agent", str(sp.AgentVersion))
	t.field("Last ping", stamp(sp.LastPingAt))
	t.field("Running runs", list(sp.RunningRuns))
	if n := str(sp.SystemNote); n != "" {
		t.field("Note", n)
	}
	t.field("Created", stamp(sp.CreatedAt))
	return t
}

func spawnLsCmd() *cobra.Command {
	var queue, state, next string
	cmd := verb("ls", "list compute spawns", `Lists compute spawns, optionally of one queue or in one state.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			p := client.ListComputeSpawnsParams{NextToken: nonEmpty(next)}
			if queue != "" {
				id, err := s.queueID(queue)
				if err != nil {
					return err
				}
				u, _ := parseUUID(id)
				p.JobQueueId = &u
			}
			if state != "" {
				p.State = ptr(client.ListComputeSpawnsParamsState(state))
			}
			raw, err := s.data(s.api.ListComputeSpawns(s.ctx, &p))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.ComputeSpawnPage) *table {
				s.nextPage(p.NextToken)
				t := newTable("ID", "KIND", "STATE", "QUEUE~", "ENV~", "AGE")
				for _, sp := range deref(p.Items) {
					q, e := "", ""
					if sp.JobQueue != nil {
						q = str(sp.JobQueue.Name)
					}
					if sp.ComputeEnv != nil {
						e = str(sp.ComputeEnv.Name)
					}
					t.row(idOf(sp.Id), str(sp.Kind), str(sp.State), q, e, ago(sp.CreatedAt))
				}
				return t
			})
		})
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "only spawns of this queue (name or ID)")
	cmd.Flags().StringVar(&state, "state", "", "only spawns in this state (idle, busy, terminated, …)")
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func spawnGetCmd() *cobra.Command {
	return verb("get SPAWN", "show a compute spawn", `Shows a compute spawn: state, capacity, machine, agent.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			raw, err := s.data(s.api.GetComputeSpawn(s.ctx, args[0]))
			if err != nil {
				return err
			}
			return show(s, raw, spawnTable)
		})
}

func spawnNewCmd() *cobra.Command {
	var env, queue string
	cmd := verb("new --env ENV --queue QUEUE", "create a self-hosted spawn; prints its agent token and docker run line",
		`Creates a self-hosted compute spawn of a self-hosted environment in a queue,
and prints its one-time agent token (shown only now) and the docker run line
that starts its agent: run that line on the machine.`,
		cobra.NoArgs, func(s *session, _ []string) error {
			if env == "" || queue == "" {
				return fmt.Errorf("spawn new needs --env ENV and --queue QUEUE")
			}
			envID, err := s.envID(env)
			if err != nil {
				return err
			}
			queueID, err := s.queueID(queue)
			if err != nil {
				return err
			}
			e, _ := parseUUID(envID)
			q, _ := parseUUID(queueID)
			raw, err := s.data(s.api.CreateComputeSpawn(s.ctx, client.ComputeSpawnInput{ComputeEnvId: e, JobQueueId: q}))
			if err != nil {
				return err
			}
			if s.format != "table" {
				return printRaw(s.out, s.format, raw)
			}
			c, err := as[client.CreatedComputeSpawn](raw, nil)
			if err != nil {
				return err
			}
			// Not a table: the line must stay whole to be pasted.
			fmt.Fprintf(s.out, "Spawn:        %s\nAgent token:  %s (shown only now)\n", idOf(c.Spawn.Id), str(c.AgentToken))
			if n := str(c.Note); n != "" {
				fmt.Fprintf(s.out, "Note:         %s\n", n)
			}
			fmt.Fprintf(s.out, "Start its agent on the machine with:\n\n%s\n", str(c.DockerRun))
			return nil
		})
	cmd.Flags().StringVar(&env, "env", "", "the self-hosted compute environment (name or ID)")
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "the job queue (name or ID)")
	return cmd
}

func spawnTerminateCmd() *cobra.Command {
	return verb("terminate SPAWN", "terminate a compute spawn", `Terminates a compute spawn: its agent stops (a cloud machine is deleted).`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			raw, err := s.data(s.api.TerminateComputeSpawn(s.ctx, args[0]))
			if err != nil {
				return err
			}
			return show(s, raw, spawnTable)
		})
}

func spawnEventsCmd() *cobra.Command {
	return verb("events SPAWN", "list a compute spawn's state changes", `Lists a compute spawn's state transitions, oldest first.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			raw, err := s.data(s.api.ListComputeSpawnEvents(s.ctx, args[0], &client.ListComputeSpawnEventsParams{Limit: ptr(pageSize)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.SpawnEventPage) *table {
				t := newTable("AT", "STATE", "REASON~")
				for _, e := range deref(p.Items) {
					t.row(stamp(e.At), str(e.State), str(e.Reason))
				}
				return t
			})
		})
}
