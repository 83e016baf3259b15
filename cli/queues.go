package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"daestro/client"
)

func queueCmd() *cobra.Command {
	return group("queue", "manage job queues",
		`Job queues: priority (lower runs first), limits, idle shutdown and the compute
environments their jobs run on. A queue is named by its name or ID.`,
		queueLsCmd(), queueGetCmd(), queueCreateCmd(), queueUpdateCmd(), queueDeleteCmd(),
		queueAddEnvCmd(), queueRemoveEnvCmd())
}

func queueLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list job queues", `Lists the project's job queues.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListJobQueues(s.ctx, &client.ListJobQueuesParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.JobQueuePage) *table {
				s.nextPage(p.NextToken)
				// Queues go by name in every command: the ID is in -o json.
				t := newTable("NAME~", "PRIORITY", "ENABLED", "MAX RUN", "MAX SPAWNS", "MAX IDLE", "ENVS~")
				for _, q := range deref(p.Items) {
					t.row(str(q.Name), num(q.Priority), yesNo(q.Enabled), limitText(q.MaxConcurrency), limitText(q.MaxSpawns), num(q.MaxIdleSeconds)+"s", envNames(q.ComputeEnvs))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func limitText(p *int) string {
	if p == nil || *p == 0 {
		return "-"
	}
	return fmt.Sprint(*p)
}

func envNames(p *[]client.ComputeEnvRef) string {
	var names []string
	for _, e := range deref(p) {
		names = append(names, str(e.Name))
	}
	return list(&names)
}

func queueGetCmd() *cobra.Command {
	return verb("get QUEUE", "show a job queue and why its jobs wait", `Shows a job queue, its compute environments and why its runnable jobs wait.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.queueID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetJobQueue(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, func(q client.JobQueueDetail) *table {
				t := newTable("WAITING JOB", "NAME~", "REASON~")
				t.field("ID", idOf(q.Id))
				t.field("Name", str(q.Name))
				t.field("Description", str(q.Description))
				t.field("Enabled", yesNo(q.Enabled))
				t.field("Priority", num(q.Priority))
				t.field("Max concurrency", limitText(q.MaxConcurrency))
				t.field("Max spawns", limitText(q.MaxSpawns))
				t.field("Max idle", num(q.MaxIdleSeconds)+" s")
				t.field("Compute envs", envNames(q.ComputeEnvs))
				if w := q.Waiting; w != nil {
					t.field("Runnable", num(w.Runnable))
					for _, j := range deref(w.Jobs) {
						t.row(str(j.Id), str(j.Name), firstOf(str(j.Detail), str(j.Reason)))
					}
				}
				t.field("Created", stamp(q.CreatedAt))
				return t
			})
		})
}

// queueFlags are the settings create and update share.
type queueFlags struct {
	description, ssh                 string
	priority, maxRun, maxSpawns, idl int
}

func (f *queueFlags) add(cmd *cobra.Command, create bool) {
	cmd.Flags().StringVar(&f.description, "description", "", "what the queue is for")
	cmd.Flags().IntVar(&f.priority, "priority", 100, "1..1000, lower runs first")
	cmd.Flags().IntVar(&f.maxRun, "max-concurrency", 0, "most jobs running at once (0 = no limit)")
	cmd.Flags().IntVar(&f.idl, "max-idle", 0, "seconds a spawn may idle before it is terminated (at least 30 with cloud environments)")
	if create {
		cmd.Flags().IntVar(&f.maxSpawns, "max-spawns", 0, "most compute spawns at once (0 = no limit)")
		cmd.Flags().StringVar(&f.ssh, "ssh-key", "", "SSH public key put on the queue's cloud machines")
	}
}

func queueCreateCmd() *cobra.Command {
	var (
		f      queueFlags
		envs   []string
		enable bool
	)
	cmd := verb("create NAME", "create a job queue (disabled until it has an environment and is enabled)",
		`Creates a job queue. It starts disabled: --env adds compute environments (by
name or ID, in round-robin order) and --enable then enables it, in one go.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			in := client.JobQueueInput{Name: args[0], Priority: f.priority, Description: nonEmpty(f.description), SshPublicKey: nonEmpty(f.ssh)}
			flags := s.cmd.Flags()
			if flags.Changed("max-concurrency") {
				in.MaxConcurrency = &f.maxRun
			}
			if flags.Changed("max-spawns") {
				in.MaxSpawns = &f.maxSpawns
			}
			if flags.Changed("max-idle") {
				in.MaxIdleSeconds = &f.idl
			}
			raw, err := s.data(s.api.CreateJobQueue(s.ctx, in))
			if err != nil {
				return err
			}
			if len(envs) > 0 || enable {
				q, err := as[client.JobQueue](raw, nil)
				if err != nil {
					return err
				}
				id := idOf(q.Id)
				for _, e := range envs {
					envID, err := s.envID(e)
					if err != nil {
						return fmt.Errorf("queue %s was created, but: %w", args[0], err)
					}
					u, _ := parseUUID(envID)
					if _, err := s.data(s.api.AddJobQueueComputeEnv(s.ctx, id, client.QueueComputeEnvInput{ComputeEnvId: u})); err != nil {
						return fmt.Errorf("queue %s was created, but adding %s failed: %w", args[0], e, err)
					}
				}
				if enable {
					if _, err := s.data(s.api.UpdateJobQueue(s.ctx, id, client.JobQueuePatch{Enabled: ptr(true)})); err != nil {
						return fmt.Errorf("queue %s was created, but enabling it failed: %w", args[0], err)
					}
				}
				if raw, err = s.data(s.api.GetJobQueue(s.ctx, id)); err != nil {
					return err
				}
			}
			return show(s, raw, queueBrief)
		})
	f.add(cmd, true)
	cmd.Flags().StringArrayVar(&envs, "env", nil, "a compute environment to add (name or ID; repeatable)")
	cmd.Flags().BoolVar(&enable, "enable", false, "enable the queue once its environments are added")
	return cmd
}

func queueBrief(q client.JobQueue) *table {
	t := newTable()
	t.field("ID", idOf(q.Id))
	t.field("Name", str(q.Name))
	t.field("Enabled", yesNo(q.Enabled))
	t.field("Priority", num(q.Priority))
	t.field("Compute envs", envNames(q.ComputeEnvs))
	return t
}

func queueUpdateCmd() *cobra.Command {
	var (
		f       queueFlags
		enabled bool
	)
	cmd := verb("update QUEUE", "change a job queue's description, priority, limits or enabled state",
		`Changes what is given of: description, priority, max concurrency, max idle,
enabled (--enabled=false disables). Other settings are fixed at creation.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.queueID(args[0])
			if err != nil {
				return err
			}
			var p client.JobQueuePatch
			flags := s.cmd.Flags()
			if flags.Changed("description") {
				p.Description = &f.description
			}
			if flags.Changed("priority") {
				p.Priority = &f.priority
			}
			if flags.Changed("max-concurrency") {
				p.MaxConcurrency = &f.maxRun
			}
			if flags.Changed("max-idle") {
				p.MaxIdleSeconds = &f.idl
			}
			if flags.Changed("enabled") {
				p.Enabled = &enabled
			}
			raw, err := s.data(s.api.UpdateJobQueue(s.ctx, id, p))
			if err != nil {
				return err
			}
			return show(s, raw, queueBrief)
		})
	f.add(cmd, false)
	cmd.Flags().BoolVar(&enabled, "enabled", true, "enable (true) or disable (false) the queue")
	return cmd
}

func queueDeleteCmd() *cobra.Command {
	return verb("delete QUEUE", "delete a job queue (no active spawn, no cron job using it)", `Deletes a job queue.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.queueID(args[0])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.DeleteJobQueue(s.ctx, id)))
		})
}

func queueAddEnvCmd() *cobra.Command {
	return verb("add-env QUEUE ENV", "add a compute environment to a job queue", `Adds a compute environment (name or ID) to a job queue, last in round-robin order.`,
		cobra.ExactArgs(2), func(s *session, args []string) error {
			id, err := s.queueID(args[0])
			if err != nil {
				return err
			}
			envID, err := s.envID(args[1])
			if err != nil {
				return err
			}
			u, _ := parseUUID(envID)
			raw, err := s.data(s.api.AddJobQueueComputeEnv(s.ctx, id, client.QueueComputeEnvInput{ComputeEnvId: u}))
			if err != nil {
				return err
			}
			return show(s, raw, func(any) *table {
				t := newTable()
				t.field("Added", args[1]+" to "+args[0])
				return t
			})
		})
}

func queueRemoveEnvCmd() *cobra.Command {
	return verb("remove-env QUEUE ENV", "remove a compute environment from a job queue", `Removes a compute environment from a job queue (not the last one of an enabled queue).`,
		cobra.ExactArgs(2), func(s *session, args []string) error {
			id, err := s.queueID(args[0])
			if err != nil {
				return err
			}
			envID, err := s.envID(args[1])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.RemoveJobQueueComputeEnv(s.ctx, id, envID)))
		})
}

// deleted prints what a delete answered.
func (s *session) deleted(raw []byte, err error) error {
	if err != nil {
		return err
	}
	return show(s, raw, func(d map[string]any) *table {
		t := newTable()
		t.field("Deleted", fmt.Sprint(firstOf(fmt.Sprint(d["id"]), "yes")))
		return t
	})
}
