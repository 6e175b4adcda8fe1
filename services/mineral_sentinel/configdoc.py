"""The configuration table of the README, generated from `Settings` (one source of truth).

`python -m mineral_sentinel.configdoc` prints it, `... --write README.md` replaces the copy between
the markers; a unit test fails when the README's copy drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_core import PydanticUndefined

from .config import Settings

BEGIN = "<!-- settings-table:begin (python -m mineral_sentinel.configdoc) -->"
END = "<!-- settings-table:end -->"


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default is not PydanticUndefined:
        value = field.default
    elif name == "data_dir":
        return "`./var` (current directory)"
    elif name == "kafka_cache_dir":
        return "`~/.cache/mineral-sentinel/kafka`"
    elif field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        return "(required)"
    if isinstance(value, list):
        return "`" + ",".join(str(v) for v in value) + "`" if value else "(empty)"
    if value == "":
        return "(empty)"
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `SENTINEL_{name.upper()}` | {_default(name)} | {field.description or ''} |")
    return "\n".join([BEGIN, *rows, END])


def replace_between(path: Path, begin: str, end: str, block: str) -> None:
    """Replace the text from `begin` to `end` (markers included; `block` carries them)."""
    text = path.read_text()
    start, stop = text.index(begin), text.index(end) + len(end)
    path.write_text(text[:start] + block + text[stop:])


def write_into(path: Path) -> None:
    replace_between(path, BEGIN, END, settings_table())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write_into(Path(sys.argv[2]))
    else:
        print(settings_table())
