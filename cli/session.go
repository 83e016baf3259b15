package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"daestro/client"
)

// Config is what daestro login stores: where the API is and the key to it.
type Config struct {
	// URL is the API's base URL, e.g. https://daestro.example.com.
	URL string `json:"url"`
	// APIKey is the project's API key (dst_…).
	APIKey string `json:"api_key"`
}

// ConfigPath is the config file: os.UserConfigDir()/daestro/config.json.
func ConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for daestro login: %w", err)
	}
	return filepath.Join(dir, "daestro", "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty Config.
func loadConfig() (Config, string, error) {
	var c Config
	path, err := ConfigPath()
	if err != nil {
		return c, "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, path, nil
	}
	if err != nil {
		return c, path, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, path, fmt.Errorf("%s is not a daestro config (%v): run daestro login again", path, err)
	}
	return c, path, nil
}

// saveConfig writes the config file readable by its owner only: it holds
// the API key.
func saveConfig(c Config) (string, error) {
	path, err := ConfigPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; Chmod says so whatever the umask did.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// resolveConfig is the connection a command uses: --url/--api-key over
// DAESTRO_URL/DAESTRO_API_KEY over the config file.
func resolveConfig(cmd *cobra.Command) (Config, error) {
	c, path, err := loadConfig()
	if err != nil {
		return c, err
	}
	if v := os.Getenv(EnvURL); v != "" {
		c.URL = v
	}
	if v := os.Getenv(EnvAPIKey); v != "" {
		c.APIKey = v
	}
	if v, _ := cmd.Flags().GetString("url"); v != "" {
		c.URL = v
	}
	if v, _ := cmd.Flags().GetString("api-key"); v != "" {
		c.APIKey = v
	}
	if c.URL == "" {
		return c, fmt.Errorf("no daestro API URL: run daestro login, set %s or pass --url (config file: %s)", EnvURL, path)
	}
	if c.APIKey == "" {
		return c, fmt.Errorf("no API key: run daestro login, set %s or pass --api-key", EnvAPIKey)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c, nil
}

// session is one command's connection to the API and its output.
type session struct {
	ctx context.Context
	cmd *cobra.Command
	api *client.Client
	// stream is api without a time limit, for log streams.
	stream *client.Client
	url    string
	out    io.Writer
	errOut io.Writer
	// format is -o: table, json or yaml.
	format string
}

// connect builds the session of cmd from its flags, the environment and
// the config file.
func connect(cmd *cobra.Command) (*session, error) {
	c, err := resolveConfig(cmd)
	if err != nil {
		return nil, err
	}
	return newSession(cmd, c)
}

func newSession(cmd *cobra.Command, c Config) (*session, error) {
	format := "table"
	if f := cmd.Flags().Lookup("output"); f != nil {
		format = f.Value.String()
	}
	switch format {
	case "table", "json", "yaml":
	default:
		return nil, fmt.Errorf("-o %s: use table, json or yaml", format)
	}
	key := c.APIKey
	newClient := func(timeout time.Duration) (*client.Client, error) {
		return client.NewClient(c.URL,
			client.WithHTTPClient(&http.Client{Timeout: timeout}),
			client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("User-Agent", "daestro-cli")
				return nil
			}))
	}
	api, err := newClient(requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("--url %s: %w", c.URL, err)
	}
	stream, _ := newClient(0)
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return &session{ctx: ctx, cmd: cmd, api: api, stream: stream, url: c.URL, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), format: format}, nil
}

// apiError is the API's refusal: its status and its sentence.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

// requestTimeout bounds one ordinary request (not a log stream).
const requestTimeout = 60 * time.Second

// data reads the API's envelope: its data, or its sentence as the error.
func (s *session) data(resp *http.Response, err error) (json.RawMessage, error) {
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the daestro API at %s: %w", s.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", s.url, err)
	}
	var env struct {
		OK      bool            `json:"ok"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s answered %s, not with daestro's API envelope: is it the daestro server?", s.url, resp.Status)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, &apiError{status: resp.StatusCode, message: fmt.Sprintf("the API key was refused (%s): run daestro login", strings.TrimSuffix(env.Message, "."))}
	}
	if !env.OK {
		if env.Message == "" {
			env.Message = resp.Status
		}
		return nil, &apiError{status: resp.StatusCode, message: env.Message}
	}
	return env.Data, nil
}

// unwrapURLError drops net/url's `Get "…": ` prefix: the URL is said already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// as decodes the data s.data returned into T.
func as[T any](raw json.RawMessage, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("the API's answer does not read as %T: %w", v, err)
	}
	return v, nil
}
