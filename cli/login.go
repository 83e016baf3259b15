package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"daestro/client"
)

// defaultURL is what login offers when nothing else names a server: the
// address of `make dev`.
const defaultURL = "http://127.0.0.1:8080"

func loginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "store the API URL and key the other commands use",
		Long: long(`Asks for the daestro API's URL and an API key (or takes them from --url and
--api-key, or DAESTRO_URL and DAESTRO_API_KEY), checks the key with one
request, and stores both in the config file, readable only by you. Every
other command then uses them; DAESTRO_URL / DAESTRO_API_KEY override the
file, and --url / --api-key override both.`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			saved, _, err := loadConfig()
			if err != nil {
				saved = Config{}
			}
			c := Config{URL: firstOf(flag(cmd, "url"), os.Getenv(EnvURL)), APIKey: firstOf(flag(cmd, "api-key"), os.Getenv(EnvAPIKey))}
			in := bufio.NewReader(cmd.InOrStdin())
			if c.URL == "" {
				def := firstOf(saved.URL, defaultURL)
				fmt.Fprintf(cmd.ErrOrStderr(), "daestro API URL [%s]: ", def)
				line, err := readLine(in)
				if err != nil {
					return fmt.Errorf("reading the URL: %w", err)
				}
				c.URL = firstOf(line, def)
			}
			if c.APIKey == "" {
				fmt.Fprint(cmd.ErrOrStderr(), "API key: ")
				key, err := readSecret(cmd.InOrStdin(), in)
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return fmt.Errorf("reading the API key: %w", err)
				}
				c.APIKey = key
			}
			if c.APIKey == "" {
				return fmt.Errorf("no API key given: daestro admin create-project prints one (make dev prints its own)")
			}
			c.URL = strings.TrimRight(c.URL, "/")
			s, err := newSession(cmd, c)
			if err != nil {
				return err
			}
			p, err := as[client.Project](s.data(s.api.GetProject(s.ctx)))
			if err != nil {
				return err
			}
			path, err := saveConfig(c)
			if err != nil {
				return fmt.Errorf("the key works, but saving it failed: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to project %s at %s; saved in %s\n", str(p.Code), c.URL, path)
			return nil
		},
	}
	addConnFlags(cmd)
	return cmd
}

// readLine reads one line without its newline; EOF after some text is fine.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	return strings.TrimSpace(line), err
}

// readSecret reads the key without echo from a terminal, else a line.
func readSecret(raw io.Reader, buffered *bufio.Reader) (string, error) {
	if f, ok := raw.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return strings.TrimSpace(string(b)), err
	}
	return readLine(buffered)
}

// flag is a string flag's value ("" when the command has no such flag).
func flag(cmd *cobra.Command, name string) string {
	v, _ := cmd.Flags().GetString(name)
	return v
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
