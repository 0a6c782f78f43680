"""The SQL cookbook (schema/queries/*.sql): documented queries and their bound parameters.

Each cookbook file starts with a comment header: a title line, the question it answers, and
its parameters, one per line:

    --   :name   type   = default   description        (or "(required)" instead of "= default")

`kafkalab sql --file NAME --param name=value` reads the header, converts each value to the
declared type and binds it; values never become SQL text. Parameters not given take their
default (SQL NULL for `= NULL`); a required one missing, an undeclared one given, or a value
that is not of its type is an error naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kafkalab.core.errors import SpecError
from schema import SCHEMA_DIR

QUERIES_DIR = SCHEMA_DIR / "queries"

_PARAM_LINE = re.compile(
    r"^--\s+:(?P<name>[A-Za-z_]\w*)\s+(?P<type>text|integer|bigint|double|numeric|timestamptz|boolean)"
    r"\s+(?:=\s+(?P<default>NULL|'[^']*'|-?[\d.]+|true|false)|\((?P<required>required)\))\s+(?P<doc>.*?)\s*$"
)
_NOT_GIVEN = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any  # the converted default; _NOT_GIVEN for a required parameter
    doc: str

    @property
    def required(self) -> bool:
        return self.default is _NOT_GIVEN

    def convert(self, text: str | None) -> Any:
        """`text` (as typed on a command line) as a value of the declared type."""
        if text is None or text.strip().upper() == "NULL":
            return None
        value = text.strip()
        try:
            if self.type in ("integer", "bigint"):
                return int(value)
            if self.type in ("double", "numeric"):
                return float(value)
            if self.type == "boolean":
                lowered = value.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return lowered in ("true", "1", "yes")
            if self.type == "timestamptz":
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return moment if moment.tzinfo else moment.astimezone()
        except ValueError:
            raise SpecError(f"--param {self.name}: {text!r} is not a {self.type}") from None
        return value


@dataclass(frozen=True)
class CookbookQuery:
    name: str
    path: Path
    title: str
    params: tuple[Param, ...]
    sql: str

    def bind(self, given: Mapping[str, str | None]) -> dict[str, Any]:
        """Bound parameter values: `given` converted, defaults for the rest."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            names = ", ".join(declared) or "none"
            raise SpecError(f"--param {unknown[0]}: {self.name} has no such parameter (it takes: {names})")
        values: dict[str, Any] = {}
        for param in self.params:
            if param.name in given:
                values[param.name] = param.convert(given[param.name])
            elif param.required:
                raise SpecError(f"--param {param.name}=VALUE is required by {self.name} ({param.doc})")
            else:
                values[param.name] = param.default
        return values


def parse_query(text: str, *, name: str = "query", path: Path | None = None) -> CookbookQuery:
    """The header of a query file: title (first comment line) and parameters."""
    lines = text.splitlines()
    title = ""
    params: list[Param] = []
    for line in lines:
        if not line.startswith("--"):
            break
        if not title and line[2:].strip():
            title = line[2:].strip()
        match = _PARAM_LINE.match(line)
        if match:
            param = Param(match["name"], match["type"], _NOT_GIVEN, match["doc"])
            if not match["required"]:
                raw = match["default"]
                default = None if raw == "NULL" else raw[1:-1] if raw.startswith("'") else raw
                param = Param(param.name, param.type, param.convert(default), param.doc)
            params.append(param)
    return CookbookQuery(name, path or Path(name), title, tuple(params), text)


def cookbook() -> list[CookbookQuery]:
    """Every query of schema/queries, by name."""
    return [load(path) for path in sorted(QUERIES_DIR.glob("*.sql"))]


def load(path: Path) -> CookbookQuery:
    return parse_query(path.read_text(encoding="utf-8"), name=path.stem, path=path)


def resolve(file: str) -> CookbookQuery:
    """A query file by path, or a cookbook query by name (`nightly_trend` or `nightly_trend.sql`)."""
    path = Path(file)
    if not path.exists():
        candidate = QUERIES_DIR / (path.name if path.suffix == ".sql" else f"{path.name}.sql")
        if path.parent == Path(".") and candidate.exists():
            path = candidate
    try:
        return load(path)
    except OSError as exc:
        names = ", ".join(q.name for q in cookbook())
        raise SpecError(f"--file {file}: cannot read: {exc.strerror} (cookbook queries: {names})") from None


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`name=value` strings (from --param) as a dict; a malformed one is an error."""
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip(":")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise SpecError(f"--param {item!r}: expected NAME=VALUE")
        given[name] = value
    return given
