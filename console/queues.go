package console

import (
	"net/http"
	"strconv"
	"strings"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

var queueFields = []string{"name", "description", "priority", "max_concurrency", "max_spawns", "max_idle_seconds", "ssh_public_key", "enabled", "compute_env_id"}

func (c *Console) queueList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	qs, err := c.o.Store.ListJobQueues(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "queues", view{Title: "Job queues", Nav: "queues", Session: s, Data: qs})
}

func (c *Console) queueNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := newForm(nil)
	f.Values.Set("priority", "10")
	c.render(w, r, http.StatusOK, "queue_new", view{Title: "New job queue", Nav: "queues", Session: s, Form: f})
}

// queueCreate writes a queue with store.CreateJobQueue, the API's call.
func (c *Console) queueCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	in := domain.JobQueueInput{Name: strings.TrimSpace(v.Get("name")), Description: v.Get("description"), SSHPublicKey: strings.TrimSpace(v.Get("ssh_public_key"))}
	var err error
	in.Priority, err = optInt(v, "priority")
	if err == nil {
		in.MaxConcurrency, err = intOr(v, "max_concurrency", 0)
	}
	if err == nil {
		in.MaxSpawns, err = intOr(v, "max_spawns", 0)
	}
	if err == nil {
		in.MaxIdleSeconds, err = intOr(v, "max_idle_seconds", 0)
	}
	var q domain.JobQueue
	if err == nil {
		q, err = c.o.Store.CreateJobQueue(ctx(r), s.Project.ID, in)
	}
	if err != nil {
		err = c.userError(err)
		f := newForm(v)
		f.fail(err, queueFields...)
		c.render(w, r, statusOf(err), "queue_new", view{Title: "New job queue", Nav: "queues", Session: s, Form: f})
		return
	}
	seeOther(w, r, "/job-queues/"+q.ID)
}

// queueDetailData is a queue with what waits in it, its spawns and the
// environments that could be added.
type queueDetailData struct {
	Queue    domain.JobQueue
	Waiting  domain.QueueWaiting
	Spawns   []domain.ComputeSpawn
	AllEnvs  []domain.ComputeEnv
	SelfEnvs []domain.ComputeEnvRef
}

func (c *Console) queueDetailView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form) {
	p := s.Project.ID
	q, err := c.o.Store.JobQueue(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := queueDetailData{Queue: q}
	if d.Waiting, err = c.o.Store.QueueWaiting(ctx(r), p, q.ID); err != nil {
		c.fail(w, r, s, err)
		return
	}
	spawns, err := c.o.Store.ListComputeSpawns(ctx(r), p, domain.SpawnFilter{JobQueueID: q.ID}, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Spawns = spawns.Items
	envs, err := c.o.Store.ListComputeEnvs(ctx(r), p, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	in := map[string]bool{}
	for _, e := range q.ComputeEnvs {
		in[e.ID] = true
	}
	for _, e := range envs.Items {
		if !in[e.ID] {
			d.AllEnvs = append(d.AllEnvs, e)
		} else if e.Kind == domain.ComputeEnvSelfHosted {
			d.SelfEnvs = append(d.SelfEnvs, domain.ComputeEnvRef{ID: e.ID, Name: e.Name})
		}
	}
	if f == nil {
		f = newForm(nil)
		f.Values.Set("description", q.Description)
		f.Values.Set("priority", itoa(q.Priority))
		f.Values.Set("max_concurrency", itoa(q.MaxConcurrency))
		f.Values.Set("max_idle_seconds", itoa(q.MaxIdleSeconds))
		if q.Enabled {
			f.Values.Set("enabled", "on")
		}
	}
	c.render(w, r, status, "queue", view{Title: "Job queue " + q.Name, Nav: "queues", Session: s, Form: f, Data: d})
}

func (c *Console) queueDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	c.queueDetailView(w, r, s, http.StatusOK, nil)
}

// queueUpdate changes what a queue lets change (store.UpdateJobQueue).
func (c *Console) queueUpdate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	desc, enabled := v.Get("description"), checked(v, "enabled")
	p := domain.JobQueuePatch{Description: &desc, Enabled: &enabled}
	var err error
	p.Priority, err = optInt(v, "priority")
	if err == nil {
		p.MaxConcurrency, err = optInt(v, "max_concurrency")
	}
	if err == nil {
		p.MaxIdleSeconds, err = optInt(v, "max_idle_seconds")
	}
	if err == nil {
		_, err = c.o.Store.UpdateJobQueue(ctx(r), s.Project.ID, r.PathValue("id"), p)
	}
	if err != nil {
		c.queueFormFailed(w, r, s, err)
		return
	}
	seeOther(w, r, "/job-queues/"+r.PathValue("id"))
}

func (c *Console) queueFormFailed(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, err error) {
	err = c.userError(err)
	if domain.ErrorCode(err) == domain.ENOTFOUND && r.PostForm.Get("compute_env_id") == "" {
		c.fail(w, r, s, err)
		return
	}
	f := newForm(r.PostForm)
	f.fail(err, queueFields...)
	c.queueDetailView(w, r, s, statusOf(err), f)
}

func (c *Console) queueAddEnv(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if _, err := c.o.Store.AddQueueComputeEnv(ctx(r), s.Project.ID, r.PathValue("id"), r.PostForm.Get("compute_env_id")); err != nil {
		c.queueFormFailed(w, r, s, err)
		return
	}
	seeOther(w, r, "/job-queues/"+r.PathValue("id"))
}

func (c *Console) queueRemoveEnv(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if err := c.o.Store.RemoveQueueComputeEnv(ctx(r), s.Project.ID, r.PathValue("id"), r.PathValue("envId")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/job-queues/"+r.PathValue("id"))
}

func (c *Console) queueDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if err := c.o.Store.DeleteJobQueue(ctx(r), s.Project.ID, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/job-queues")
}

// Compute environments.

var envFields = []string{"name", "kind", "cloud_auth_id", "region", "instance_type", "usable_cpu_pct", "usable_memory_mb", "enabled"}

func (c *Console) envList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	envs, err := c.o.Store.ListComputeEnvs(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "envs", view{Title: "Compute environments", Nav: "envs", Session: s, Data: envs})
}

// envFormData are the cloud auths a cloud environment may use.
type envFormData struct {
	CloudAuths []domain.CloudAuth
	Catalog    *envCatalog
}

func (c *Console) envFormView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form) {
	auths, err := c.o.Store.ListCloudAuths(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := envFormData{CloudAuths: auths.Items}
	d.Catalog = c.envCatalog(r, s, f)
	c.render(w, r, status, "env_new", view{Title: "New compute environment", Nav: "envs", Session: s, Form: f, Data: d})
}

func (c *Console) envNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := newForm(r.URL.Query())
	if f.Get("kind") == "" {
		f.Values.Set("kind", domain.ComputeEnvSelfHosted)
	}
	c.envFormView(w, r, s, http.StatusOK, f)
}

// envCreate validates like the API (domain's Validate, then the provider's
// check of a cloud environment) and writes with store.CreateComputeEnv.
func (c *Console) envCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	in := domain.ComputeEnvInput{Name: strings.TrimSpace(v.Get("name")), Kind: v.Get("kind")}
	var err error
	if in.Kind == domain.ComputeEnvCloud {
		in.CloudAuthID, in.Region, in.InstanceType = v.Get("cloud_auth_id"), v.Get("region"), v.Get("instance_type")
	} else {
		in.UsableCPUPct, err = optInt(v, "usable_cpu_pct")
		if err == nil {
			in.UsableMemoryMB, err = optInt(v, "usable_memory_mb")
		}
	}
	var env domain.ComputeEnv
	if err == nil {
		env, err = c.o.Service.CreateComputeEnv(ctx(r), s.Project.ID, in)
	}
	if err != nil {
		err = c.userError(err)
		f := newForm(v)
		f.fail(err, envFields...)
		c.envFormView(w, r, s, statusOf(err), f)
		return
	}
	seeOther(w, r, "/compute-envs/"+env.ID)
}

// envDetailData is an environment with its spawns and the queues it is in.
type envDetailData struct {
	Env    domain.ComputeEnv
	Spawns []domain.ComputeSpawn
	Queues []domain.JobQueue
	// Created is a just-created spawn's token and docker run line, shown once.
	Created *createdSpawn
}

// createdSpawn is what a new self-hosted spawn shows once.
type createdSpawn struct {
	Spawn     domain.ComputeSpawn
	Token     string
	DockerRun string
}

func (c *Console) envDetailView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form, created *createdSpawn) {
	p := s.Project.ID
	id := r.PathValue("id")
	if created != nil {
		id = created.Spawn.ComputeEnv.ID
	}
	env, err := c.o.Store.ComputeEnv(ctx(r), p, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := envDetailData{Env: env, Created: created}
	spawns, err := c.o.Store.ListComputeSpawns(ctx(r), p, domain.SpawnFilter{}, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, sp := range spawns.Items {
		if sp.ComputeEnv.ID == env.ID {
			d.Spawns = append(d.Spawns, sp)
		}
	}
	queues, err := c.o.Store.ListJobQueues(ctx(r), p, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, q := range queues.Items {
		for _, e := range q.ComputeEnvs {
			if e.ID == env.ID {
				d.Queues = append(d.Queues, q)
			}
		}
	}
	if f == nil {
		f = newForm(nil)
		f.Values.Set("name", env.Name)
		if env.Enabled {
			f.Values.Set("enabled", "on")
		}
	}
	c.render(w, r, status, "env", view{Title: "Compute environment " + env.Name, Nav: "envs", Session: s, Form: f, Data: d})
}

func (c *Console) envDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	c.envDetailView(w, r, s, http.StatusOK, nil, nil)
}

func (c *Console) envUpdate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	name, enabled := strings.TrimSpace(r.PostForm.Get("name")), checked(r.PostForm, "enabled")
	if _, err := c.o.Store.UpdateComputeEnv(ctx(r), s.Project.ID, r.PathValue("id"), domain.ComputeEnvPatch{Name: &name, Enabled: &enabled}); err != nil {
		err = c.userError(err)
		f := newForm(r.PostForm)
		f.fail(err, envFields...)
		c.envDetailView(w, r, s, statusOf(err), f, nil)
		return
	}
	seeOther(w, r, "/compute-envs/"+r.PathValue("id"))
}

func (c *Console) envDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if err := c.o.Store.DeleteComputeEnv(ctx(r), s.Project.ID, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/compute-envs")
}

// Compute spawns.

func (c *Console) spawnList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := domain.SpawnFilter{State: r.URL.Query().Get("state")}
	spawns, err := c.o.Store.ListComputeSpawns(ctx(r), s.Project.ID, f, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "spawns", view{Title: "Compute spawns", Nav: "spawns", Session: s, Data: spawns, Form: newForm(r.URL.Query())})
}

// spawnCreate is "New compute" of a self-hosted environment: the spawn's
// agent token and docker run line are on this one answer, never again.
func (c *Console) spawnCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	in := domain.ComputeSpawnInput{ComputeEnvID: r.PostForm.Get("compute_env_id"), JobQueueID: r.PostForm.Get("job_queue_id")}
	sp, token, err := c.o.Service.CreateSelfHostedSpawn(ctx(r), s.Project.ID, in)
	if err != nil {
		err = c.userError(err)
		f := newForm(r.PostForm)
		f.fail(err, "compute_env_id", "job_queue_id")
		r.SetPathValue("id", in.ComputeEnvID)
		c.envDetailView(w, r, s, statusOf(err), f, nil)
		return
	}
	c.envDetailView(w, r, s, http.StatusCreated, nil, &createdSpawn{Spawn: sp, Token: token, DockerRun: agentapi.DockerRun(token, c.baseURL(r), c.o.AgentImage)})
}

type spawnDetailData struct {
	Spawn  domain.ComputeSpawn
	Events []domain.SpawnEvent
}

func (c *Console) spawnDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	sp, err := c.o.Store.ComputeSpawn(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ev, err := c.o.Store.SpawnEvents(ctx(r), s.Project.ID, sp.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "spawn", view{Title: "Compute spawn " + sp.ID, Nav: "spawns", Session: s, Data: spawnDetailData{sp, ev.Items}})
}

func (c *Console) spawnTerminate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	sp, err := c.o.Service.TerminateSpawn(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/compute-spawns/"+sp.ID)
}

func itoa(i int) string { return strconv.Itoa(i) }
