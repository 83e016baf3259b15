package agent

// Capacity is what a spawn offers jobs: CPU in percent of a core (100 = one
// core, the quota's scale) and memory in MB.
type Capacity struct {
	CPUPct   int `json:"cpu_pct"`
	MemoryMB int `json:"memory_mb"`
}

// offeredCapacity caps the host's capacity by the compute env's usable CPU
// (percent of one core, like a quota: 400 = four cores) and memory, and by
// the agent's own overrides.
func offeredCapacity(host Capacity, usableCPUPct, usableMemoryMB *int, cfg Config) Capacity {
	c := host
	if usableCPUPct != nil && *usableCPUPct > 0 {
		c.CPUPct = min(c.CPUPct, *usableCPUPct)
	}
	if usableMemoryMB != nil && *usableMemoryMB > 0 {
		c.MemoryMB = min(c.MemoryMB, *usableMemoryMB)
	}
	if cfg.CPUPct > 0 {
		c.CPUPct = min(c.CPUPct, cfg.CPUPct)
	}
	if cfg.MemoryMB > 0 {
		c.MemoryMB = min(c.MemoryMB, cfg.MemoryMB)
	}
	return c
}
