-- Data quality per point and local day, meter-tree balance, alarm rules, events and notifications.
-- Plain PostgreSQL (identical on TimescaleDB). Written by ems.quality.store and ems.alarms.store.

-- Hours whose data-quality figures must be recomputed. Fed by a trigger on dirty_hour, so every path
-- that marks roll-ups dirty (ingest, live ingest, late data, edits, rebuild) queues the quality job too;
-- the quality job consumes the hours whose roll-ups are already refreshed.
CREATE TABLE quality_dirty (
    point_id   integer NOT NULL,
    hour_utc   timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, hour_utc)
);

CREATE FUNCTION ems_quality_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO quality_dirty (point_id, hour_utc)
    SELECT DISTINCT point_id, hour_utc FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER dirty_hour_quality AFTER INSERT ON dirty_hour
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ems_quality_mark();

-- One row per metered point and local day of its site.
CREATE TABLE quality_day (
    point_id         integer NOT NULL REFERENCES point (point_id) ON DELETE CASCADE,
    day              date NOT NULL,                 -- local calendar day of the point's site
    expected         integer,                       -- interval slots in the day (up to now for today)
    received         integer NOT NULL,              -- slots with a value
    completeness     double precision,              -- received / expected (NULL without interval_s)
    last_ts          timestamptz,                   -- newest reading at or before the day's end (or now)
    stale_intervals  integer,                       -- whole intervals without data before the day's end (or now)
    flatline_h       double precision NOT NULL DEFAULT 0,  -- longest unchanged run (instantaneous), hours
    frozen_h         double precision NOT NULL DEFAULT 0,  -- register frozen while siblings moved, hours
    spikes           integer NOT NULL DEFAULT 0,
    out_of_range     integer NOT NULL DEFAULT 0,
    negative         integer NOT NULL DEFAULT 0,    -- negative consumption (deltas, backsteps, virtual hours)
    off_grid         integer NOT NULL DEFAULT 0,    -- timestamps off the interval grid
    future           integer NOT NULL DEFAULT 0,    -- timestamps later than the computation time
    max_offset_s     double precision,              -- largest distance from the grid, seconds
    issues           text[] NOT NULL DEFAULT '{}',  -- names of the checks that failed
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (point_id, day)
);
CREATE INDEX quality_day_day_idx ON quality_day (day);

-- Meter-tree balance: a parent meter (metered or virtual, read from its roll-up) against the sum of its
-- child meters, per hour and local day. unaccounted = parent - children; share = unaccounted / parent.
CREATE TABLE quality_balance (
    parent_point_id  integer NOT NULL REFERENCES point (point_id) ON DELETE CASCADE,
    grain            text NOT NULL CHECK (grain IN ('hour', 'day')),
    bucket           timestamptz NOT NULL,
    parent_value     double precision,
    children_value   double precision,             -- in the parent's unit
    n_children       integer NOT NULL,
    children_with_data integer NOT NULL,
    unaccounted      double precision,
    share            double precision,
    tolerance        double precision NOT NULL,
    ok               boolean,                      -- |share| <= tolerance (NULL when not computable)
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_point_id, grain, bucket)
);

CREATE TABLE quality_run (
    run_id       serial PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    point_days   integer,
    balance_rows integer,
    deferred     integer                          -- dirty hours left for the next run (roll-ups pending)
);

-- The alarm rule set in force: the YAML text as loaded (`ems alarms rules load`), newest wins.
CREATE TABLE alarm_rule_set (
    set_id      serial PRIMARY KEY,
    file        text NOT NULL,
    file_sha256 text NOT NULL,
    content     text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Evaluation state per rule and subject (point, node or parent meter): where evaluation stopped and the
-- hysteresis phase, so each run continues where the last one ended.
CREATE TABLE alarm_state (
    rule_id   text NOT NULL,
    subject   text NOT NULL,
    last_ts   timestamptz,
    phase     text NOT NULL CHECK (phase IN ('normal', 'pending_on', 'active', 'pending_off')),
    since     timestamptz,
    event_id  bigint,
    PRIMARY KEY (rule_id, subject)
);

CREATE TABLE alarm_event (
    event_id    bigserial PRIMARY KEY,
    rule_id     text NOT NULL,
    rule_type   text NOT NULL,
    subject     text NOT NULL,
    severity    text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    threshold   double precision,
    peak_value  double precision,
    last_value  double precision,
    message     text NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    cleared_at  timestamptz,
    acked_by    text,
    acked_at    timestamptz,
    ack_note    text
);
-- de-duplication: at most one open event per rule and subject
CREATE UNIQUE INDEX alarm_event_one_open ON alarm_event (rule_id, subject) WHERE ended_at IS NULL;
CREATE INDEX alarm_event_started_idx ON alarm_event (started_at DESC);

CREATE TABLE alarm_notification (
    notification_id bigserial PRIMARY KEY,
    event_id   bigint NOT NULL REFERENCES alarm_event (event_id) ON DELETE CASCADE,
    channel    text NOT NULL,                     -- notifier id from the rules file
    kind       text NOT NULL CHECK (kind IN ('raised', 'cleared')),
    status     text NOT NULL CHECK (status IN ('sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 1,
    error      text,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, channel, kind)
);
