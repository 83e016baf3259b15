package cli

import (
	"github.com/spf13/cobra"

	"daestro/client"
)

func cronCmd() *cobra.Command {
	return group("cron", "manage cron jobs",
		`Cron jobs: a Quartz expression (sec min hour dom month dow [year]) in a time
zone submits a job of a definition to a queue, at most once a minute.
Disabled = paused. Named by name or ID.`,
		cronLsCmd(), cronGetCmd(), cronCreateCmd(), cronUpdateCmd(), cronDeleteCmd(), cronUpcomingCmd())
}

func cronTable(c client.CronJobDetail) *table {
	t := newTable("AT", "EVENT~")
	t.field("ID", idOf(c.Id))
	t.field("Name", str(c.Name))
	t.field("Description", str(c.Description))
	t.field("Expression", str(c.Expression)+" ("+str(c.TimeZone)+")")
	t.field("Enabled", yesNo(c.Enabled))
	if d := c.JobDefinition; d != nil {
		t.field("Definition", str(d.Ref))
	}
	if q := c.JobQueue; q != nil {
		t.field("Queue", str(q.Name))
	}
	t.field("Overlap", str(c.Overlap))
	t.field("Last trigger", stamp(c.LastTriggerAt))
	if j := c.LastJob; j != nil {
		t.field("Last job", str(j.Name)+" "+str(j.State))
	}
	if e := str(c.LastError); e != "" {
		t.field("Last error", e)
	}
	for _, w := range deref(c.Warnings) {
		t.field("Warning", w)
	}
	for _, e := range deref(c.Events) {
		t.row(stamp(e.At), str(e.Kind)+": "+str(e.Message))
	}
	return t
}

func cronLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list cron jobs", `Lists the project's cron jobs.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListCronJobs(s.ctx, &client.ListCronJobsParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.CronJobPage) *table {
				s.nextPage(p.NextToken)
				t := newTable("NAME~", "EXPRESSION~", "TIME ZONE~", "ENABLED", "LAST")
				for _, c := range deref(p.Items) {
					t.row(str(c.Name), str(c.Expression), str(c.TimeZone), yesNo(c.Enabled), ago(c.LastTriggerAt))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func cronGetCmd() *cobra.Command {
	return verb("get CRON", "show a cron job", `Shows a cron job, its schedule's state and its events.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.cronID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetCronJob(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, cronTable)
		})
}

// cronFlags are a cron job's settings, for create and update.
type cronFlags struct {
	expression, def, queue, tz, overlap, description, name string
	enabled                                                bool
	o                                                      overrideFlags
}

func (f *cronFlags) add(cmd *cobra.Command, update bool) {
	cmd.Flags().StringVarP(&f.expression, "expression", "e", "", "Quartz expression: sec min hour dom month dow [year], e.g. \"0 30 9 ? * MON-FRI\"")
	cmd.Flags().StringVarP(&f.def, "def", "d", "", "the job definition: `name` (follows the latest version) or name:version")
	cmd.Flags().StringVarP(&f.queue, "queue", "q", "", "the job queue")
	cmd.Flags().StringVar(&f.tz, "time-zone", "", "IANA time zone of the expression (default UTC)")
	cmd.Flags().StringVar(&f.overlap, "overlap", "", "allow_all (default), skip or buffer_one")
	cmd.Flags().StringVar(&f.description, "description", "", "what it is for")
	cmd.Flags().BoolVar(&f.enabled, "enabled", true, "false pauses the schedule")
	if update {
		cmd.Flags().StringVar(&f.name, "name", "", "the new name")
	}
	f.o.add(cmd)
}

func cronCreateCmd() *cobra.Command {
	var f cronFlags
	cmd := verb("create NAME [flags] [-- command args…]", "create a cron job",
		`Creates a cron job: -e EXPRESSION -d DEFINITION -q QUEUE, optionally a time zone,
an overlap policy and the job overrides of a submission (--param, --env,
--secret-env, a command after --).`,
		cobra.MinimumNArgs(1), func(s *session, args []string) error {
			in := client.CronJobInput{Name: args[0], Expression: f.expression, JobDefinition: f.def, JobQueue: f.queue,
				TimeZone: nonEmpty(f.tz), Description: nonEmpty(f.description)}
			if f.overlap != "" {
				in.Overlap = ptr(client.CronJobInputOverlap(f.overlap))
			}
			if s.cmd.Flags().Changed("enabled") {
				in.Enabled = &f.enabled
			}
			if cmdArgs := args[1:]; len(cmdArgs) > 0 {
				in.ContainerCmd = &cmdArgs
			}
			var err error
			if in.ContainerCmdParameter, err = f.o.parameters(); err != nil {
				return err
			}
			if in.ContainerEnv, err = f.o.environment(); err != nil {
				return err
			}
			raw, err := s.data(s.api.CreateCronJob(s.ctx, in))
			if err != nil {
				return err
			}
			return show(s, raw, cronTable)
		})
	f.add(cmd, false)
	return cmd
}

func cronUpdateCmd() *cobra.Command {
	var f cronFlags
	cmd := verb("update CRON [flags] [-- command args…]", "change a cron job", `Changes what is given of a cron job's settings; --enabled=false pauses it.`,
		cobra.MinimumNArgs(1), func(s *session, args []string) error {
			id, err := s.cronID(args[0])
			if err != nil {
				return err
			}
			p := client.CronJobPatch{Name: nonEmpty(f.name), Expression: nonEmpty(f.expression), JobDefinition: nonEmpty(f.def),
				JobQueue: nonEmpty(f.queue), TimeZone: nonEmpty(f.tz)}
			if s.cmd.Flags().Changed("description") {
				p.Description = &f.description
			}
			if f.overlap != "" {
				p.Overlap = ptr(client.CronJobPatchOverlap(f.overlap))
			}
			if s.cmd.Flags().Changed("enabled") {
				p.Enabled = &f.enabled
			}
			if cmdArgs := args[1:]; len(cmdArgs) > 0 {
				p.ContainerCmd = &cmdArgs
			}
			if p.ContainerCmdParameter, err = f.o.parameters(); err != nil {
				return err
			}
			if p.ContainerEnv, err = f.o.environment(); err != nil {
				return err
			}
			raw, err := s.data(s.api.UpdateCronJob(s.ctx, id, p))
			if err != nil {
				return err
			}
			return show(s, raw, cronTable)
		})
	f.add(cmd, true)
	return cmd
}

func cronDeleteCmd() *cobra.Command {
	return verb("delete CRON", "delete a cron job (and its schedule)", `Deletes a cron job and its Temporal schedule.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.cronID(args[0])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.DeleteCronJob(s.ctx, id)))
		})
}

func cronUpcomingCmd() *cobra.Command {
	var count int
	cmd := verb("upcoming CRON", "list a cron job's next trigger times", `Lists the next trigger times in the cron job's time zone and in UTC.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.cronID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.ListCronUpcoming(s.ctx, id, &client.ListCronUpcomingParams{Count: &count}))
			if err != nil {
				return err
			}
			return show(s, raw, func(u client.CronUpcoming) *table {
				t := newTable("AT ("+str(u.TimeZone)+")", "UTC")
				for _, it := range deref(u.Items) {
					at := ""
					if it.At != nil {
						at = it.At.Format("2006-01-02 15:04:05 MST")
					}
					utc := ""
					if it.AtUtc != nil {
						utc = it.AtUtc.UTC().Format("2006-01-02 15:04:05Z")
					}
					t.row(at, utc)
				}
				return t
			})
		})
	cmd.Flags().IntVarP(&count, "count", "n", 5, "how many")
	return cmd
}
