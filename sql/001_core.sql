-- Core schema: asset model, ingest bookkeeping, quarantine, edits.
-- Applied once by ems.db.migrate; recorded in schema_migrations.

CREATE TABLE node (
    node_id         serial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    parent_id       integer REFERENCES node (node_id) ON DELETE RESTRICT,
    level           text NOT NULL,                 -- group, company, park, site, plant, workshop, line, equipment ...
    name_zh         text,
    name_en         text,
    timezone        text NOT NULL,                 -- IANA zone, inherited down the tree when not given
    grid_region     text,                          -- e.g. MEE regional grid code
    ownership_share numeric(9, 6) NOT NULL DEFAULT 1 CHECK (ownership_share >= 0 AND ownership_share <= 1),
    operational_control boolean NOT NULL DEFAULT true,
    financial_control   boolean NOT NULL DEFAULT true,
    attrs           jsonb NOT NULL DEFAULT '{}'::jsonb,
    source_file     text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM node_id)
);
CREATE INDEX node_parent_idx ON node (parent_id);

CREATE TABLE point (
    point_id        serial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    node_id         integer NOT NULL REFERENCES node (node_id) ON DELETE RESTRICT,
    name_zh         text,
    name_en         text,
    medium          text NOT NULL,                 -- electricity, water, natural_gas, steam, heat, compressed_air, chilled_water, none ...
    quantity        text NOT NULL,                 -- energy, volume, mass, power, flow, temperature, humidity, pressure, status, count ...
    unit            text NOT NULL,                 -- canonical unit (pint spelling); values are stored in it
    kind            text NOT NULL CHECK (kind IN ('cumulative', 'interval', 'instantaneous')),
    interval_s      integer CHECK (interval_s > 0),  -- expected sampling interval in seconds
    parent_point_id integer REFERENCES point (point_id) ON DELETE SET NULL,
    formula         text,                          -- virtual meter formula over other point codes
    min_value       double precision,              -- plausible range of the reported value
    max_value       double precision,
    max_rate_per_h  double precision,              -- plausible increase per hour (cumulative and interval points)
    register_max    double precision,              -- register wraps to 0 after this value
    tags            jsonb NOT NULL DEFAULT '{}'::jsonb,
    source_file     text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX point_node_idx ON point (node_id);

-- One row per import of one file (or one live batch).
CREATE TABLE ingest_batch (
    batch_id     serial PRIMARY KEY,
    source       text NOT NULL,                    -- csv, excel, mqtt, opcua, modbus, manual, sim ...
    file         text,
    file_sha256  text,
    site_code    text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    report       jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Nothing is silently dropped: every rejected value lands here with its raw text and the reason.
CREATE TABLE quarantine (
    quarantine_id bigserial PRIMARY KEY,
    batch_id     integer REFERENCES ingest_batch (batch_id) ON DELETE SET NULL,
    source       text NOT NULL,
    file         text,
    line         integer,
    field        text,                              -- export tag / column / JSON field
    raw          text,                              -- the raw text as received
    ts_text      text,
    reason       text NOT NULL,                     -- machine code, e.g. unknown_tag, unparseable_value
    detail       text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_batch_idx ON quarantine (batch_id);
CREATE INDEX quarantine_reason_idx ON quarantine (reason);

-- Every explicit change of a stored reading.
CREATE TABLE reading_edit (
    edit_id      bigserial PRIMARY KEY,
    point_id     integer NOT NULL REFERENCES point (point_id),
    ts           timestamptz NOT NULL,
    old_value    double precision,
    new_value    double precision,
    old_quality  smallint,
    new_quality  smallint,
    reason       text NOT NULL,
    edited_by    text NOT NULL,
    batch_id     integer REFERENCES ingest_batch (batch_id) ON DELETE SET NULL,
    edited_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_edit_point_idx ON reading_edit (point_id, ts);

-- Repairs made when turning cumulative registers into interval quantities.
CREATE TABLE counter_event (
    point_id     integer NOT NULL REFERENCES point (point_id),
    ts           timestamptz NOT NULL,
    kind         text NOT NULL,                     -- rollover, reset, glitch, spike, backstep, gap
    prev_value   double precision,
    value        double precision,
    delta        double precision,                  -- interval quantity assigned (NULL when unknown)
    batch_id     integer REFERENCES ingest_batch (batch_id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, ts, kind)
);

-- Hours whose roll-ups must be recomputed (written by ingest, consumed by the roll-up job).
CREATE TABLE dirty_hour (
    point_id     integer NOT NULL,
    hour_utc     timestamptz NOT NULL,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, hour_utc)
);

-- Each asset-model load: what changed.
CREATE TABLE config_load (
    load_id      serial PRIMARY KEY,
    file         text NOT NULL,
    file_sha256  text NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    changes      jsonb NOT NULL
);
