// Package cli is daestro's user commands: login and one noun per resource
// (job, queue, def, env, spawn, auth, registry, cron, project) with its verbs, each
// a cobra command speaking the REST API through the generated client
// (package client). cmd/daestro adds them to the root command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Environment variables the user commands read.
const (
	// EnvURL is the API's URL; it overrides the config file.
	EnvURL = "DAESTRO_URL"
	// EnvAPIKey is the API key; it overrides the config file.
	EnvAPIKey = "DAESTRO_API_KEY"
)

// envHelp is the Environment section of every user command's help.
const envHelp = `Environment:
  DAESTRO_URL      the daestro API's URL (over the config file; --url over both)
  DAESTRO_API_KEY  the API key (over the config file; --api-key over both)
  XDG_CONFIG_HOME  where the config file lives ($XDG_CONFIG_HOME/daestro/config.json;
                   default ~/.config/daestro/config.json), written by daestro login`

// long is a command's long help: what it does, then what it reads.
func long(what string) string {
	return strings.TrimSpace(what) + "\n\n" + envHelp
}

// Commands returns the user commands for the root command.
func Commands() []*cobra.Command {
	return []*cobra.Command{
		loginCmd(),
		jobCmd(),
		queueCmd(),
		defCmd(),
		envCmd(),
		spawnCmd(),
		authCmd(),
		registryCmd(),
		cronCmd(),
		projectCmd(),
		completionCmd(),
	}
}

// ExitError ends the process with Code; Message, when set, goes to stderr
// first. A job's own exit code travels this way.
type ExitError struct {
	// Code is the process's exit status.
	Code int
	// Message is what to print on stderr; empty prints nothing.
	Message string
}

func (e *ExitError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Exit writes what err says to stderr and returns the exit status it
// stands for: an ExitError's code, 1 for any other error, 0 for nil.
func Exit(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "daestro: interrupted")
		return 130 // as a shell reports a command ended by Ctrl-C
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Message != "" {
			fmt.Fprintln(stderr, "daestro:", ee.Message)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "daestro:", err)
	return 1
}

// group is a noun: a command with verbs, and the connection flags every
// verb inherits.
func group(use, short, what string, verbs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long(what),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return fmt.Errorf("daestro %s needs a command: see `daestro %s --help`", use, use)
		},
	}
	addConnFlags(cmd)
	cmd.PersistentFlags().StringP("output", "o", "table", "output format: table, json (the API's object as returned) or yaml")
	cmd.AddCommand(verbs...)
	return cmd
}

// verb is a leaf command; run gets the connection to the API.
func verb(use, short, what string, args cobra.PositionalArgs, run func(s *session, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long(what),
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			return run(s, args)
		},
	}
}

// addConnFlags adds --url and --api-key.
func addConnFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().String("url", "", "the daestro API's URL (default: $DAESTRO_URL, then the config file)")
	cmd.PersistentFlags().String("api-key", "", "the API key (default: $DAESTRO_API_KEY, then the config file)")
}

// completionCmd prints cobra's shell completion scripts.
func completionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "print the shell completion script",
		Long: `Prints the completion script for bash, zsh or fish. For example:

  daestro completion bash > /etc/bash_completion.d/daestro
  daestro completion zsh > "${fpath[1]}/_daestro"
  daestro completion fish > ~/.config/fish/completions/daestro.fish

Environment:
  none: the script is the same wherever it is printed`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
}
