-- Carbon accounting core (cms): factor library with audit log, activity data, contractual instruments
-- and their claims, inventories and their ledger lines. Plain PostgreSQL (15+).
-- Integrity rules enforced here, not only in Python:
--   * a factor version used by a locked inventory cannot be updated or deleted (only superseded);
--   * an instrument's claims never exceed its volume; one claim per instrument, plant and period, shared
--     by every inventory that covers that plant and period;
--   * a locked inventory, its lines, its factor list and its claims refuse UPDATE and DELETE;
--   * an activity datum used by a locked inventory cannot be changed or deleted.

CREATE TABLE factor (
    factor_pk     serial PRIMARY KEY,
    factor_id     text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    kind          text NOT NULL CHECK (kind IN ('emission', 'ncv', 'carbon_content', 'oxidation', 'enthalpy', 'gwp')),
    family        text NOT NULL,                  -- mee_grid, cn_guideline, ipcc2006, ipcc_gwp, epa_hub ...
    activity      text NOT NULL,
    region        text NOT NULL,
    gas           text,
    gas_basis     text,
    value         numeric NOT NULL CHECK (value >= 0),
    unit          text NOT NULL,
    series        text,                           -- location, residual_proxy, fossil, ets
    gwp_set       text CHECK (gwp_set IN ('AR4', 'AR5', 'AR6')),
    data_year     integer,
    valid_from    date,
    valid_to      date,
    source        text NOT NULL,
    publication   text,
    firmness      text NOT NULL CHECK (firmness IN ('S', 'S2', 'R', 'D')),
    notes         text,
    origin        text,                           -- file it was imported from
    superseded_by integer REFERENCES factor (factor_pk),
    imported_by   text NOT NULL DEFAULT current_user,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (factor_id, version)
);

CREATE TABLE factor_audit (
    audit_id    bigserial PRIMARY KEY,
    factor_pk   integer NOT NULL,
    factor_id   text NOT NULL,
    version     integer NOT NULL,
    action      text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    old_row     jsonb,
    new_row     jsonb,
    changed_by  text NOT NULL DEFAULT coalesce(nullif(current_setting('cms.actor', true), ''), current_user),
    reason      text DEFAULT nullif(current_setting('cms.reason', true), ''),
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION cms_factor_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO factor_audit (factor_pk, factor_id, version, action, new_row)
        VALUES (NEW.factor_pk, NEW.factor_id, NEW.version, 'insert', to_jsonb(NEW));
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO factor_audit (factor_pk, factor_id, version, action, old_row, new_row)
        VALUES (NEW.factor_pk, NEW.factor_id, NEW.version, 'update', to_jsonb(OLD), to_jsonb(NEW));
        RETURN NEW;
    END IF;
    INSERT INTO factor_audit (factor_pk, factor_id, version, action, old_row)
    VALUES (OLD.factor_pk, OLD.factor_id, OLD.version, 'delete', to_jsonb(OLD));
    RETURN OLD;
END $$;

CREATE TRIGGER factor_audit_trg AFTER INSERT OR UPDATE OR DELETE ON factor
    FOR EACH ROW EXECUTE FUNCTION cms_factor_audit();

CREATE TABLE activity_batch (
    batch_id     serial PRIMARY KEY,
    source       text NOT NULL CHECK (source IN ('rollup', 'manual', 'csv')),
    file         text,
    file_sha256  text,
    entered_by   text NOT NULL,
    rows_in      integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE activity_datum (
    datum_id     bigserial PRIMARY KEY,
    node_id      integer NOT NULL REFERENCES node (node_id) ON DELETE RESTRICT,
    period_start date NOT NULL,
    period_end   date NOT NULL,                  -- exclusive
    activity     text NOT NULL,                  -- natural_gas, electricity_grid, refrigerant_topup:R-410A ...
    quantity     numeric NOT NULL,
    unit         text NOT NULL,
    evidence     text NOT NULL DEFAULT '',       -- invoice number, meter read, log reference, file hash ...
    entered_by   text NOT NULL,
    entered_at   timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('rollup', 'manual', 'csv')),
    batch_id     integer REFERENCES activity_batch (batch_id),
    line_no      integer,                        -- line in the imported file
    CHECK (period_end > period_start)
);
CREATE INDEX activity_datum_node_idx ON activity_datum (node_id, period_start);
-- metered data are re-synchronised from the roll-ups: one row per node, activity and period
CREATE UNIQUE INDEX activity_datum_rollup_uq ON activity_datum (node_id, activity, period_start, period_end)
    WHERE source = 'rollup';

CREATE TABLE instrument (
    instrument_id   serial PRIMARY KEY,
    code            text NOT NULL UNIQUE,        -- certificate serial range / contract id
    kind            text NOT NULL CHECK (kind IN ('gec', 'green_power_trading', 'ppa', 'irec', 'onsite_pv')),
    node_id         integer NOT NULL REFERENCES node (node_id) ON DELETE RESTRICT,   -- the plant
    mwh             numeric NOT NULL CHECK (mwh > 0),
    vintage         integer NOT NULL,
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    registry        text NOT NULL DEFAULT '',
    serials         text NOT NULL DEFAULT '',
    retired_on      date,
    qc_met          boolean NOT NULL DEFAULT true,
    attributes_sold boolean NOT NULL DEFAULT false,
    evidence        text NOT NULL DEFAULT '',
    entered_by      text NOT NULL,
    entered_at      timestamptz NOT NULL DEFAULT now(),
    batch_id        integer REFERENCES activity_batch (batch_id),
    CHECK (period_end > period_start)
);

CREATE TABLE inventory (
    inventory_id  serial PRIMARY KEY,
    node_id       integer NOT NULL REFERENCES node (node_id) ON DELETE RESTRICT,
    year          integer,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    boundary      text NOT NULL CHECK (boundary IN ('operational_control', 'financial_control', 'equity_share')),
    gwp_set       text NOT NULL CHECK (gwp_set IN ('AR4', 'AR5', 'AR6')),
    fuel_factors  text NOT NULL,
    revision      integer NOT NULL DEFAULT 1,
    restates      integer REFERENCES inventory (inventory_id),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'locked')),
    summary       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    computed_at   timestamptz NOT NULL DEFAULT now(),
    reviewed_by   text,
    reviewed_at   timestamptz,
    locked_by     text,
    locked_at     timestamptz,
    content_hash  text,
    CHECK (period_end > period_start),
    CHECK (status <> 'locked' OR (content_hash IS NOT NULL AND locked_by IS NOT NULL AND locked_at IS NOT NULL)),
    UNIQUE (node_id, period_start, period_end, revision)
);

CREATE TABLE inventory_line (
    line_id        bigserial PRIMARY KEY,
    inventory_id   integer NOT NULL REFERENCES inventory (inventory_id) ON DELETE RESTRICT,
    line_no        integer NOT NULL,
    datum_id       bigint REFERENCES activity_datum (datum_id) ON DELETE RESTRICT,
    node_code      text NOT NULL,
    entity_code    text NOT NULL,
    share          numeric NOT NULL,
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    scope          smallint NOT NULL CHECK (scope IN (0, 1, 2)),    -- 0: memo item outside the scopes
    scope2_method  text CHECK (scope2_method IN ('location', 'market')),
    category       text NOT NULL,
    method         text NOT NULL,
    activity       text NOT NULL,
    activity_quantity numeric NOT NULL,
    activity_unit  text NOT NULL,
    gas            text NOT NULL,
    gas_group      text NOT NULL,
    gas_mass_kg    numeric NOT NULL,
    gwp            numeric NOT NULL,
    co2e_kg        numeric NOT NULL,
    gross_co2e_kg  numeric NOT NULL,
    factor_pk      integer REFERENCES factor (factor_pk) ON DELETE RESTRICT,
    factor_id      text,
    factor_version integer,
    instrument_id  integer REFERENCES instrument (instrument_id) ON DELETE RESTRICT,
    record         jsonb NOT NULL,              -- the full ledger line (provenance: factor refs, evidence ...)
    UNIQUE (inventory_id, line_no),
    CHECK (scope = 2 OR scope2_method IS NULL)
);
CREATE INDEX inventory_line_datum_idx ON inventory_line (datum_id);

-- Every factor version an inventory used (primary factors, NCVs, carbon contents, GWPs ...).
CREATE TABLE inventory_factor (
    inventory_id integer NOT NULL REFERENCES inventory (inventory_id) ON DELETE RESTRICT,
    factor_pk    integer NOT NULL REFERENCES factor (factor_pk) ON DELETE RESTRICT,
    PRIMARY KEY (inventory_id, factor_pk)
);
CREATE INDEX inventory_factor_factor_idx ON inventory_factor (factor_pk);

-- A claim: MWh of one instrument applied to one plant for one period. Every inventory covering that plant
-- and period (the plant's own, its company's, the group's) uses the same claim through inventory_claim,
-- so consolidating never claims a MWh twice.
CREATE TABLE instrument_claim (
    claim_id      bigserial PRIMARY KEY,
    instrument_id integer NOT NULL REFERENCES instrument (instrument_id) ON DELETE RESTRICT,
    node_id       integer NOT NULL REFERENCES node (node_id),
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    mwh           numeric NOT NULL CHECK (mwh > 0),
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (instrument_id, node_id, period_start, period_end)
);

CREATE TABLE inventory_claim (
    inventory_id integer NOT NULL REFERENCES inventory (inventory_id) ON DELETE RESTRICT,
    claim_id     bigint NOT NULL REFERENCES instrument_claim (claim_id) ON DELETE RESTRICT,
    mwh          numeric NOT NULL CHECK (mwh > 0),      -- MWh of the claim this inventory applied
    PRIMARY KEY (inventory_id, claim_id)
);

-- A MWh is claimed once: the claims of an instrument never exceed its volume, for its own plant only.
-- The instrument row is locked first, so two concurrent claims are serialised.
CREATE FUNCTION cms_claim_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inst instrument%ROWTYPE;
    used numeric;
BEGIN
    SELECT * INTO inst FROM instrument WHERE instrument_id = NEW.instrument_id FOR UPDATE;
    IF inst.node_id <> NEW.node_id THEN
        RAISE EXCEPTION 'instrument % belongs to another plant', inst.code USING ERRCODE = 'check_violation';
    END IF;
    SELECT coalesce(sum(mwh), 0) INTO used FROM instrument_claim
     WHERE instrument_id = NEW.instrument_id AND claim_id IS DISTINCT FROM NEW.claim_id;
    IF used + NEW.mwh > inst.mwh THEN
        RAISE EXCEPTION 'instrument % over-claimed: % MWh already claimed + % MWh > % MWh', inst.code, used, NEW.mwh, inst.mwh
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER instrument_claim_check BEFORE INSERT OR UPDATE ON instrument_claim
    FOR EACH ROW EXECUTE FUNCTION cms_claim_check();

CREATE FUNCTION cms_instrument_volume_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(mwh), 0) FROM instrument_claim WHERE instrument_id = NEW.instrument_id) > NEW.mwh THEN
        RAISE EXCEPTION 'instrument % has claims above the new volume', NEW.code USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.node_id <> OLD.node_id AND EXISTS (SELECT 1 FROM instrument_claim WHERE instrument_id = NEW.instrument_id) THEN
        RAISE EXCEPTION 'instrument % is claimed: its plant cannot change', NEW.code USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER instrument_volume_check BEFORE UPDATE ON instrument
    FOR EACH ROW EXECUTE FUNCTION cms_instrument_volume_check();

-- Locked inventories are immutable.
CREATE FUNCTION cms_inventory_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'locked' THEN
        RAISE EXCEPTION 'inventory % is locked: it cannot be changed or deleted (restate it instead)', OLD.inventory_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NOT ((OLD.status = NEW.status) OR (OLD.status = 'draft' AND NEW.status = 'review')
            OR (OLD.status = 'review' AND NEW.status IN ('draft', 'locked'))) THEN
        RAISE EXCEPTION 'inventory %: status cannot go from % to %', OLD.inventory_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER inventory_guard BEFORE UPDATE OR DELETE ON inventory
    FOR EACH ROW EXECUTE FUNCTION cms_inventory_guard();

-- Children of an inventory (lines, factor list, claim links) change only while it is a draft (never once in
-- review or locked).
CREATE FUNCTION cms_inventory_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inv_id integer;
    st text;
BEGIN
    inv_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.inventory_id ELSE NEW.inventory_id END;
    SELECT status INTO st FROM inventory WHERE inventory_id = inv_id;
    IF st IS DISTINCT FROM 'draft' OR (TG_OP = 'UPDATE' AND
            (SELECT status FROM inventory WHERE inventory_id = OLD.inventory_id) IS DISTINCT FROM 'draft') THEN
        RAISE EXCEPTION 'inventory % is %: % on % refused (only a draft changes)', inv_id, coalesce(st, 'missing'), TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER inventory_line_guard BEFORE INSERT OR UPDATE OR DELETE ON inventory_line
    FOR EACH ROW EXECUTE FUNCTION cms_inventory_child_guard();
CREATE TRIGGER inventory_factor_guard BEFORE INSERT OR UPDATE OR DELETE ON inventory_factor
    FOR EACH ROW EXECUTE FUNCTION cms_inventory_child_guard();
CREATE TRIGGER inventory_claim_guard BEFORE INSERT OR UPDATE OR DELETE ON inventory_claim
    FOR EACH ROW EXECUTE FUNCTION cms_inventory_child_guard();

-- A claim used by a locked inventory is frozen.
CREATE FUNCTION cms_claim_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inventory_claim x JOIN inventory i USING (inventory_id)
               WHERE x.claim_id = OLD.claim_id AND i.status = 'locked') THEN
        RAISE EXCEPTION 'instrument claim % is used by a locked inventory: % refused', OLD.claim_id, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER instrument_claim_guard BEFORE UPDATE OR DELETE ON instrument_claim
    FOR EACH ROW EXECUTE FUNCTION cms_claim_guard();

-- A factor version used by a locked inventory is frozen: the only change allowed is marking it superseded.
CREATE FUNCTION cms_factor_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inventory_factor f JOIN inventory i USING (inventory_id)
               WHERE f.factor_pk = OLD.factor_pk AND i.status = 'locked') THEN
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'superseded_by') = (to_jsonb(OLD) - 'superseded_by') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'factor % version % is used by a locked inventory: supersede it with a new version instead',
            OLD.factor_id, OLD.version USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER factor_guard BEFORE UPDATE OR DELETE ON factor
    FOR EACH ROW EXECUTE FUNCTION cms_factor_guard();

-- An activity datum used by a locked inventory is frozen too (evidence must stay what was audited).
CREATE FUNCTION cms_datum_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inventory_line l JOIN inventory i USING (inventory_id)
               WHERE l.datum_id = OLD.datum_id AND i.status = 'locked') THEN
        RAISE EXCEPTION 'activity datum % is used by a locked inventory: it cannot be changed or deleted', OLD.datum_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER activity_datum_guard BEFORE UPDATE OR DELETE ON activity_datum
    FOR EACH ROW EXECUTE FUNCTION cms_datum_guard();
