"""Java .properties files: broker configs and client configs for the perf tools.

Client configs may carry credentials, so files are created readable by the user only
and values never go on a command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def _escape(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif (key and ch in "=: ") or (i == 0 and ch in "#! "):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def render_properties(values: Mapping[str, object]) -> str:
    return "".join(f"{_escape(k, key=True)}={_escape(str(v), key=False)}\n" for k, v in values.items())


def write_properties(path: Path, values: Mapping[str, object]) -> Path:
    """Write `values` as a properties file, mode 0600 from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_properties(values))
    return path
