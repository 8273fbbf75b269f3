-- Scheduled jobs (ems serve --role worker): every run recorded, alarms after repeated failures, and the
-- APScheduler 3.x job store. Plain PostgreSQL; identical on TimescaleDB.

-- One row per attempt of a job. A run that is retried has rows with status 'retry' and attempt 1, 2, ...;
-- its last attempt is 'ok' or 'failed'. 'missed' = a misfire beyond the grace time (the run was dropped);
-- 'skipped' = the previous run was still going (max_instances = 1).
CREATE TABLE job_run (
    run_id        bigserial PRIMARY KEY,
    job           text NOT NULL,                -- registry name, e.g. 'rollup_refresh'
    site          text,                         -- node code for a per-site job; NULL for a group-wide job
    job_key       text NOT NULL,                -- scheduler id: job or job@site
    scheduled_at  timestamptz,                  -- when the run was due (lateness = started_at - scheduled_at)
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL CHECK (status IN ('running', 'ok', 'retry', 'failed', 'missed', 'skipped')),
    attempt       smallint NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    rows_touched  bigint,
    error         text,
    host          text,
    pid           integer
);
CREATE INDEX job_run_key_started ON job_run (job_key, started_at DESC);
CREATE INDEX job_run_started ON job_run (started_at DESC);

-- Raised when a job's last N runs all failed (N = scheduler.alarm_after_failures); cleared by its next
-- success. At most one open alarm per job key. The alarm module may later take these over.
CREATE TABLE job_alarm (
    alarm_id      bigserial PRIMARY KEY,
    job           text NOT NULL,
    site          text,
    job_key       text NOT NULL,
    raised_at     timestamptz NOT NULL DEFAULT now(),
    failures      integer NOT NULL,
    last_error    text,
    acknowledged_at timestamptz,
    cleared_at    timestamptz
);
CREATE UNIQUE INDEX job_alarm_one_open ON job_alarm (job_key) WHERE cleared_at IS NULL;

-- APScheduler 3.x SQLAlchemyJobStore table (tablename='scheduler_job'); created here so that the schema
-- is complete after migrations and backups, APScheduler would otherwise create the same table itself.
CREATE TABLE scheduler_job (
    id            varchar(191) PRIMARY KEY,
    next_run_time double precision,
    job_state     bytea NOT NULL
);
CREATE INDEX ix_scheduler_job_next_run_time ON scheduler_job (next_run_time);
