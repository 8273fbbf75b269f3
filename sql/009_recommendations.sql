-- Optimiser recommendations and their lifecycle; audited OPC UA set-point write-back.
-- proposed -> accepted | rejected (reason) | expired;  accepted -> applied | rejected | expired;
-- applied -> expired.  The measured saving is recorded on an applied (or expired after applied) one.

CREATE TABLE recommendation (
    rec_id                bigserial PRIMARY KEY,
    plant_code            text NOT NULL,
    system                text NOT NULL CHECK (system IN ('chilled_water', 'compressed_air', 'storage')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    valid_from            timestamptz NOT NULL,
    valid_to              timestamptz NOT NULL CHECK (valid_to > valid_from),
    inputs                jsonb NOT NULL,          -- state, forecasts, model fit quality, config
    baseline_decision     jsonb NOT NULL,          -- what the plant's own control would do
    decision              jsonb NOT NULL,          -- the recommended set-points
    expected_kwh_saved    double precision NOT NULL,
    expected_cost_cny_saved double precision NOT NULL,
    expected_tco2_saved   double precision NOT NULL,
    diagnosis             text,                    -- infeasibility or data problems, if any
    status                text NOT NULL DEFAULT 'proposed'
                          CHECK (status IN ('proposed', 'accepted', 'rejected', 'applied', 'expired')),
    status_reason         text,
    decided_by            text,
    decided_at            timestamptz,
    applied_at            timestamptz,
    measured_kwh_saved    double precision,
    measured_method       text,
    measured_at           timestamptz,
    CHECK (status <> 'rejected' OR coalesce(btrim(status_reason), '') <> ''),
    CHECK (measured_kwh_saved IS NULL OR applied_at IS NOT NULL)
);
CREATE INDEX recommendation_plant_idx ON recommendation (plant_code, created_at DESC);
CREATE INDEX recommendation_status_idx ON recommendation (status);

CREATE TABLE recommendation_event (
    event_id     bigserial PRIMARY KEY,
    rec_id       bigint NOT NULL REFERENCES recommendation (rec_id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    from_status  text,
    to_status    text NOT NULL,
    actor        text,
    reason       text
);
CREATE INDEX recommendation_event_rec_idx ON recommendation_event (rec_id);

CREATE FUNCTION ems_recommendation_lifecycle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'proposed' THEN
            RAISE EXCEPTION 'a recommendation starts as proposed, not %', NEW.status;
        END IF;
        INSERT INTO recommendation_event (rec_id, from_status, to_status, actor, reason)
        VALUES (NEW.rec_id, NULL, 'proposed', NEW.decided_by, NULL);
        RETURN NEW;
    END IF;
    IF NEW.inputs IS DISTINCT FROM OLD.inputs OR NEW.decision IS DISTINCT FROM OLD.decision
       OR NEW.baseline_decision IS DISTINCT FROM OLD.baseline_decision
       OR NEW.expected_kwh_saved IS DISTINCT FROM OLD.expected_kwh_saved THEN
        RAISE EXCEPTION 'recommendation % is immutable: only its status and measured saving change', OLD.rec_id;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT ((OLD.status = 'proposed' AND NEW.status IN ('accepted', 'rejected', 'expired'))
             OR (OLD.status = 'accepted' AND NEW.status IN ('applied', 'rejected', 'expired'))
             OR (OLD.status = 'applied' AND NEW.status = 'expired')) THEN
            RAISE EXCEPTION 'recommendation %: % -> % is not allowed', OLD.rec_id, OLD.status, NEW.status;
        END IF;
        INSERT INTO recommendation_event (rec_id, from_status, to_status, actor, reason)
        VALUES (NEW.rec_id, OLD.status, NEW.status, NEW.decided_by, NEW.status_reason);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER recommendation_lifecycle_ins AFTER INSERT ON recommendation
    FOR EACH ROW EXECUTE FUNCTION ems_recommendation_lifecycle();
CREATE TRIGGER recommendation_lifecycle_upd BEFORE UPDATE ON recommendation
    FOR EACH ROW EXECUTE FUNCTION ems_recommendation_lifecycle();

-- Every set-point write-back attempt (OPC UA), successful or refused, with the bounds applied.
CREATE TABLE setpoint_write (
    write_id        bigserial PRIMARY KEY,
    rec_id          bigint REFERENCES recommendation (rec_id) ON DELETE SET NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    endpoint        text NOT NULL,
    node_id         text NOT NULL,
    requested_value double precision NOT NULL,
    written_value   double precision,
    previous_value  double precision,
    outcome         text NOT NULL CHECK (outcome IN ('written', 'clamped', 'refused', 'failed')),
    reason          text,
    actor           text
);
CREATE INDEX setpoint_write_node_idx ON setpoint_write (node_id, at DESC);
