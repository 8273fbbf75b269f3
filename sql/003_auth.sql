-- Cockpit users and what each may see. Plain SQL (PostgreSQL 15+, with or without TimescaleDB).
-- Passwords are stored only as salted scrypt hashes (see dashboards/auth.py); nothing here
-- creates a user: there are no default credentials.

CREATE TABLE app_user (
    user_id       serial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username <> '' AND username = btrim(username)),
    password_hash text NOT NULL,                  -- 'scrypt$n$r$p$salt$hash' (base64 salt and hash)
    role          text NOT NULL CHECK (role IN ('viewer', 'energy_manager', 'auditor', 'admin')),
    display_name  text,
    language      text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled      boolean NOT NULL DEFAULT false
);

-- The nodes a user may see, each with its whole subtree. Admins see every node regardless.
CREATE TABLE app_user_scope (
    user_id  integer NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
    node_id  integer NOT NULL REFERENCES node (node_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX app_user_scope_node_idx ON app_user_scope (node_id);
