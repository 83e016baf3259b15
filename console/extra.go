package console

import (
	"net/http"
	"net/url"
	"strings"

	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// extraRoutes registers the pages of cloud auths, registry auths and cron jobs.
func (c *Console) extraRoutes() {
	m := c.mux
	m.HandleFunc("GET /cloud-auths", c.signedIn(c.cloudList))
	m.HandleFunc("GET /cloud-auths/new", c.signedIn(c.cloudNew))
	m.HandleFunc("POST /cloud-auths", c.signedIn(c.cloudCreate))
	m.HandleFunc("GET /cloud-auths/{id}", c.signedIn(c.cloudDetail))
	m.HandleFunc("POST /cloud-auths/{id}", c.signedIn(c.cloudUpdate))
	m.HandleFunc("POST /cloud-auths/{id}/delete", c.signedIn(c.cloudDelete))

	m.HandleFunc("GET /registry-auths", c.signedIn(c.registryList))
	m.HandleFunc("GET /registry-auths/new", c.signedIn(c.registryNew))
	m.HandleFunc("POST /registry-auths", c.signedIn(c.registryCreate))
	m.HandleFunc("GET /registry-auths/{id}", c.signedIn(c.registryDetail))
	m.HandleFunc("POST /registry-auths/{id}/delete", c.signedIn(c.registryDelete))

	m.HandleFunc("GET /cron-jobs", c.signedIn(c.cronList))
	m.HandleFunc("GET /cron-jobs/new", c.signedIn(c.cronNew))
	m.HandleFunc("GET /cron-jobs/preview", c.signedIn(c.cronPreviewJSON))
	m.HandleFunc("POST /cron-jobs", c.signedIn(c.cronCreate))
	m.HandleFunc("GET /cron-jobs/{id}", c.signedIn(c.cronDetail))
	m.HandleFunc("POST /cron-jobs/{id}", c.signedIn(c.cronUpdate))
	m.HandleFunc("POST /cron-jobs/{id}/delete", c.signedIn(c.cronDelete))
}

// Cloud auths.

var cloudFields = []string{"name", "provider", "default_region", "access_key_id", "secret_access_key", "access_token"}

func (c *Console) cloudList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	l, err := c.o.Store.ListCloudAuths(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "cloud_auths", view{Title: "Cloud auths", Nav: "cloud", Session: s, Data: l})
}

func (c *Console) cloudNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := newForm(r.URL.Query())
	if f.Get("provider") == "" {
		f.Values.Set("provider", cloud.DigitalOcean)
	}
	c.render(w, r, http.StatusOK, "cloud_auth_new", view{Title: "New cloud auth", Nav: "cloud", Session: s, Form: f, Data: cloud.Providers})
}

// cloudCreate checks the keys with the provider and stores them (service.CreateCloudAuth).
func (c *Console) cloudCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	in := domain.CloudAuthInput{Name: strings.TrimSpace(v.Get("name")), Provider: v.Get("provider"), DefaultRegion: strings.TrimSpace(v.Get("default_region")),
		AccessKeyID: strings.TrimSpace(v.Get("access_key_id")), SecretAccessKey: strings.TrimSpace(v.Get("secret_access_key")), AccessToken: strings.TrimSpace(v.Get("access_token"))}
	out, err := c.o.Service.CreateCloudAuth(ctx(r), s.Project.ID, in)
	if err != nil {
		err = c.userError(err)
		// Secrets are never sent back into the page.
		kept := url.Values{"name": {in.Name}, "provider": {in.Provider}, "default_region": {in.DefaultRegion}, "access_key_id": {in.AccessKeyID}}
		f := newForm(kept)
		f.fail(err, cloudFields...)
		c.render(w, r, statusOf(err), "cloud_auth_new", view{Title: "New cloud auth", Nav: "cloud", Session: s, Form: f, Data: cloud.Providers})
		return
	}
	seeOther(w, r, "/cloud-auths/"+out.ID)
}

type cloudDetailData struct {
	Auth domain.CloudAuth
	// UsedBy are the compute environments that start machines with it (the
	// ones that keep it from being deleted).
	UsedBy []domain.ComputeEnv
	// Warnings follow a change of keys.
	Warnings []string
}

func (c *Console) cloudDetailView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form, warnings []string) {
	ca, err := c.o.Store.CloudAuth(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	envs, err := c.o.Store.ListComputeEnvs(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := cloudDetailData{Auth: ca, Warnings: warnings}
	for _, e := range envs.Items {
		if e.CloudAuthID != nil && *e.CloudAuthID == ca.ID {
			d.UsedBy = append(d.UsedBy, e)
		}
	}
	if f == nil {
		f = newForm(nil)
	}
	if !f.Values.Has("name") {
		f.Values.Set("name", ca.Name)
		f.Values.Set("default_region", ca.DefaultRegion)
	}
	c.render(w, r, status, "cloud_auth", view{Title: "Cloud auth " + ca.Name, Nav: "cloud", Session: s, Form: f, Data: d})
}

func (c *Console) cloudDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	c.cloudDetailView(w, r, s, http.StatusOK, nil, nil)
}

// cloudUpdate renames, changes the default region or rotates the keys
// (service.UpdateCloudAuth); empty key fields keep the current keys, and
// keys of another account are taken only with the switch-accounts box
// ticked (the API's confirm_account_change).
func (c *Console) cloudUpdate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	name, region := strings.TrimSpace(v.Get("name")), strings.TrimSpace(v.Get("default_region"))
	p := domain.CloudAuthPatch{Name: &name, DefaultRegion: &region, ConfirmAccountChange: checked(v, "confirm_account_change")}
	for field, dst := range map[string]**string{"access_key_id": &p.AccessKeyID, "secret_access_key": &p.SecretAccessKey, "access_token": &p.AccessToken} {
		if val := strings.TrimSpace(v.Get(field)); val != "" {
			*dst = &val
		}
	}
	out, err := c.o.Service.UpdateCloudAuth(ctx(r), s.Project.ID, r.PathValue("id"), p)
	if err != nil {
		err = c.userError(err)
		f := newForm(url.Values{"name": {name}, "default_region": {region}, "access_key_id": {v.Get("access_key_id")}})
		f.fail(err, cloudFields...)
		c.cloudDetailView(w, r, s, statusOf(err), f, nil)
		return
	}
	if len(out.Warnings) > 0 {
		c.cloudDetailView(w, r, s, http.StatusOK, nil, out.Warnings)
		return
	}
	seeOther(w, r, "/cloud-auths/"+out.ID)
}

func (c *Console) cloudDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if err := c.o.Service.DeleteCloudAuth(ctx(r), s.Project.ID, r.PathValue("id")); err != nil {
		if err = c.userError(err); domain.ErrorCode(err) != domain.ECONFLICT {
			c.fail(w, r, s, err)
			return
		}
		// The rule's sentence (which environments still use it) on the
		// auth's own page, next to what the user can do about it.
		f := newForm(nil)
		f.General = domain.ErrorMessage(err)
		c.cloudDetailView(w, r, s, statusOf(err), f, nil)
		return
	}
	seeOther(w, r, "/cloud-auths")
}

// Registry auths.

var registryFields = []string{"name", "registry_url", "username", "password"}

func (c *Console) registryList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	l, err := c.o.Store.ListRegistryAuths(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "registry_auths", view{Title: "Registry auths", Nav: "registry", Session: s, Data: l})
}

func (c *Console) registryNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	c.render(w, r, http.StatusOK, "registry_auth_new", view{Title: "New registry auth", Nav: "registry", Session: s})
}

// registryCreate stores a registry auth with store.CreateRegistryAuth, as the API does.
func (c *Console) registryCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	in := domain.RegistryAuthInput{Name: strings.TrimSpace(v.Get("name")), RegistryURL: strings.TrimSpace(v.Get("registry_url")),
		Username: strings.TrimSpace(v.Get("username")), Password: v.Get("password")}
	ra, err := c.o.Store.CreateRegistryAuth(ctx(r), s.Project.ID, in)
	if err != nil {
		err = c.userError(err)
		f := newForm(url.Values{"name": {in.Name}, "registry_url": {in.RegistryURL}, "username": {in.Username}})
		f.fail(err, registryFields...)
		c.render(w, r, statusOf(err), "registry_auth_new", view{Title: "New registry auth", Nav: "registry", Session: s, Form: f})
		return
	}
	seeOther(w, r, "/registry-auths/"+ra.ID)
}

func (c *Console) registryDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	ra, err := c.o.Store.RegistryAuth(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "registry_auth", view{Title: "Registry auth " + ra.Name, Nav: "registry", Session: s, Data: ra})
}

func (c *Console) registryDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if err := c.o.Store.DeleteRegistryAuth(ctx(r), s.Project.ID, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/registry-auths")
}

// Cron jobs.

var cronFields = []string{"name", "description", "expression", "time_zone", "overlap", "job_definition", "job_queue", "container_cmd", "container_cmd_parameter", "container_env", "sensitive_env", "enabled"}

func (c *Console) cronList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	l, err := c.o.Store.ListCronJobs(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "cron_jobs", view{Title: "Cron jobs", Nav: "cron", Session: s, Data: l})
}

func (c *Console) cronFormView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form) {
	d, err := c.jobFormData(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	p := previewOf("Next 10 triggers", f.Get("expression"), f.Get("time_zone"))
	p.showError(f)
	c.render(w, r, status, "cron_new", view{Title: "New cron job", Nav: "cron", Session: s, Form: f,
		Data: cronFormData{jobFormData: d, Overlaps: domain.CronOverlapPolicies, Preview: p}})
}

type cronFormData struct {
	jobFormData
	Overlaps []string
	// Preview is the next triggers of the form's expression and zone.
	Preview cronPreview
}

func (c *Console) cronNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := newForm(url.Values{"time_zone": {"UTC"}, "enabled": {"on"}, "expression": {"0 0 * ? * *"}})
	c.cronFormView(w, r, s, http.StatusOK, f)
}

// cronCreate normalizes like the API and creates the cron job with its
// schedule (service.CreateCronJob).
func (c *Console) cronCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	job, err := jobInput(v)
	enabled := checked(v, "enabled")
	in := domain.CronJobInput{Name: strings.TrimSpace(v.Get("name")), Description: v.Get("description"), Expression: strings.TrimSpace(v.Get("expression")),
		JobDefinition: job.JobDefinition, JobQueue: job.JobQueue, ContainerCmd: job.ContainerCmd, ContainerCmdParameter: job.ContainerCmdParameter,
		ContainerEnv: job.ContainerEnv, TimeZone: strings.TrimSpace(v.Get("time_zone")), Overlap: v.Get("overlap"), Enabled: &enabled}
	var id string
	if err == nil {
		var spec domain.CronJobSpec
		if spec, err = in.Normalize(s.Project.Code); err == nil {
			written, werr := c.o.Service.CreateCronJob(ctx(r), s.Project.ID, spec)
			err, id = werr, written.ID
		}
	}
	if err != nil {
		err = c.userError(err)
		f := newForm(v)
		f.fail(err, cronFields...)
		c.cronFormView(w, r, s, statusOf(err), f)
		return
	}
	seeOther(w, r, "/cron-jobs/"+id)
}

type cronDetailData struct {
	Cron     domain.CronJobDetail
	Upcoming domain.CronUpcoming
	// UpcomingErr says why the upcoming triggers could not be read.
	UpcomingErr string
}

func (c *Console) cronDetailView(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, status int, f *form) {
	d, err := c.o.Service.CronJobDetail(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data := cronDetailData{Cron: d}
	if data.Upcoming, err = c.o.Service.UpcomingCronTriggers(ctx(r), s.Project.ID, d.ID, domain.DefaultCronUpcoming); err != nil {
		data.UpcomingErr = domain.ErrorMessage(c.userError(err))
	}
	const previewTitle = "Next triggers of the expression in the form"
	preview := cronPreview{Title: previewTitle, Items: []previewTime{},
		Status: "Change the expression or the time zone to see when it would fire."}
	if f == nil {
		f = newForm(url.Values{"expression": {d.Expression}, "time_zone": {d.TimeZone}, "description": {d.Description}, "overlap": {d.Overlap}})
		if d.Enabled {
			f.Values.Set("enabled", "on")
		}
	} else {
		preview = previewOf(previewTitle, f.Get("expression"), f.Get("time_zone"))
		preview.showError(f)
	}
	c.render(w, r, status, "cron_job", view{Title: "Cron job " + d.Name, Nav: "cron", Session: s, Form: f,
		Data: struct {
			cronDetailData
			Overlaps []string
			Preview  cronPreview
		}{data, domain.CronOverlapPolicies, preview}})
}

func (c *Console) cronDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	c.cronDetailView(w, r, s, http.StatusOK, nil)
}

// cronUpdate changes the schedule's expression, zone, overlap, description
// or enabled state (service.UpdateCronJob rewrites the schedule).
func (c *Console) cronUpdate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	v := r.PostForm
	expr, tz, desc, overlap, enabled := strings.TrimSpace(v.Get("expression")), strings.TrimSpace(v.Get("time_zone")), v.Get("description"), v.Get("overlap"), checked(v, "enabled")
	p := domain.CronJobPatch{Expression: &expr, TimeZone: &tz, Description: &desc, Overlap: &overlap, Enabled: &enabled}
	if _, err := c.o.Service.UpdateCronJob(ctx(r), s.Project.ID, s.Project.Code, r.PathValue("id"), p); err != nil {
		err = c.userError(err)
		f := newForm(v)
		f.fail(err, cronFields...)
		c.cronDetailView(w, r, s, statusOf(err), f)
		return
	}
	seeOther(w, r, "/cron-jobs/"+r.PathValue("id"))
}

func (c *Console) cronDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if _, err := c.o.Service.DeleteCronJob(ctx(r), s.Project.ID, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/cron-jobs")
}
