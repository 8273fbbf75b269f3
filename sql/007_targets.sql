-- Targets (absolute / intensity, milestones, plant breakdown), reduction projects, offset credits.
-- Applied once by ems.db.migrate. Plain PostgreSQL. Computation is in cms.targets / cms.targets_assets;
-- cms.targets_store reads and writes these tables.

-- One target set per id; the validated definition is kept whole (definition) and its plants and
-- milestones are spread into the tables below for queries. version rises on every changed load.
CREATE TABLE target_set (
    target_set_id   text PRIMARY KEY,
    node_code       text NOT NULL REFERENCES node (code) ON UPDATE CASCADE ON DELETE RESTRICT,
    name            text,
    base_year       integer NOT NULL CHECK (base_year BETWEEN 1990 AND 2100),
    scope           text[] NOT NULL,
    allocation      text NOT NULL CHECK (allocation IN ('base_share', 'explicit')),
    version         integer NOT NULL DEFAULT 1 CHECK (version > 0),
    definition      jsonb NOT NULL,
    source_file     text,
    file_sha256     text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE target_plant (
    target_set_id   text NOT NULL REFERENCES target_set (target_set_id) ON DELETE CASCADE,
    plant_code      text NOT NULL REFERENCES node (code) ON UPDATE CASCADE ON DELETE RESTRICT,
    base_emissions_tco2e numeric(18, 6) NOT NULL CHECK (base_emissions_tco2e >= 0),
    share           numeric(12, 10) CHECK (share >= 0 AND share <= 1),   -- explicit allocation only
    denominators    jsonb NOT NULL DEFAULT '{}'::jsonb,                   -- base-year denominators by name
    PRIMARY KEY (target_set_id, plant_code)
);
CREATE INDEX target_plant_code_idx ON target_plant (plant_code);

CREATE TABLE target_milestone (
    target_set_id   text NOT NULL REFERENCES target_set (target_set_id) ON DELETE CASCADE,
    line_id         text NOT NULL,
    metric          text NOT NULL CHECK (metric IN ('absolute', 'intensity')),
    denominator_name text,
    denominator_unit text,
    year            integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    kind            text NOT NULL CHECK (kind IN ('reduction', 'peak', 'net_zero')),
    reduction_pct   double precision CHECK (reduction_pct <= 100),
    PRIMARY KEY (target_set_id, line_id, year),
    CHECK ((metric = 'intensity') = (denominator_name IS NOT NULL))
);

CREATE TABLE reduction_project (
    project_id      text PRIMARY KEY,
    node_code       text NOT NULL REFERENCES node (code) ON UPDATE CASCADE ON DELETE RESTRICT,
    name            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('proposed', 'approved', 'in_progress', 'completed', 'cancelled')),
    medium          text NOT NULL,
    unit            text NOT NULL,
    expected_saving double precision CHECK (expected_saving >= 0),
    realised_saving double precision,
    factor_tco2e_per_unit double precision CHECK (factor_tco2e_per_unit >= 0),
    expected_tco2e  double precision,
    realised_tco2e  double precision,
    start_date      date,
    end_date        date,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX reduction_project_node_idx ON reduction_project (node_code);

-- Offset credits (CCER, VER ...): a ledger apart from the inventories, never netted inside Scope 1 or 2.
CREATE TABLE offset_lot (
    lot_id          text PRIMARY KEY,
    standard        text NOT NULL CHECK (standard IN ('CCER', 'VER', 'GS', 'VCS', 'other')),
    quantity_tco2e  numeric(18, 6) NOT NULL CHECK (quantity_tco2e > 0),
    vintage         integer NOT NULL CHECK (vintage BETWEEN 2000 AND 2100),
    project         text,
    registry        text,
    serial          text,
    bought_on       date,
    price_cny_per_t numeric(14, 4) CHECK (price_cny_per_t >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offset_retirement (
    retirement_id   serial PRIMARY KEY,
    lot_id          text NOT NULL REFERENCES offset_lot (lot_id) ON DELETE RESTRICT,
    plant_code      text NOT NULL REFERENCES node (code) ON UPDATE CASCADE ON DELETE RESTRICT,
    year            integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    quantity_tco2e  numeric(18, 6) NOT NULL CHECK (quantity_tco2e > 0),
    retired_on      date,
    serial          text,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offset_retirement_plant_idx ON offset_retirement (plant_code, year);
CREATE INDEX offset_retirement_lot_idx ON offset_retirement (lot_id);

-- A lot cannot be retired beyond what was bought, whoever writes (the lot row is locked first, so two
-- concurrent retirements cannot both pass).
CREATE FUNCTION offset_retirement_within_lot() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bought  numeric;
    retired numeric;
BEGIN
    SELECT quantity_tco2e INTO bought FROM offset_lot WHERE lot_id = NEW.lot_id FOR UPDATE;
    SELECT coalesce(sum(quantity_tco2e), 0) INTO retired FROM offset_retirement WHERE lot_id = NEW.lot_id;
    IF retired > bought THEN
        RAISE EXCEPTION 'offset lot % over-retired: % tCO2e retired, % bought', NEW.lot_id, retired, bought
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER offset_retirement_within_lot
    AFTER INSERT OR UPDATE ON offset_retirement
    FOR EACH ROW EXECUTE FUNCTION offset_retirement_within_lot();

CREATE FUNCTION offset_lot_covers_retired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.quantity_tco2e < (SELECT coalesce(sum(quantity_tco2e), 0) FROM offset_retirement
                             WHERE lot_id = NEW.lot_id) THEN
        RAISE EXCEPTION 'offset lot % cannot shrink below what is already retired', NEW.lot_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER offset_lot_covers_retired
    BEFORE UPDATE OF quantity_tco2e ON offset_lot
    FOR EACH ROW EXECUTE FUNCTION offset_lot_covers_retired();
