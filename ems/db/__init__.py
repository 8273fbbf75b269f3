"""Database access: server selection, migrations, storage back-end detection."""

from ems.db.connection import Database, open_database

__all__ = ["Database", "open_database"]
