// Package localdocker implements cloud.Provider on the local Docker engine:
// an "instance" is an agent container with host networking, sized by its
// instance type through the agent's capacity caps. `daestro dev`, demos and
// the end-to-end tests use it to exercise cloud spawns without a cloud.
package localdocker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	"daestro/internal/cloud"
)

// Region is the only region: this machine.
const Region = "local"

// Labels on every instance container.
const (
	// LabelInstance marks a container as a localdocker instance; its value is the instance name.
	LabelInstance = "daestro.localdocker.instance"
	// labelTagPrefix + tag is set to "true" for each tag.
	labelTagPrefix = "daestro.localdocker.tag."
	// labelSpawnID is the agent's job-container label (agent.LabelSpawnID):
	// deleting an instance removes the job containers its agent started, as
	// deleting a VM would.
	labelSpawnID = "daestro.spawn-id"
	// spawnTagPrefix is how the spawn's tag starts ("daestro-spawn-<id>").
	spawnTagPrefix = "daestro-spawn-"
)

// types are the instance sizes offered; the agent is capped to them.
var types = []cloud.InstanceType{
	{ID: "local-1c-512m", VCPU: 1, MemoryMB: 512},
	{ID: "local-1c-1g", VCPU: 1, MemoryMB: 1024},
	{ID: "local-2c-2g", VCPU: 2, MemoryMB: 2048},
	{ID: "local-2c-4g", VCPU: 2, MemoryMB: 4096},
}

// Provider starts agent containers on one Docker engine.
type Provider struct {
	docker *client.Client
	// image overrides the request's agent image when set.
	image string
	// socket is the Docker socket bind-mounted into the agent.
	socket string
	// cmd is the container's command: the agent's, or a stand-in in tests.
	cmd []string
}

var _ cloud.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*Provider)

// WithImage runs this agent image whatever the request says (tests use a
// locally built one).
func WithImage(image string) Option { return func(p *Provider) { p.image = image } }

// WithCommand runs cmd instead of the agent (tests run a stand-in that
// sleeps, to have an instance without a server to register with).
func WithCommand(cmd ...string) Option { return func(p *Provider) { p.cmd = cmd } }

// New connects to the Docker engine named by the environment (DOCKER_HOST,
// or the default socket).
func New(opts ...Option) (*Provider, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("localdocker: %w", err)
	}
	p := &Provider{docker: c, socket: "/var/run/docker.sock", cmd: []string{"agent"}}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// ValidateCredentials checks that the Docker engine answers.
func (p *Provider) ValidateCredentials(ctx context.Context) error {
	if _, err := p.docker.Ping(ctx); err != nil {
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine does not answer: " + err.Error(), Err: err}
	}
	return nil
}

// Account is the Docker engine itself: its ID, and its host name as the name.
func (p *Provider) Account(ctx context.Context) (cloud.Account, error) {
	info, err := p.docker.Info(ctx)
	if err != nil {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine does not answer: " + err.Error(), Err: err}
	}
	if info.ID == "" {
		// Engines since 23 may leave ID empty; the name still tells them apart.
		return cloud.Account{ID: "docker:" + info.Name, Name: info.Name}, nil
	}
	return cloud.Account{ID: info.ID, Name: info.Name}, nil
}

// Regions is this machine only.
func (p *Provider) Regions(context.Context) ([]cloud.Region, error) {
	return []cloud.Region{{ID: Region, Name: "This machine's Docker engine"}}, nil
}

// InstanceTypes lists the sizes an agent container can be capped to.
func (p *Provider) InstanceTypes(_ context.Context, region string) ([]cloud.InstanceType, error) {
	if region != "" && region != Region {
		return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("the local Docker engine has one region, %q, not %q", Region, region)}
	}
	return slices.Clone(types), nil
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName is the instance's container name, from the request's name.
func containerName(name string) string {
	return "daestro-vm-" + strings.Trim(nameUnsafe.ReplaceAllString(name, "-"), "-")
}

// CreateInstance starts the agent container. It is idempotent by name: a
// container of that name already there is returned, not duplicated.
func (p *Provider) CreateInstance(ctx context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	i := slices.IndexFunc(types, func(t cloud.InstanceType) bool { return t.ID == req.InstanceType })
	if i < 0 {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("the local Docker engine offers no instance type %q", req.InstanceType)}
	}
	if req.Region != "" && req.Region != Region {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("the local Docker engine has one region, %q, not %q", Region, req.Region)}
	}
	image := cmp.Or(p.image, req.Agent.Image)
	if image == "" {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: "no agent image to run"}
	}
	name := containerName(req.Name)
	if inst, err := p.Instance(ctx, name); err == nil {
		return inst, nil
	}
	t := types[i]
	env := maps.Clone(req.Agent.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["DAESTRO_AGENT_CPU_PCT"] = strconv.Itoa(t.VCPU * 100)
	env["DAESTRO_AGENT_MEMORY_MB"] = strconv.Itoa(t.MemoryMB)
	labels := map[string]string{LabelInstance: name}
	for _, tag := range req.Tags {
		labels[labelTagPrefix+tag] = "true"
		if id, ok := strings.CutPrefix(tag, spawnTagPrefix); ok {
			labels[labelSpawnID] = id
		}
	}
	var envList []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, k+"="+env[k])
	}
	_, err := p.docker.ContainerCreate(ctx,
		&container.Config{Image: image, Env: envList, Labels: labels, Cmd: p.cmd},
		&container.HostConfig{
			NetworkMode:   "host",
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
			Mounts:        []mount.Mount{{Type: mount.TypeBind, Source: p.socket, Target: "/var/run/docker.sock"}},
		}, nil, nil, name)
	switch {
	case errdefs.IsConflict(err):
		return p.Instance(ctx, name) // a concurrent create won
	case errdefs.IsNotFound(err):
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("the agent image %s is not on the local Docker engine: build it first (scripts/agent-image.sh)", image), Err: err}
	case err != nil:
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine refused the agent container: " + err.Error(), Err: err}
	}
	if err := p.docker.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine could not start the agent container: " + err.Error(), Err: err}
	}
	return p.Instance(ctx, name)
}

// Instance reports the container's state; the instance ID is the container name.
func (p *Provider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	c, err := p.docker.ContainerInspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("no local instance %q", id), Err: err}
	}
	if err != nil {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine does not answer: " + err.Error(), Err: err}
	}
	if c.Config == nil || c.Config.Labels[LabelInstance] == "" {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("container %q is not a daestro local instance", id)}
	}
	return instance(strings.TrimPrefix(c.Name, "/"), c.State.Status, c.Config.Labels), nil
}

// instance maps a container to an Instance.
func instance(name, status string, labels map[string]string) cloud.Instance {
	// Host networking: the machine's addresses are the host's loopback ones.
	inst := cloud.Instance{ID: name, PublicIPv4: "127.0.0.1", PublicIPv6: "::1"}
	switch status {
	case "running":
		inst.Status = cloud.StatusRunning
	case "created", "restarting", "paused":
		inst.Status = cloud.StatusPending
	case "removing":
		inst.Status = cloud.StatusTerminating
	default: // exited, dead: the machine is off
		inst.Status = cloud.StatusTerminated
	}
	for k := range labels {
		if tag, ok := strings.CutPrefix(k, labelTagPrefix); ok {
			inst.Tags = append(inst.Tags, tag)
		}
	}
	slices.Sort(inst.Tags)
	return inst
}

// Engine is the Docker engine the instances' agents run job containers on:
// the one the provider starts them on (cloud.EngineOwner).
func (p *Provider) Engine() *client.Client { return p.docker }

var _ cloud.EngineOwner = (*Provider)(nil)

// DeleteInstance removes the agent container and, like a VM's deletion, the
// job containers its agent started. Deleting a missing instance succeeds.
func (p *Provider) DeleteInstance(ctx context.Context, id string) error {
	c, err := p.docker.ContainerInspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine does not answer: " + err.Error(), Err: err}
	}
	if c.Config == nil || c.Config.Labels[LabelInstance] == "" {
		return &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("container %q is not a daestro local instance: not deleting it", id)}
	}
	if err := p.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine could not remove the agent container: " + err.Error(), Err: err}
	}
	spawnID := c.Config.Labels[labelSpawnID]
	if spawnID == "" {
		return nil
	}
	jobs, err := p.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelSpawnID+"="+spawnID))})
	if err != nil {
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine could not list the instance's job containers: " + err.Error(), Err: err}
	}
	var errs []error
	for _, j := range jobs {
		if err := p.docker.ContainerRemove(ctx, j.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine could not remove the instance's job containers: " + err.Error(), Err: err}
	}
	return nil
}

// ListInstancesByTag lists the instance containers carrying tag.
func (p *Provider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	list, err := p.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelTagPrefix+tag))})
	if err != nil {
		return nil, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "the local Docker engine does not answer: " + err.Error(), Err: err}
	}
	out := make([]cloud.Instance, 0, len(list))
	for _, c := range list {
		name := c.Labels[LabelInstance]
		if name == "" {
			continue
		}
		out = append(out, instance(name, string(c.State), c.Labels))
	}
	return out, nil
}
