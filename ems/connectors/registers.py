"""Modbus register maps per meter model (YAML) and register decoding (pure, no I/O).

A map names each quantity's register: ``address`` (protocol address, 0-based, as sent on the wire;
the manuals' "register numbers" 3xxxx/4xxxx or 1-based numbers are converted with ``address_base``),
``type`` (int16/uint16/int32/uint32/int64/uint64/float32/float64), ``scale`` (value = raw * scale) and
``unit``. ``word_order`` says which 16-bit word comes first for 32/64-bit values ('big': the most
significant word first, the Modbus convention; 'little': least significant first, "word swapped");
``byte_order`` the order of the two bytes inside a word (almost always 'big').

Shipped maps live next to this module (``maps/*.yaml``); ``ems connectors maps`` lists them.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ems.errors import UserError, location
from ems.ingest.rounding import round_significant
from ems.yamlfile import nearest_line, read_yaml_mapping

MAPS_DIR = Path(__file__).parent / "maps"
WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4, "float64": 4}
_FMT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f", "int64": "q", "uint64": "Q",
        "float64": "d"}
MAX_READ = 125  # registers per read request (Modbus application protocol v1.1b3, function 03/04)

RegType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
Order = Literal["big", "little"]


class RegisterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    address: int = Field(ge=0, le=65535)
    type: RegType
    scale: float = 1.0
    unit: str
    function: Literal["holding", "input"] | None = None   # default: the map's
    word_order: Order | None = None
    description: str | None = None


class RegisterMapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    manufacturer: str
    source: str                           # the public document the addresses come from
    notes: str | None = None
    function: Literal["holding", "input"] = "holding"
    word_order: Order = "big"
    byte_order: Order = "big"
    address_base: int = Field(0, ge=0, le=40001)   # subtract from each address (e.g. 1, 30001, 40001)
    registers: list[RegisterSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Register:
    name: str
    address: int           # protocol address, 0-based
    words: int
    type: str
    scale: float
    unit: str
    function: str          # 'holding' (03) | 'input' (04)
    word_order: str
    byte_order: str


@dataclass(frozen=True)
class RegisterMap:
    model: str
    source: str
    registers: dict[str, Register]


def decode(words: list[int], type_: str, word_order: str = "big", byte_order: str = "big") -> float:
    """The value of a register group (16-bit words as read, in address order)."""
    n = WORDS[type_]
    if len(words) != n:
        raise ValueError(f"{type_} needs {n} register(s), got {len(words)}")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big") if byte_order == "big" else w.to_bytes(2, "little") for w in ordered)
    value = struct.unpack(">" + _FMT[type_], raw)[0]
    if type_ == "float32" and math.isfinite(value):
        # the shortest decimal that round-trips the float32 (1234.56, not 1234.56005859375): what the meter shows
        value = float(str(np.float32(value)))
    return value


def encode(value: float, type_: str, word_order: str = "big", byte_order: str = "big") -> list[int]:
    """Inverse of :func:`decode` (for test servers and simulators)."""
    if type_.startswith(("int", "uint")):
        value = int(value)
    raw = struct.pack(">" + _FMT[type_], value)
    words = [int.from_bytes(raw[i:i + 2], "big" if byte_order == "big" else "little") for i in range(0, len(raw), 2)]
    return words if word_order == "big" else list(reversed(words))


def shipped_maps() -> dict[str, Path]:
    return {p.stem: p for p in sorted(MAPS_DIR.glob("*.yaml"))}


def load_register_map(model: str, *, base: Path | None = None, where: str | None = None) -> RegisterMap:
    """A shipped map by model name, or a map file (path relative to ``base``)."""
    maps = shipped_maps()
    if model in maps:
        path = maps[model]
    else:
        path = Path(model) if base is None or Path(model).is_absolute() else base / model
        if not path.suffix or not path.exists():
            raise UserError(f"unknown meter model '{model}' (shipped: {', '.join(maps)}; or give a map file path)",
                            where=where)
    data, lines = read_yaml_mapping(path, "a register map with 'model' and 'registers'")
    try:
        spec = RegisterMapFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
        raise UserError(err["msg"], where=location(str(path), nearest_line(lines, loc), field)) from exc
    regs: dict[str, Register] = {}
    for i, r in enumerate(spec.registers):
        if r.name in regs:
            raise UserError(f"register name '{r.name}' is used twice",
                            where=location(str(path), nearest_line(lines, ("registers", i)), "name"))
        address = r.address - spec.address_base
        if address < 0:
            raise UserError(f"address {r.address} is below address_base {spec.address_base}",
                            where=location(str(path), nearest_line(lines, ("registers", i, "address")), "address"))
        regs[r.name] = Register(r.name, address, WORDS[r.type], r.type, r.scale, r.unit, r.function or spec.function,
                                r.word_order or spec.word_order, spec.byte_order)
    return RegisterMap(spec.model, spec.source, regs)


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers from ``address`` with function ``function``."""

    function: str
    address: int
    count: int
    registers: tuple[Register, ...]


def plan_reads(registers: list[Register], max_gap: int = 8) -> list[Block]:
    """Group registers into as few read requests as possible (same function, gaps up to ``max_gap``
    registers, at most MAX_READ registers per request)."""
    blocks: list[Block] = []
    for function in ("holding", "input"):
        regs = sorted((r for r in registers if r.function == function), key=lambda r: r.address)
        cur: list[Register] = []
        start = end = 0
        for r in regs:
            r_end = r.address + r.words
            if cur and r.address - end <= max_gap and max(end, r_end) - start <= MAX_READ:
                cur.append(r)
                end = max(end, r_end)
                continue
            if cur:
                blocks.append(Block(function, start, end - start, tuple(cur)))
            cur, start, end = [r], r.address, r_end
        if cur:
            blocks.append(Block(function, start, end - start, tuple(cur)))
    return blocks


def decode_block(block: Block, words: list[int]) -> dict[str, float]:
    """Scaled values of a block's registers from the words read."""
    out = {}
    for r in block.registers:
        i = r.address - block.address
        value = decode(words[i:i + r.words], r.type, r.word_order, r.byte_order)
        out[r.name] = value if r.scale == 1 else float(round_significant(np.array([value * r.scale]))[0])
    return out


def block_words(block: Block, words: list[int], name: str) -> list[int]:
    """The raw words of one register of a block (for the quarantine's raw text)."""
    r = next(r for r in block.registers if r.name == name)
    return words[r.address - block.address:r.address - block.address + r.words]
