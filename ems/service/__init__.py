"""The service: ``ems serve`` (cockpit, scheduler, live ingestion; health endpoints; structured logs),
the job registry and scheduler, and database backup / restore."""
