"""The table of every risk-model default in `docs/risk-model.md`, generated from `risk.Policy`.

Values come from `DEFAULT_POLICY`; each field's meaning is its attribute docstring and its group
the `# --- group ---` comment above it in `risk/policy.py` (read with `ast`, since a dataclass
keeps neither). `python -m mineral_sentinel.policydoc` prints it, `--write docs/risk-model.md`
replaces the copy between the markers; a unit test fails when the copy drifts.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from .configdoc import replace_between
from .risk import policy as policy_module
from .risk.policy import DEFAULT_POLICY

BEGIN = "<!-- policy-table:begin (python -m mineral_sentinel.policydoc) -->"
END = "<!-- policy-table:end -->"
_GROUP = re.compile(r"^\s*# --- (.+?) -+\s*$")


def _fields() -> list[tuple[str, str, str]]:
    """(group, field, docstring) of every field of `Policy`, in source order."""
    source = inspect.getsource(policy_module)
    lines = source.splitlines()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Policy")
    out: list[tuple[str, str, str]] = []
    group = ""
    body = cls.body
    for index, node in enumerate(body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        for line in lines[(body[index - 1].end_lineno or 0) if index else 0 : node.lineno - 1]:
            match = _GROUP.match(line)
            if match:
                group = match.group(1)
        doc = ""
        following = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = " ".join(following.value.value.split())
        out.append((group, node.target.id, doc))
    return out


def _value(value: object) -> str:
    if value is None:
        return "(the catalog's, per material)"
    if isinstance(value, Mapping):
        if not value:
            return "(none)"
        return ", ".join(f"`{key}` {value[key]}" for key in value)
    return f"`{value}`"


def policy_table() -> str:
    rows = ["| group | field | default | meaning |", "|---|---|---|---|"]
    for group, name, doc in _fields():
        value = _value(getattr(DEFAULT_POLICY, name))
        rows.append(f"| {group} | `{name}` | {value} | {doc.replace('|', '/')} |")
    return "\n".join([BEGIN, *rows, END])


def write_into(path: Path) -> None:
    replace_between(path, BEGIN, END, policy_table())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write_into(Path(sys.argv[2]))
    else:
        print(policy_table())
