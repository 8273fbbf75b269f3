"""Asset model: node tree and points, described in YAML and stored in the database."""
