-- Readings on TimescaleDB (production server, docker/). Same columns and key as the plain variant;
-- a hypertable with 7-day chunks, compression after 30 days (segment by point) and 10-year
-- retention. Queries are identical on both back-ends
-- (date_bin / date_trunc), so only this file differs. Not testable on the build machines.

CREATE TABLE reading (
    point_id  integer NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision,
    delta     double precision,
    quality   smallint NOT NULL DEFAULT 0,
    batch_id  integer,
    PRIMARY KEY (point_id, ts)
);

SELECT create_hypertable('reading', by_range('ts', INTERVAL '7 days'), if_not_exists => TRUE);

ALTER TABLE reading SET (timescaledb.compress,
                         timescaledb.compress_segmentby = 'point_id',
                         timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('reading', compress_after => INTERVAL '30 days', if_not_exists => TRUE);

-- Raw readings are kept 10 years (carbon inventories are re-examined years later); change here if needed.
SELECT add_retention_policy('reading', drop_after => INTERVAL '10 years', if_not_exists => TRUE);

-- Partitions are TimescaleDB's business here; keep the function so callers need not know.
CREATE FUNCTION ems_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
