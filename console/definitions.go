package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"daestro/internal/domain"
)

// defFields are the definition form's fields: the API's names, and
// sensitive_env for the write-only variables.
var defFields = []string{"name", "type", "image", "registry_auth_id", "script", "command", "parameters", "env", "sensitive_env", "cpu_quota_pct", "memory_mb", "privileged", "timeout_seconds",
	fieldRetryAttempts, fieldRetryRules}

func (c *Console) defList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	page, err := domain.ParsePageRequest(r.URL.Query().Get("limit"), r.URL.Query().Get("next_token"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	defs, err := c.o.Store.ListJobDefinitions(ctx(r), s.Project.ID, page)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "definitions", view{Title: "Job definitions", Nav: "definitions", Session: s, Data: defs})
}

// defFormData is the definition form's choices, and the revised definition.
type defFormData struct {
	RegistryAuths []domain.RegistryAuth
	// Base is the latest version a revision starts from; nil for a new definition.
	Base *domain.JobDefinition
}

func (c *Console) defFormData(r *http.Request, s *domain.ConsoleSession, base *domain.JobDefinition) (defFormData, error) {
	ra, err := c.o.Store.ListRegistryAuths(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	return defFormData{RegistryAuths: ra.Items, Base: base}, err
}

func (c *Console) defNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	d, err := c.defFormData(r, s, nil)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f := newForm(url.Values{"type": {domain.JobDefinitionDocker}})
	c.render(w, r, http.StatusOK, "definition_form", view{Title: "New job definition", Nav: "definitions", Session: s, Form: f, Data: d})
}

func (c *Console) defCreate(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	in, err := defInput(r.PostForm, nil)
	var def domain.JobDefinition
	if err == nil {
		def, err = c.o.Store.CreateJobDefinition(ctx(r), s.Project.ID, in, c.o.BashImage)
	}
	if err != nil {
		c.defFormFailed(w, r, s, nil, err, "New job definition")
		return
	}
	seeOther(w, r, "/job-definitions/"+url.PathEscape(domain.FormatDefinitionRef(def.Name, def.Version)))
}

func (c *Console) defFormFailed(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession, base *domain.JobDefinition, err error, title string) {
	err = c.userError(err)
	f := newForm(r.PostForm)
	f.fail(err, defFields...)
	d, derr := c.defFormData(r, s, base)
	if derr != nil {
		c.fail(w, r, s, derr)
		return
	}
	c.render(w, r, statusOf(err), "definition_form", view{Title: title, Nav: "definitions", Session: s, Form: f, Data: d})
}

// defInput builds the API's body from the form. Every field is given, so a
// revision replaces what the form shows; env is merged per key by the
// store, so a variable of base the form no longer lists is removed, and a
// sensitive one listed without "=value" keeps its hidden value.
func defInput(v url.Values, base *domain.JobDefinition) (domain.JobDefinitionInput, error) {
	var in domain.JobDefinitionInput
	typ := v.Get("type")
	in.Type = &typ
	if base == nil {
		name := strings.TrimSpace(v.Get("name"))
		in.Name = &name
	}
	none := ""
	switch typ {
	case domain.JobDefinitionBash:
		script := strings.ReplaceAll(v.Get("script"), "\r\n", "\n")
		in.Script, in.RegistryAuthID = &script, &none
	default:
		image, ra := strings.TrimSpace(v.Get("image")), v.Get("registry_auth_id")
		in.Image, in.RegistryAuthID, in.Script = &image, &ra, &none
	}
	in.Command = argLines(v.Get("command"))
	if in.Command == nil {
		in.Command = []string{}
	}
	params, err := stringMap("parameters", v.Get("parameters"))
	if err != nil {
		return in, err
	}
	if params == nil {
		params = map[string]string{}
	}
	in.Parameters = params
	plain, _, err := pairs("env", v.Get("env"), false)
	if err != nil {
		return in, err
	}
	secret, _, err := pairs("sensitive_env", v.Get("sensitive_env"), base != nil)
	if err != nil {
		return in, err
	}
	in.Env = map[string]domain.EnvVarInput{}
	for k, val := range plain {
		in.Env[k] = domain.EnvVarInput{Value: val}
	}
	for k, val := range secret {
		if _, dup := in.Env[k]; dup {
			return in, invalid("sensitive_env", "%q is also a plain variable", k)
		}
		if val == nil && (base == nil || !base.Env[k].Sensitive) {
			return in, invalid("sensitive_env", "%q has no value: write %s=value", k, k)
		}
		in.Env[k] = domain.EnvVarInput{Value: val, Sensitive: true}
	}
	if base != nil {
		for k := range base.Env {
			if _, kept := in.Env[k]; !kept {
				in.Env[k] = domain.EnvVarInput{Value: &none}
			}
		}
	}
	if in.CPUQuotaPct, err = optInt(v, "cpu_quota_pct"); err != nil {
		return in, err
	}
	if in.MemoryMB, err = optInt(v, "memory_mb"); err != nil {
		return in, err
	}
	if base != nil {
		// Left empty in a revision: back to no quota, not the inherited one.
		if in.CPUQuotaPct == nil {
			in.Null = append(in.Null, "cpu_quota_pct")
		}
		if in.MemoryMB == nil {
			in.Null = append(in.Null, "memory_mb")
		}
	}
	priv := checked(v, "privileged")
	in.Privileged = &priv
	timeout, err := intOr(v, "timeout_seconds", 0)
	if err != nil {
		return in, err
	}
	in.TimeoutSeconds = &timeout
	if in.RetryStrategy, err = retryInput(v); err != nil {
		return in, err
	}
	if base != nil && in.RetryStrategy == nil {
		// Left empty in a revision: back to the default, not the inherited one.
		in.Null = append(in.Null, "retry_strategy")
	}
	return in, nil
}

// defValues prefills the form from a definition; sensitive values are
// never written into it, only their names.
func defValues(d domain.JobDefinition) url.Values {
	v := url.Values{"type": {d.Type}, "image": {d.Image}, "script": {d.Script},
		"command": {strings.Join(d.Command, "\n")}, "parameters": {joinPairs(d.Parameters)}}
	if d.Type == domain.JobDefinitionBash {
		v.Set("image", "")
	}
	if d.RegistryAuthID != nil {
		v.Set("registry_auth_id", *d.RegistryAuthID)
	}
	var plain, secret []string
	for k, e := range d.Env {
		if e.Sensitive {
			secret = append(secret, k)
		} else {
			plain = append(plain, k+"="+e.Value)
		}
	}
	sort.Strings(plain)
	sort.Strings(secret)
	v.Set("env", strings.Join(plain, "\n"))
	v.Set("sensitive_env", strings.Join(secret, "\n"))
	if d.CPUQuotaPct != nil {
		v.Set("cpu_quota_pct", strconv.Itoa(*d.CPUQuotaPct))
	}
	if d.MemoryMB != nil {
		v.Set("memory_mb", strconv.Itoa(*d.MemoryMB))
	}
	if d.Privileged {
		v.Set("privileged", "on")
	}
	v.Set("timeout_seconds", strconv.Itoa(d.TimeoutSeconds))
	setRetryValues(v, d.RetryStrategy)
	return v
}

// defDetailData is one version with the definition's revisions.
type defDetailData struct {
	Def       domain.JobDefinition
	Revisions []domain.JobDefinition
}

func (c *Console) defDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	def, err := c.o.Store.ResolveJobDefinition(ctx(r), s.Project.ID, r.PathValue("ref"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	revs, err := c.o.Store.ListJobDefinitionRevisions(ctx(r), s.Project.ID, def.Name, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "definition", view{Title: "Job definition " + domain.FormatDefinitionRef(def.Name, def.Version),
		Nav: "definitions", Session: s, Data: defDetailData{Def: def, Revisions: revs.Items}})
}

// defRevise is the "new revision" form, prefilled from the latest version.
func (c *Console) defRevise(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	name, _, _ := strings.Cut(r.PathValue("ref"), ":")
	base, err := c.o.Store.ResolveJobDefinition(ctx(r), s.Project.ID, name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d, err := c.defFormData(r, s, &base)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "definition_form", view{Title: "New revision of " + base.Name, Nav: "definitions", Session: s,
		Form: newForm(defValues(base)), Data: d})
}

func (c *Console) defCreateRevision(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	name, _, _ := strings.Cut(r.PathValue("ref"), ":")
	base, err := c.o.Store.ResolveJobDefinition(ctx(r), s.Project.ID, name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	in, err := defInput(r.PostForm, &base)
	var def domain.JobDefinition
	if err == nil {
		def, err = c.o.Store.CreateJobDefinitionRevision(ctx(r), s.Project.ID, base.Name, in, c.o.BashImage)
	}
	if err != nil {
		c.defFormFailed(w, r, s, &base, err, "New revision of "+base.Name)
		return
	}
	seeOther(w, r, "/job-definitions/"+url.PathEscape(domain.FormatDefinitionRef(def.Name, def.Version)))
}

func (c *Console) defDelete(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	if _, err := c.o.Store.DeleteJobDefinition(ctx(r), s.Project.ID, r.PathValue("ref")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/job-definitions")
}
