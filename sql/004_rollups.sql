-- Roll-ups: the product's own incremental tables (same code on plain PostgreSQL and TimescaleDB).
-- Grains: '15min' and 'hour' (bucket = start, aligned to the site's local clock), 'day' and 'month'
-- (bucket = local midnight of the site's zone, stored as timestamptz). Additive points (cumulative,
-- interval) sum the deltas of the intervals ENDING in (bucket, bucket + width]; instantaneous points
-- keep mean/min/max of the values stamped in [bucket, bucket + width).

CREATE TABLE rollup_point (
    grain      text NOT NULL CHECK (grain IN ('15min', 'hour', 'day', 'month')),
    point_id   integer NOT NULL,
    bucket     timestamptz NOT NULL,
    sum_delta  double precision,   -- additive points, in the point's unit; NULL when no delta is known
    n_delta    integer NOT NULL DEFAULT 0,
    mean       double precision,   -- of the stored values (instantaneous points; registers for cumulative)
    min        double precision,
    max        double precision,
    n          integer NOT NULL DEFAULT 0,
    flags      smallint NOT NULL DEFAULT 0,   -- OR of the readings' quality flags
    PRIMARY KEY (grain, point_id, bucket)
);

-- Which additive points count toward which node: a point counts for every node above it unless its
-- parent meter is also inside that node's subtree (then the parent already contains it).
CREATE TABLE rollup_member (
    node_id    integer NOT NULL,
    point_id   integer NOT NULL,
    medium     text NOT NULL,
    unit       text NOT NULL,              -- canonical unit of the node roll-up: kWh, m3, t, count
    factor     double precision NOT NULL,  -- point unit -> canonical unit
    PRIMARY KEY (node_id, point_id)
);

CREATE TABLE rollup_node (
    grain      text NOT NULL CHECK (grain IN ('15min', 'hour', 'day', 'month')),
    node_id    integer NOT NULL,
    medium     text NOT NULL,
    unit       text NOT NULL,
    bucket     timestamptz NOT NULL,
    value      double precision,           -- sum of member deltas in the canonical unit
    n_points   integer NOT NULL,           -- members with data in the bucket
    flags      smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, node_id, medium, bucket)
);

CREATE TABLE rollup_run (
    run_id       serial PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    dirty_hours  integer,
    rows_written integer,
    seconds      double precision
);
