package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"daestro/client"
)

func projectCmd() *cobra.Command {
	return group("project", "show or change the API key's project",
		`The project the API key belongs to: its code (the "code::" of the client API's
references) and how long it keeps its runs' logs and metrics.`,
		projectGetCmd(), projectUpdateCmd())
}

func projectTable(p client.Project) *table {
	t := newTable()
	t.field("ID", idOf(p.Id))
	t.field("Code", str(p.Code))
	t.field("Name", str(p.Name))
	t.field("Log retention", num(p.LogRetentionDays)+" days after a run ends")
	t.field("Created", stamp(p.CreatedAt))
	return t
}

func projectGetCmd() *cobra.Command {
	return verb("get", "show the project", `Shows the API key's project.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.GetProject(s.ctx))
			if err != nil {
				return err
			}
			return show(s, raw, projectTable)
		})
}

func projectUpdateCmd() *cobra.Command {
	var days int
	cmd := verb("update", "change how long the project keeps its runs' logs and metrics",
		`Sets the project's log retention: a run's logs and metrics are deleted this
many days (1-3650) after it ended, by an hourly purge; the job then shows
when (logs_purged_at). Applies to every run not purged yet.`,
		cobra.NoArgs, func(s *session, _ []string) error {
			if !s.cmd.Flags().Changed("log-retention-days") {
				return errors.New("nothing to change: give --log-retention-days N")
			}
			raw, err := s.data(s.api.UpdateProject(s.ctx, client.ProjectPatch{LogRetentionDays: days}))
			if err != nil {
				return err
			}
			return show(s, raw, projectTable)
		})
	cmd.Flags().IntVar(&days, "log-retention-days", 30, "days a run's logs and metrics are kept after it ended (1-3650)")
	return cmd
}
