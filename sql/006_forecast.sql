-- Forecasting: model registry with champion per target, stored forecasts, live accuracy, drift flags.
-- Plain PostgreSQL (identical on TimescaleDB). Written by forecasting.store.

-- One row per trained model: what it forecasts, how, on which data, how well it backtested, and the
-- fitted model itself (pickled Python object: load only artefacts this product wrote).
CREATE TABLE forecast_model (
    model_id        serial PRIMARY KEY,
    target          text NOT NULL,                 -- point code (or a series name for CSV work)
    point_id        integer REFERENCES point (point_id) ON DELETE CASCADE,
    model           text NOT NULL,                 -- naive_day, naive_week, ets, sarimax, gbm
    step_s          integer NOT NULL CHECK (step_s > 0),
    horizon_steps   integer NOT NULL CHECK (horizon_steps > 0),
    quantiles       double precision[] NOT NULL,
    features        text[] NOT NULL DEFAULT '{}',  -- future-known feature point codes
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    train_start     timestamptz NOT NULL,
    train_end       timestamptz NOT NULL,
    backtest        jsonb NOT NULL DEFAULT '{}'::jsonb,   -- metrics of this model and of seasonal naive
    score           double precision,              -- backtest MAE; lower is better; champion = lowest
    artefact        bytea NOT NULL,
    artefact_sha256 text NOT NULL,
    is_champion     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (train_end > train_start)
);
CREATE INDEX forecast_model_target_idx ON forecast_model (target, horizon_steps);
-- at most one champion per target and horizon
CREATE UNIQUE INDEX forecast_model_champion_uq ON forecast_model (target, horizon_steps) WHERE is_champion;

-- One row per forecast value, for the bucket starting at ts, issued at issued_at (only data before it used).
-- actual is filled in as the readings arrive (forecasting.store.fill_actuals).
CREATE TABLE forecast_value (
    model_id   integer NOT NULL REFERENCES forecast_model (model_id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    ts         timestamptz NOT NULL,
    step       integer NOT NULL CHECK (step > 0),
    p50        double precision NOT NULL,
    quantiles  jsonb NOT NULL,                     -- {"p10": .., "p50": .., "p90": ..}
    naive      double precision,                   -- seasonal naive (one day) for the same ts, same issue
    actual     double precision,
    PRIMARY KEY (model_id, issued_at, ts),
    CHECK (ts >= issued_at)                        -- issued_at: data strictly before it were used
);
CREATE INDEX forecast_value_ts_idx ON forecast_value (model_id, ts);
CREATE INDEX forecast_value_open_idx ON forecast_value (model_id, ts) WHERE actual IS NULL;

-- Live accuracy per target, model and lead-time band (hours ahead, rounded up), over the values
-- with an actual: MAE, bias, the seasonal naive MAE on the same values and the skill against it.
CREATE VIEW forecast_accuracy AS
SELECT m.target, m.model_id, m.model,
       ceil(v.step * m.step_s / 3600.0)::integer AS lead_h,
       count(*) AS n,
       avg(abs(v.actual - v.p50)) AS mae,
       avg(v.actual - v.p50) AS bias,
       avg(abs(v.actual - v.naive)) AS naive_mae,
       1 - avg(abs(v.actual - v.p50)) / NULLIF(avg(abs(v.actual - v.naive)), 0) AS skill,
       min(v.ts) AS first_ts, max(v.ts) AS last_ts
FROM forecast_value v JOIN forecast_model m USING (model_id)
WHERE v.actual IS NOT NULL
GROUP BY m.target, m.model_id, m.model, lead_h;

-- A drift flag: the live MAE of a model over a recent window exceeded its backtest MAE by a ratio.
-- Raised once per model and window end; cleared_at set when accuracy recovers.
CREATE TABLE forecast_drift (
    drift_id     serial PRIMARY KEY,
    model_id     integer NOT NULL REFERENCES forecast_model (model_id) ON DELETE CASCADE,
    target       text NOT NULL,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    n            integer NOT NULL,
    live_mae     double precision NOT NULL,
    backtest_mae double precision NOT NULL,
    ratio        double precision NOT NULL,
    cleared_at   timestamptz,
    UNIQUE (model_id, window_end)
);
CREATE INDEX forecast_drift_open_idx ON forecast_drift (target) WHERE cleared_at IS NULL;
