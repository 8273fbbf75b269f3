"""The connectors file of one site (YAML): which brokers, servers and meters feed which points.

Validated with pydantic; every error names the file, the line and the field (house style of
:mod:`ems.assets.loader`). See ``examples/connectors.yaml`` for a commented example.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ems.errors import UserError, location
from ems.yamlfile import nearest_line, read_yaml_mapping

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_TEMPLATE = re.compile(r"\{(last|\d+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reconnect(_Strict):
    """Exponential back-off between connection attempts, in seconds."""

    min_s: float = Field(1.0, gt=0)
    max_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _order(self) -> Reconnect:
        if self.max_s < self.min_s:
            raise ValueError("@max_s: max_s must be at least min_s")
        return self


class Credentials(_Strict):
    username: str | None = None
    password: str | None = None
    password_env: str | None = None      # read the password from this environment variable

    def secret(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise UserError(f"environment variable {self.password_env} (password_env) is not set")
            return value
        return self.password


class Payload(_Strict):
    """Where the fields are in a JSON payload (an object, a list of objects, or {"readings": [...]})."""

    value_key: str = "value"
    ts_key: str = "ts"
    unit_key: str = "unit"
    quality_key: str = "quality"
    point_key: str = "point"            # an object may name its point (gateways batching several meters)


class TopicMap(_Strict):
    """``filter``: an MQTT subscription filter; ``point``: the point code, a literal or a template with
    topic levels: ``{last}`` (the simulator's ``<prefix>/<plant>/<point code>``) or ``{N}`` (0-based)."""

    filter: str
    point: str = "{last}"
    unit: str | None = None             # unit when the payload does not say

    @field_validator("filter")
    @classmethod
    def _filter(cls, v: str) -> str:
        levels = v.split("/")
        if not v or any(("#" in lv and (lv != "#" or i != len(levels) - 1)) or ("+" in lv and lv != "+")
                        for i, lv in enumerate(levels)):
            raise ValueError(f"'{v}' is not a valid MQTT topic filter ('+' is a whole level, '#' the last one)")
        return v

    @field_validator("point")
    @classmethod
    def _point(cls, v: str) -> str:
        if not _CODE.match(_TEMPLATE.sub("X", v)):
            raise ValueError(f"'{v}' is neither a point code nor a template such as '{{last}}' or '{{2}}'")
        return v


class MqttConnector(Credentials):
    type: Literal["mqtt"]
    name: str
    broker: str                          # host:port
    client_id: str | None = None         # default ems-<site>-<name>; fixed, so the broker keeps the session
    qos: Literal[0, 1, 2] = 1
    keepalive_s: int = Field(30, gt=0)
    tls: bool = False
    ca_file: str | None = None
    topics: list[TopicMap] = Field(min_length=1)
    payload: Payload = Field(default_factory=Payload)
    reconnect: Reconnect = Field(default_factory=Reconnect)

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{v}' is not host:port (e.g. 127.0.0.1:1883)")
        return v


class OpcNode(_Strict):
    point: str
    node_id: str | None = None           # default: nsu=<namespace_uri>;s=<point> (the simulator's nodes)


SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]


class OpcUaConnector(Credentials):
    type: Literal["opcua"]
    name: str
    endpoint: str
    namespace_uri: str | None = None
    nodes: list[OpcNode] = Field(min_length=1)
    publishing_interval_ms: int = Field(1000, gt=0)
    security_policy: SecurityPolicy = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: str | None = None       # client certificate (DER or PEM) for a secure channel
    private_key: str | None = None
    server_certificate: str | None = None
    timeout_s: float = Field(4.0, gt=0)
    reconnect: Reconnect = Field(default_factory=Reconnect)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not v.startswith("opc.tcp://"):
            raise ValueError(f"'{v}' is not an OPC UA endpoint (opc.tcp://host:port/path)")
        return v

    @model_validator(mode="after")
    def _checks(self) -> OpcUaConnector:
        for i, n in enumerate(self.nodes):
            if n.node_id is None and not self.namespace_uri:
                raise ValueError(f"@nodes: node {i + 1} ('{n.point}') needs a node_id, or set namespace_uri")
        if self.security_policy != "None" and not (self.certificate and self.private_key):
            raise ValueError("@certificate: security_policy other than None needs certificate and private_key")
        return self

    def node_ids(self) -> dict[str, str]:
        """Node id text -> point code."""
        return {n.node_id or f"nsu={self.namespace_uri};s={n.point}": n.point for n in self.nodes}


class ModbusDevice(_Strict):
    unit_id: int = Field(1, ge=0, le=255)
    model: str                            # a shipped map (``ems connectors maps``) or a path to a map YAML
    points: dict[str, str] = Field(min_length=1)   # register name in the map -> point code


class ModbusConnector(_Strict):
    type: Literal["modbus"]
    name: str
    host: str
    port: int = Field(502, gt=0, lt=65536)
    poll_interval_s: float = Field(60.0, gt=0)
    align: bool = True                    # poll on multiples of the interval; stamp readings on that grid
    timeout_s: float = Field(3.0, gt=0)
    devices: list[ModbusDevice] = Field(min_length=1)
    reconnect: Reconnect = Field(default_factory=Reconnect)


Connector = Annotated[MqttConnector | OpcUaConnector | ModbusConnector, Field(discriminator="type")]


class BufferSettings(_Strict):
    path: str | None = None               # default: $EMS_DATA_DIR/buffer/<site>.sqlite
    max_memory_items: int = Field(50_000, gt=0)
    max_disk_items: int = Field(10_000_000, gt=0)
    batch_items: int = Field(20_000, gt=0)
    spool_interval_s: float = Field(0.2, gt=0)
    drain_timeout_s: float = Field(30.0, ge=0)


class ConnectorsFile(_Strict):
    version: Literal[1] = 1
    site: str
    buffer: BufferSettings = Field(default_factory=BufferSettings)
    connectors: list[Connector] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ConnectorsFile:
        seen: set[str] = set()
        for c in self.connectors:
            if c.name in seen:
                raise ValueError(f"@connectors: connector name '{c.name}' is used twice")
            seen.add(c.name)
        return self


def load_connectors_file(path: str | Path) -> ConnectorsFile:
    """Read and validate a connectors file, and the register maps its Modbus devices use."""
    from ems.connectors.registers import load_register_map

    file = str(path)
    data, lines = read_yaml_mapping(path, "a mapping with 'site' and 'connectors'")
    try:
        cfg = ConnectorsFile.model_validate(data)
    except ValidationError as exc:
        raise _user_error(exc, data, lines, file) from exc
    for i, c in enumerate(cfg.connectors):
        if not isinstance(c, ModbusConnector):
            continue
        for j, dev in enumerate(c.devices):
            where = ("connectors", i, "devices", j)
            regmap = load_register_map(dev.model, base=Path(file).parent,
                                       where=location(file, nearest_line(lines, where + ("model",)), "model"))
            for _k, name in enumerate(dev.points):
                if name not in regmap.registers:
                    known = ", ".join(sorted(regmap.registers))
                    raise UserError(f"register '{name}' is not in map '{regmap.model}' (known: {known})",
                                    where=location(file, nearest_line(lines, where + ("points", name)), "points"))
    return cfg


def _user_error(exc: ValidationError, data: dict, lines: dict, file: str) -> UserError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    if len(loc) > 2 and loc[0] == "connectors" and loc[2] in ("mqtt", "opcua", "modbus"):
        del loc[2]                        # the discriminator's tag is not a key in the file
    msg = err["msg"].removeprefix("Value error, ")
    hint = re.match(r"@(\w+): ", msg)
    if hint:
        loc, msg = loc + [hint.group(1)], msg[hint.end():]
    if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
        loc, msg = loc + ["type"], "type must be one of mqtt, opcua, modbus"
    field = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
    owner = ""
    if len(loc) > 1 and loc[0] == "connectors" and isinstance(loc[1], int):
        try:
            owner = f"connector '{data['connectors'][loc[1]].get('name', loc[1] + 1)}': "
        except (KeyError, IndexError, AttributeError, TypeError):
            owner = ""
    extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return UserError(owner + msg + extra, where=location(file, nearest_line(lines, tuple(loc)), field))
