package apiserver

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

func (s *Server) cronJobRoutes(g *gin.RouterGroup) {
	g.POST("/cron-jobs", s.createCronJob)
	g.GET("/cron-jobs", s.listCronJobs)
	g.GET("/cron-jobs/:id", s.getCronJob)
	g.PATCH("/cron-jobs/:id", s.updateCronJob)
	g.DELETE("/cron-jobs/:id", s.deleteCronJob)
	g.GET("/cron-jobs/:id/upcoming", s.cronJobUpcoming)
}

// createCronJob creates the cron job and its schedule (service.CreateCronJob).
func (s *Server) createCronJob(c *gin.Context) {
	var in domain.CronJobInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	p := project(c)
	spec, err := in.Normalize(p.Code)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.svc.CreateCronJob(c.Request.Context(), p.ID, spec)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, out)
}

func (s *Server) listCronJobs(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListCronJobs(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// getCronJob answers the cron job with what its schedule reports (service.CronJobDetail).
func (s *Server) getCronJob(c *gin.Context) {
	d, err := s.svc.CronJobDetail(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, d)
}

// updateCronJob changes the cron job and rewrites its schedule (service.UpdateCronJob).
func (s *Server) updateCronJob(c *gin.Context) {
	var patch domain.CronJobPatch
	if err := bindJSON(c, &patch); err != nil {
		writeError(c, err)
		return
	}
	p := project(c)
	out, err := s.svc.UpdateCronJob(c.Request.Context(), p.ID, p.Code, c.Param("id"), patch)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// deleteCronJob deletes the row and the schedule (service.DeleteCronJob).
// The jobs it submitted stay.
func (s *Server) deleteCronJob(c *gin.Context) {
	cj, err := s.svc.DeleteCronJob(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, cj.ID)
}

// upcomingCount reads ?count= (1..MaxCronUpcoming, DefaultCronUpcoming when absent).
func upcomingCount(raw string) (int, error) {
	if raw == "" {
		return domain.DefaultCronUpcoming, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > domain.MaxCronUpcoming {
		return 0, domain.Errorf(domain.EINVALID, "count: %q must be a whole number from 1 to %d", raw, domain.MaxCronUpcoming)
	}
	return n, nil
}

// cronJobUpcoming lists the next triggers as Temporal computes them
// (service.UpcomingCronTriggers).
func (s *Server) cronJobUpcoming(c *gin.Context) {
	count, err := upcomingCount(c.Query("count"))
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.svc.UpcomingCronTriggers(c.Request.Context(), project(c).ID, c.Param("id"), count)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}
