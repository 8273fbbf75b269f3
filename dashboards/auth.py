"""Cockpit users: password hashing, the user store and the nodes each user may see.

Passwords are hashed with the standard library's scrypt (RFC 7914) and a random 16-byte salt. The
stored string carries its parameters, ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so they can be
raised later without breaking old hashes. Checks compare in constant time.

There are no default credentials: users exist only when someone calls :func:`create_user`
(``ems demo`` creates ``demo``/``demo`` for the demo database, and says so).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from ems.errors import UserError

ROLES = ("viewer", "energy_manager", "auditor", "admin")
# What each role may do beyond seeing the data of its scope (checked in every callback that acts).
PERMISSIONS = {
    "viewer": frozenset(),
    "energy_manager": frozenset({"ack_alarm", "decide_recommendation", "download_cost"}),
    "auditor": frozenset({"download_inventory", "download_cost"}),
    "admin": frozenset({"ack_alarm", "decide_recommendation", "download_cost", "download_inventory", "admin"}),
}


def may(user: User, action: str) -> bool:
    """True when the user's role allows ``action`` (see :data:`PERMISSIONS`)."""
    return action in PERMISSIONS.get(user.role, frozenset())
LANGUAGES = ("zh", "en")

# scrypt cost: n=2**14, r=8, p=1 uses 16 MiB and ~50 ms per check (OWASP minimum for scrypt).
_N, _R, _P, _DKLEN, _SALT_BYTES = 2**14, 8, 1, 32, 16


@dataclass(frozen=True)
class User:
    """A cockpit user as the app sees it (never carries the password hash)."""

    user_id: int
    username: str
    role: str
    display_name: str | None
    language: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        """Name to show in the header."""
        return self.display_name or self.username


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """A salted scrypt hash of ``password`` as a self-describing string."""
    if not password:
        raise UserError("the password must not be empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN,
                            maxmem=256 * n * r * p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare; False if malformed)."""
    try:
        scheme, n_s, r_s, p_s, salt_b64, hash_b64 = encoded.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
    except (ValueError, AttributeError):
        return False
    if scheme != "scrypt" or not expected:
        return False
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected),
                            maxmem=256 * n * r * p)
    return hmac.compare_digest(digest, expected)


# Checked against when the user name is unknown, so both failures take the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))

_USER_COLS = "user_id, username, role, display_name, language, disabled"


def _user(row: dict | None) -> User | None:
    return User(**row) if row else None


def create_user(conn: psycopg.Connection, username: str, password: str, role: str,
                scope_codes: Iterable[str] | None = None, *, language: str = "zh",
                display_name: str | None = None) -> User:
    """Create a user with a hashed password and the node codes whose subtrees they may see.

    ``role`` is one of :data:`ROLES`; admins see every node, other roles only their scope (none
    when ``scope_codes`` is empty). Runs in its own transaction (committed here unless the caller
    already has one open). Raises :class:`UserError` for a taken name, bad role or unknown node code.
    """
    username = (username or "").strip()
    if not username:
        raise UserError("the user name must not be empty")
    if role not in ROLES:
        raise UserError(f"role '{role}' is not one of {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise UserError(f"language '{language}' is not one of {', '.join(LANGUAGES)}")
    codes = sorted(set(scope_codes or ()))
    encoded = hash_password(password)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM app_user WHERE username = %s", (username,)).fetchone():
            raise UserError(f"a user named '{username}' already exists")
        node_ids = dict(conn.execute("SELECT code, node_id FROM node WHERE code = ANY(%s)", (codes,)).fetchall())
        missing = [c for c in codes if c not in node_ids]
        if missing:
            raise UserError(f"no node with code {', '.join(repr(c) for c in missing)} for the user's scope")
        row = conn.cursor(row_factory=dict_row).execute(
            f"""INSERT INTO app_user (username, password_hash, role, display_name, language)
                VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLS}""",
            (username, encoded, role, display_name, language)).fetchone()
        for code in codes:
            conn.execute("INSERT INTO app_user_scope (user_id, node_id) VALUES (%s, %s)",
                         (row["user_id"], node_ids[code]))
    return User(**row)


def authenticate(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None (same work whether or not the name exists)."""
    row = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_USER_COLS}, password_hash FROM app_user WHERE username = %s",
        ((username or "").strip(),)).fetchone()
    ok = verify_password(password or "", row["password_hash"] if row else _DUMMY_HASH)
    if not row or not ok or row["disabled"]:
        return None
    row.pop("password_hash")
    return User(**row)


def get_user(conn: psycopg.Connection, user_id: int) -> User | None:
    """The enabled user with this id, else None (a disabled user loses their sessions at once)."""
    row = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_USER_COLS} FROM app_user WHERE user_id = %s AND NOT disabled", (user_id,)).fetchone()
    return _user(row)


def set_language(conn: psycopg.Connection, user_id: int, language: str) -> None:
    """Store the user's interface language ('zh' or 'en')."""
    if language not in LANGUAGES:
        raise UserError(f"language '{language}' is not one of {', '.join(LANGUAGES)}")
    with conn.transaction():
        conn.execute("UPDATE app_user SET language = %s WHERE user_id = %s", (language, user_id))


def visible_node_ids(conn: psycopg.Connection, user: User) -> list[int]:
    """Ids of every node the user may see: all for admins, else their scope nodes with their subtrees."""
    if user.is_admin:
        rows = conn.execute("SELECT node_id FROM node ORDER BY node_id").fetchall()
    else:
        rows = conn.execute(
            """WITH RECURSIVE t AS (
                   SELECT node_id FROM app_user_scope WHERE user_id = %s
                   UNION
                   SELECT n.node_id FROM node n JOIN t ON n.parent_id = t.node_id)
               SELECT node_id FROM t ORDER BY node_id""", (user.user_id,)).fetchall()
    return [r[0] for r in rows]


def list_users(conn: psycopg.Connection) -> list[dict]:
    """Every user (enabled or not) with role, language and the codes of their scope nodes, by name."""
    rows = conn.execute(
        """SELECT u.user_id, u.username, u.role, u.display_name, u.language, u.disabled,
                  coalesce(array_agg(n.code ORDER BY n.code) FILTER (WHERE n.code IS NOT NULL), '{}')
           FROM app_user u LEFT JOIN app_user_scope s USING (user_id) LEFT JOIN node n ON n.node_id = s.node_id
           GROUP BY u.user_id ORDER BY u.username""").fetchall()
    keys = ("user_id", "username", "role", "display_name", "language", "disabled", "scope")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def set_role(conn: psycopg.Connection, user_id: int, role: str) -> None:
    """Give the user ``role`` (one of :data:`ROLES`); UserError for a bad role or an unknown user."""
    if role not in ROLES:
        raise UserError(f"role '{role}' is not one of {', '.join(ROLES)}")
    with conn.transaction():
        if conn.execute("UPDATE app_user SET role = %s WHERE user_id = %s", (role, user_id)).rowcount != 1:
            raise UserError(f"no user {user_id}")


def set_scope(conn: psycopg.Connection, user_id: int, scope_codes: Iterable[str]) -> None:
    """Replace the user's scope by the nodes ``scope_codes`` (with their subtrees; empty: no nodes)."""
    codes = sorted(set(scope_codes or ()))
    with conn.transaction():
        if conn.execute("SELECT 1 FROM app_user WHERE user_id = %s", (user_id,)).fetchone() is None:
            raise UserError(f"no user {user_id}")
        node_ids = dict(conn.execute("SELECT code, node_id FROM node WHERE code = ANY(%s)", (codes,)).fetchall())
        missing = [c for c in codes if c not in node_ids]
        if missing:
            raise UserError(f"no node with code {', '.join(repr(c) for c in missing)} for the user's scope")
        conn.execute("DELETE FROM app_user_scope WHERE user_id = %s", (user_id,))
        for code in codes:
            conn.execute("INSERT INTO app_user_scope (user_id, node_id) VALUES (%s, %s)", (user_id, node_ids[code]))
