"""Run-time settings from the environment.

- ``EMS_DATA_DIR``: the one folder holding all state (embedded database, buffers, caches).
  Default: ``./var`` below the current directory.
- ``EMS_DATABASE_URL``: a PostgreSQL/TimescaleDB server. Unset: an embedded PostgreSQL is started
  in ``$EMS_DATA_DIR/pgdata``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("EMS_DATA_DIR") or "var").expanduser().resolve()
    url = os.environ.get("EMS_DATABASE_URL") or None
    return Settings(data_dir=data_dir, database_url=url)
