-- Readings on plain PostgreSQL: monthly range partitions (UTC months), BRIN on time,
-- primary key (point_id, ts). No DEFAULT partition: partitions are created ahead by
-- ems_ensure_reading_partitions(), called by ingest for the range it writes and by a job.
-- The TimescaleDB variant of this migration is 002_readings.timescale.sql.

CREATE TABLE reading (
    point_id  integer NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision,            -- as reported, in the point's canonical unit
    delta     double precision,            -- interval quantity ending at ts (cumulative / interval points)
    quality   smallint NOT NULL DEFAULT 0, -- bit flags, see ems.readings.quality
    batch_id  integer,                     -- provenance: ingest_batch
    PRIMARY KEY (point_id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX reading_ts_brin ON reading USING brin (ts) WITH (pages_per_range = 32);

CREATE FUNCTION ems_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m      timestamptz := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    made   integer := 0;
    pname  text;
BEGIN
    WHILE m <= to_ts LOOP
        pname := format('reading_y%sm%s', to_char(m AT TIME ZONE 'UTC', 'YYYY'), to_char(m AT TIME ZONE 'UTC', 'MM'));
        IF to_regclass(pname) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF reading FOR VALUES FROM (%L) TO (%L)',
                           pname, m, m + interval '1 month');
            made := made + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN made;
END $$;

SELECT ems_ensure_reading_partitions(now() - interval '1 month', now() + interval '3 months');
