package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"daestro/client"
)

func registryCmd() *cobra.Command {
	return group("registry", "manage container registry auths",
		`Container registry auths: a registry URL (empty = Docker Hub), a username and a
password or token, used to pull a definition's image. Immutable: to change
one, create another. Named by name or ID.`,
		registryLsCmd(), registryGetCmd(), registryCreateCmd(), registryDeleteCmd())
}

func registryTable(r client.RegistryAuth) *table {
	t := newTable()
	t.field("ID", idOf(r.Id))
	t.field("Name", str(r.Name))
	t.field("Registry", firstOf(str(r.RegistryUrl), "Docker Hub"))
	t.field("Username", str(r.Username))
	t.field("Password", str(r.PasswordHint))
	t.field("Created", stamp(r.CreatedAt))
	return t
}

func registryLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list registry auths", `Lists the project's container registry auths.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListRegistryAuths(s.ctx, &client.ListRegistryAuthsParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.RegistryAuthPage) *table {
				s.nextPage(p.NextToken)
				t := newTable("NAME~", "REGISTRY~", "USERNAME~", "CREATED")
				for _, r := range deref(p.Items) {
					t.row(str(r.Name), firstOf(str(r.RegistryUrl), "Docker Hub"), str(r.Username), ago(r.CreatedAt))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func registryGetCmd() *cobra.Command {
	return verb("get REGISTRY", "show a registry auth", `Shows a registry auth (never its password).`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.registryID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetRegistryAuth(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, registryTable)
		})
}

func registryCreateCmd() *cobra.Command {
	var url, user, password string
	var passwordStdin bool
	cmd := verb("create NAME", "create a registry auth", `Creates a registry auth. --password-stdin reads the password from stdin, so it stays out of the shell's history.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			if passwordStdin {
				b, err := readAllStdin()
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || password == "" {
				return fmt.Errorf("registry create needs --username and --password (or --password-stdin)")
			}
			in := client.RegistryAuthInput{Name: args[0], RegistryUrl: nonEmpty(url), Username: &user, Password: &password}
			raw, err := s.data(s.api.CreateRegistryAuth(s.ctx, in))
			if err != nil {
				return err
			}
			return show(s, raw, registryTable)
		})
	cmd.Flags().StringVar(&url, "registry-url", "", "the registry's URL, e.g. ghcr.io (default Docker Hub)")
	cmd.Flags().StringVar(&user, "username", "", "the registry username")
	cmd.Flags().StringVar(&password, "password", "", "the password or token")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func registryDeleteCmd() *cobra.Command {
	return verb("delete REGISTRY", "delete a registry auth (no job definition may use it)", `Deletes a registry auth.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.registryID(args[0])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.DeleteRegistryAuth(s.ctx, id)))
		})
}
