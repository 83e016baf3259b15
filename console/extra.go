package console

// extraRoutes registers the pages of cloud auths, registry auths and cron jobs.
func (c *Console) extraRoutes() {}
