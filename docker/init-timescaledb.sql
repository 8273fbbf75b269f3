-- Runs once, when the database volume is created (docker-entrypoint-initdb.d): enable TimescaleDB in the
-- product's database. The service detects the extension at start (ems/db/connection.py) and creates the
-- readings table as a hypertable with compression and retention (sql/002_readings.timescale.sql).
CREATE EXTENSION IF NOT EXISTS timescaledb;
