-- The provider account behind a cloud auth's keys, and the account each
-- cloud spawn's machine was created in. A machine is visible only to keys of
-- its own account, so once a cloud auth holds keys of another account,
-- "not found" no longer means "gone": daestro compares the two before it
-- believes a machine deleted.
--
-- The value is the provider's stable account identifier (AWS's 12-digit
-- account ID, DigitalOcean's account UUID, Linode's euuid, Vultr's account
-- email, the Docker engine's ID). NULL means unknown: rows written before
-- this migration, and providers daestro could not ask. A cloud auth's
-- account is recorded at create and on every key change (the first key
-- change of an old row asks the provider with the stored keys first); a
-- spawn's is copied from its cloud auth when the spawn is requested and
-- set to the account of the keys that actually created its machine.
ALTER TABLE cloud_auths ADD COLUMN account_id text CHECK (account_id <> '');
ALTER TABLE compute_spawns ADD COLUMN account_id text CHECK (account_id <> '');
