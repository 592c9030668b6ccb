-- OAuth client secrets as Qlik shows them: each secret has a `hint` (its last characters,
-- shown instead of the secret, which is never shown again after it was created) by which
-- it is listed in the client (`clientSecrets`) and revoked
-- (`DELETE /oauth-clients/{id}/client-secrets/{hint}`). A hint is unique within its client.
-- Secrets stored before this migration have no known characters: they get the hint
-- `legacy-<id>`, by which they can be revoked too.

ALTER TABLE oauth_client_secrets ADD COLUMN hint TEXT;
UPDATE oauth_client_secrets SET hint = 'legacy-' || id WHERE hint IS NULL;
CREATE UNIQUE INDEX oauth_client_secrets_hint ON oauth_client_secrets (tenant_id, client_id, hint);
