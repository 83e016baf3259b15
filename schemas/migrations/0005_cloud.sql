-- Cloud compute: the local Docker engine as a provider, the instance sizes a
-- cloud environment offers (placement's best fit needs them), and what a
-- cloud spawn's machine is at its provider.

ALTER TABLE cloud_auths DROP CONSTRAINT cloud_auths_provider_check;
ALTER TABLE cloud_auths ADD CONSTRAINT cloud_auths_provider_check
    CHECK (provider IN ('aws', 'digitalocean', 'linode', 'vultr', 'localdocker'));

ALTER TABLE compute_envs
    -- The instance type's size and price, read from the provider when the
    -- environment is created (NULL for self-hosted ones).
    ADD COLUMN instance_vcpu      integer CHECK (instance_vcpu > 0),
    ADD COLUMN instance_memory_mb integer CHECK (instance_memory_mb > 0),
    ADD COLUMN hourly_price       double precision CHECK (hourly_price >= 0);

ALTER TABLE compute_spawns
    -- The machine at the provider; instance_id is empty until the create
    -- call returned (reconciliation finds a machine without one by its tag).
    ADD COLUMN provider       text NOT NULL DEFAULT '',
    ADD COLUMN cloud_auth_id  uuid REFERENCES cloud_auths (id),
    ADD COLUMN region         text NOT NULL DEFAULT '',
    ADD COLUMN instance_type  text NOT NULL DEFAULT '',
    ADD COLUMN instance_id    text NOT NULL DEFAULT '',
    ADD COLUMN public_ipv4    text NOT NULL DEFAULT '',
    ADD COLUMN public_ipv6    text NOT NULL DEFAULT '',
    -- Why the spawn failed or could not be terminated, for the user.
    ADD COLUMN system_note    text NOT NULL DEFAULT '';
CREATE INDEX compute_spawns_cloud_auth_idx ON compute_spawns (cloud_auth_id) WHERE cloud_auth_id IS NOT NULL;
