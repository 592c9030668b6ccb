-- The keyed audit chain: which audit key sealed each event (NULL: plain SHA-256, as every
-- event before keys existed), and the archive anchor's signature (key id and HMAC of the
-- tenant, the last archived event and its hash), so that an anchor cannot be moved forward
-- over deleted events by someone without the key. The key itself is never stored.

ALTER TABLE audit_events ADD COLUMN key_id TEXT;
ALTER TABLE audit_anchors ADD COLUMN archived_key_id TEXT;
ALTER TABLE audit_anchors ADD COLUMN archived_sig TEXT;
