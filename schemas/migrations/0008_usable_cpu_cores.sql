-- A self-hosted compute environment's usable_cpu_pct is percent of one CPU
-- core (100 = one core, 400 = four), like a job definition's quota; it was
-- read as a 10-100 share of the machine. Stored shares become cores where
-- the machine's size is known (the largest host an agent of the environment
-- registered); an environment no agent ever registered for keeps its number,
-- now read as percent of one core (the smaller grant, never an overload).
UPDATE compute_envs e
SET usable_cpu_pct = GREATEST(10, h.host_cpu_pct * e.usable_cpu_pct / 100),
    updated_at = now()
FROM (SELECT compute_env_id, max(host_cpu_pct) AS host_cpu_pct
      FROM compute_spawns WHERE host_cpu_pct IS NOT NULL GROUP BY compute_env_id) h
WHERE h.compute_env_id = e.id AND e.kind = 'selfhosted' AND e.usable_cpu_pct IS NOT NULL;
