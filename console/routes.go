package console

import (
	"io/fs"
	"net/http"
	"sync"

	"daestro/internal/domain"
)

// Paths of the console's pages, in the product's vocabulary.
func (c *Console) routes() {
	m := c.mux
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /signin", c.signInPage)
	m.HandleFunc("POST /signin", c.signIn)
	m.HandleFunc("POST /signout", c.signedIn(c.signOut))
	m.HandleFunc("GET /{$}", c.signedIn(c.dashboard))

	m.HandleFunc("GET /jobs", c.signedIn(c.jobList))
	m.HandleFunc("GET /jobs/new", c.signedIn(c.jobNew))
	m.HandleFunc("POST /jobs", c.signedIn(c.jobSubmit))
	m.HandleFunc("GET /jobs/{id}", c.signedIn(c.jobDetail))
	m.HandleFunc("GET /jobs/{id}/logs/stream", c.signedIn(c.jobLogStream))
	m.HandleFunc("POST /jobs/{id}/cancel", c.signedIn(c.jobCancel))
	m.HandleFunc("POST /jobs/{id}/resubmit", c.signedIn(c.jobResubmit))

	m.HandleFunc("GET /job-definitions", c.signedIn(c.defList))
	m.HandleFunc("GET /job-definitions/new", c.signedIn(c.defNew))
	m.HandleFunc("POST /job-definitions", c.signedIn(c.defCreate))
	m.HandleFunc("GET /job-definitions/{ref}", c.signedIn(c.defDetail))
	m.HandleFunc("GET /job-definitions/{ref}/revise", c.signedIn(c.defRevise))
	m.HandleFunc("POST /job-definitions/{ref}/revisions", c.signedIn(c.defCreateRevision))
	m.HandleFunc("POST /job-definitions/{ref}/delete", c.signedIn(c.defDelete))

	m.HandleFunc("GET /job-queues", c.signedIn(c.queueList))
	m.HandleFunc("GET /job-queues/new", c.signedIn(c.queueNew))
	m.HandleFunc("POST /job-queues", c.signedIn(c.queueCreate))
	m.HandleFunc("GET /job-queues/{id}", c.signedIn(c.queueDetail))
	m.HandleFunc("POST /job-queues/{id}", c.signedIn(c.queueUpdate))
	m.HandleFunc("POST /job-queues/{id}/compute-envs", c.signedIn(c.queueAddEnv))
	m.HandleFunc("POST /job-queues/{id}/compute-envs/{envId}/remove", c.signedIn(c.queueRemoveEnv))
	m.HandleFunc("POST /job-queues/{id}/delete", c.signedIn(c.queueDelete))

	m.HandleFunc("GET /compute-envs", c.signedIn(c.envList))
	m.HandleFunc("GET /compute-envs/new", c.signedIn(c.envNew))
	m.HandleFunc("POST /compute-envs", c.signedIn(c.envCreate))
	m.HandleFunc("GET /compute-envs/{id}", c.signedIn(c.envDetail))
	m.HandleFunc("POST /compute-envs/{id}", c.signedIn(c.envUpdate))
	m.HandleFunc("POST /compute-envs/{id}/delete", c.signedIn(c.envDelete))

	m.HandleFunc("GET /compute-spawns", c.signedIn(c.spawnList))
	m.HandleFunc("POST /compute-spawns", c.signedIn(c.spawnCreate))
	m.HandleFunc("GET /compute-spawns/{id}", c.signedIn(c.spawnDetail))
	m.HandleFunc("POST /compute-spawns/{id}/terminate", c.signedIn(c.spawnTerminate))

	c.extraRoutes()
	m.HandleFunc("/", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
		c.fail(w, r, s, domain.Errorf(domain.ENOTFOUND, "there is no page %s in the console", r.URL.Path))
	}))
}

// followers counts each session's open live log streams on this server.
type followers struct {
	mu    sync.Mutex
	max   int
	count map[string]int
}

// acquire takes a stream for key, or says why not (ETOOMANY).
func (f *followers) acquire(key string) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count[key] >= f.max {
		return nil, domain.Errorf(domain.ETOOMANY, "this session already follows %d live logs: close some of the console's tabs", f.max)
	}
	f.count[key]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.count[key]--; f.count[key] <= 0 {
			delete(f.count, key)
		}
	}, nil
}
