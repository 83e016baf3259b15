package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"daestro/client"
)

func authCmd() *cobra.Command {
	return group("auth", "manage cloud auths (credentials of cloud accounts)",
		`Cloud auths: encrypted credentials of one provider account (AWS: access key
ID and secret; DigitalOcean, Linode, Vultr: an access token), checked with
the provider when saved. Named by name or ID.`,
		authLsCmd(), authGetCmd(), authCreateCmd(), authUpdateCmd(), authDeleteCmd(), authRegionsCmd(), authTypesCmd())
}

func authTable(a client.CloudAuth) *table {
	t := newTable()
	t.field("ID", idOf(a.Id))
	t.field("Name", str(a.Name))
	t.field("Provider", str(a.Provider))
	t.field("Credentials", str(a.CredentialsHint))
	t.field("Default region", str(a.DefaultRegion))
	if v := a.Validation; v != nil {
		t.field("Validation", firstOf(str(v.Status)+" "+str(v.Message)))
	}
	for _, w := range deref(a.Warnings) {
		t.field("Warning", w)
	}
	t.field("Created", stamp(a.CreatedAt))
	return t
}

func authLsCmd() *cobra.Command {
	var next string
	cmd := verb("ls", "list cloud auths", `Lists the project's cloud auths.`, cobra.NoArgs,
		func(s *session, _ []string) error {
			raw, err := s.data(s.api.ListCloudAuths(s.ctx, &client.ListCloudAuthsParams{NextToken: nonEmpty(next)}))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.CloudAuthPage) *table {
				s.nextPage(p.NextToken)
				t := newTable("NAME~", "PROVIDER", "CREDENTIALS~", "REGION~", "CREATED")
				for _, a := range deref(p.Items) {
					t.row(str(a.Name), str(a.Provider), str(a.CredentialsHint), str(a.DefaultRegion), ago(a.CreatedAt))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

func authGetCmd() *cobra.Command {
	return verb("get AUTH", "show a cloud auth", `Shows a cloud auth (never its secrets).`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.authID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetCloudAuth(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, authTable)
		})
}

// credFlags are a cloud auth's credentials.
type credFlags struct {
	keyID, secret, token, region string
}

func (c *credFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.keyID, "access-key-id", "", "AWS access key ID")
	cmd.Flags().StringVar(&c.secret, "secret-access-key", "", "AWS secret access key")
	cmd.Flags().StringVar(&c.token, "access-token", "", "DigitalOcean, Linode or Vultr access token")
	cmd.Flags().StringVar(&c.region, "default-region", "", "the region instance types are listed for by default")
}

func authCreateCmd() *cobra.Command {
	var (
		provider string
		c        credFlags
	)
	cmd := verb("create NAME --provider P", "create a cloud auth (the provider checks the credentials)",
		`Creates a cloud auth of --provider aws (--access-key-id, --secret-access-key),
digitalocean, linode or vultr (--access-token).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			if provider == "" {
				return fmt.Errorf("auth create needs --provider: aws, digitalocean, linode or vultr")
			}
			in := client.CloudAuthInput{Name: args[0], Provider: client.CloudAuthInputProvider(provider), AccessKeyId: nonEmpty(c.keyID),
				SecretAccessKey: nonEmpty(c.secret), AccessToken: nonEmpty(c.token), DefaultRegion: nonEmpty(c.region)}
			raw, err := s.data(s.api.CreateCloudAuth(s.ctx, in))
			if err != nil {
				return err
			}
			return show(s, raw, authTable)
		})
	cmd.Flags().StringVar(&provider, "provider", "", "aws, digitalocean, linode or vultr")
	c.add(cmd)
	return cmd
}

func authUpdateCmd() *cobra.Command {
	var (
		name string
		c    credFlags
	)
	cmd := verb("update AUTH", "rename a cloud auth or replace its credentials", `Renames a cloud auth or replaces its credentials (checked with the provider).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.authID(args[0])
			if err != nil {
				return err
			}
			p := client.CloudAuthPatch{Name: nonEmpty(name), AccessKeyId: nonEmpty(c.keyID), SecretAccessKey: nonEmpty(c.secret),
				AccessToken: nonEmpty(c.token), DefaultRegion: nonEmpty(c.region)}
			raw, err := s.data(s.api.UpdateCloudAuth(s.ctx, id, p))
			if err != nil {
				return err
			}
			return show(s, raw, authTable)
		})
	cmd.Flags().StringVar(&name, "name", "", "the new name")
	c.add(cmd)
	return cmd
}

func authDeleteCmd() *cobra.Command {
	return verb("delete AUTH", "delete a cloud auth (no compute environment may use it)", `Deletes a cloud auth.`, cobra.ExactArgs(1),
		func(s *session, args []string) error {
			id, err := s.authID(args[0])
			if err != nil {
				return err
			}
			return s.deleted(s.data(s.api.DeleteCloudAuth(s.ctx, id)))
		})
}

func authRegionsCmd() *cobra.Command {
	var refresh bool
	cmd := verb("regions AUTH", "list the regions of a cloud auth's account", `Lists the regions of the account (cached 15 minutes; --refresh asks again).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.authID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.ListCloudRegions(s.ctx, id, &client.ListCloudRegionsParams{Refresh: &refresh}))
			if err != nil {
				return err
			}
			return show(s, raw, func(l client.CloudRegionList) *table {
				t := newTable("REGION", "NAME~")
				for _, r := range deref(l.Items) {
					t.row(str(r.Id), str(r.Name))
				}
				return t
			})
		})
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask the provider again instead of the cached listing")
	return cmd
}

func authTypesCmd() *cobra.Command {
	var (
		region  string
		refresh bool
	)
	cmd := verb("instance-types AUTH", "list the instance types of a region", `Lists the instance types of --region (default: the auth's default region) with vCPUs, memory and price.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.authID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.ListCloudInstanceTypes(s.ctx, id, &client.ListCloudInstanceTypesParams{Region: nonEmpty(region), Refresh: &refresh}))
			if err != nil {
				return err
			}
			return show(s, raw, func(l client.CloudInstanceTypeList) *table {
				t := newTable("TYPE", "VCPU", "MEMORY MB", "PRICE/H")
				for _, it := range deref(l.Items) {
					t.row(str(it.Id), num(it.Vcpu), num(it.MemoryMb), num(it.HourlyPrice))
				}
				return t
			})
		})
	cmd.Flags().StringVar(&region, "region", "", "the region (default: the auth's default region)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask the provider again instead of the cached listing")
	return cmd
}
