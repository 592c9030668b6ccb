-- The audit trail: per tenant an append-only chain of events (each carries its predecessor's
-- hash), the tenant's audit settings, and per tenant its anchor: where an archived prefix of
-- the chain ends (verification continues from it) and the chain's head (so removing the last
-- events is found too). The store never updates or deletes an event
-- except when archiving, which moves the anchor in the same transaction.

CREATE TABLE audit_events (
    tenant_id  BIGINT  NOT NULL,
    seq        BIGINT  NOT NULL,
    event_time TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    user_id    TEXT,
    space_id   TEXT,
    body_json  TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_type ON audit_events (tenant_id, event_type);
CREATE INDEX audit_events_user ON audit_events (tenant_id, user_id);
CREATE INDEX audit_events_time ON audit_events (tenant_id, event_time);

CREATE TABLE audit_settings (
    tenant_id          BIGINT  PRIMARY KEY,
    mode               TEXT    NOT NULL,
    sample_per_million BIGINT  NOT NULL,
    retention_days     BIGINT
);

CREATE TABLE audit_anchors (
    tenant_id     BIGINT  PRIMARY KEY,
    archived_seq  BIGINT  NOT NULL,
    archived_hash TEXT    NOT NULL,
    head_seq      BIGINT  NOT NULL,
    head_hash     TEXT    NOT NULL
);
