"""A clone of the repository is enough to follow every reference: no tracked file cites a
document that lives outside it, and docs/domain-facts.md agrees with the catalog it explains."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from mineral_sentinel.catalog import load_catalog

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DOMAIN_FACTS = REPO / "docs/domain-facts.md"
MATERIALS = REPO / "services" / "mineral_sentinel" / "catalog" / "data" / "materials.json"

# Spelled in pieces so that this file does not match its own patterns.
_SHARED = "shared"
_FACTS = "domain-facts"
OUTSIDE_REFERENCES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a path into the team's shared folder", re.compile(re.escape("../" + _SHARED))),
    ("the shared reference folder", re.compile(re.escape(_SHARED + "/reference"), re.I)),
    ("a section of the outside design document", re.compile("DESIGN" + r"\s+section", re.I)),
    ("the outside design document", re.compile("DESIGN" + r"\.md")),
    (
        "a facts file other than docs/domain-facts.md",
        re.compile(r"(?<!docs/)" + re.escape(_FACTS + ".md")),
    ),
)


def _tracked_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False, timeout=60
    )
    if listing.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO}: {listing.stderr.decode(errors='replace')}")
    names = [name for name in listing.stdout.decode().split("\0") if name]
    assert names, "git ls-files listed no files"
    return [REPO / name for name in names]


def outside_references(path: Path) -> list[str]:
    """`file:line: what` for every reference in `path` to a document outside the repository."""
    data = path.read_bytes()
    if b"\0" in data:
        return []
    found = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        for what, pattern in OUTSIDE_REFERENCES:
            if pattern.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {what}: {line.strip()[:120]}")
    return found


def test_no_tracked_file_points_outside_the_repository() -> None:
    found = [hit for path in _tracked_files() if path.is_file() for hit in outside_references(path)]
    assert not found, "references to documents outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see ../" + _SHARED + "/notes",
        "from " + _SHARED + "/Reference/facts",
        "as DESIGN" + " section 4 says",
        "design" + "  Section 7",
        "DESIGN" + ".md",
        "reference/" + _FACTS + ".md",
        _FACTS + ".md has it",
    ],
)
def test_each_kind_of_outside_reference_is_caught(line: str) -> None:
    assert any(p.search(line) for _, p in OUTSIDE_REFERENCES), line


def test_the_repository_facts_file_may_be_named() -> None:
    for line in ("docs/" + _FACTS + ".md", "[facts](../docs/" + _FACTS + ".md)"):
        assert not any(p.search(line) for _, p in OUTSIDE_REFERENCES), line


def test_hits_name_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    probe = tmp_path / "notes.md"
    probe.write_text("fine\nper DESIGN" + " section 5\n")
    assert outside_references(probe) == [
        "notes.md:2: a section of the outside design document: per DESIGN" + " section 5"
    ]


def test_catalog_sources_are_public_urls_or_files_of_the_repository() -> None:
    sources = json.loads(MATERIALS.read_text())["sources"]
    for key, source in sources.items():
        url = source.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            assert (REPO / url).is_file(), f"sources.{key}.url {url!r} is not a repository file"
    assert sources["reference_facts"]["url"] == "docs/" + _FACTS + ".md"


_ROW = re.compile(
    r"^\| `(?P<code>\w+)` \| (?P<sr>[\d.]+) \| (?P<ei>[\d.]+) \| (?P<ir>\d+)% \| "
    r"(?P<eol>\d+)% \| (?P<si>[\d.]+) \| (?P<target>\d+) / (?P<floor>\d+) \|$"
)


def test_domain_facts_table_matches_the_catalog() -> None:
    """The 2023 values quoted in docs/domain-facts.md are the ones the code reads."""
    catalog = load_catalog()
    rows = [m for line in DOMAIN_FACTS.read_text().splitlines() if (m := _ROW.match(line))]
    assert len(rows) >= 10, "the table of 2023 values in docs/domain-facts.md was not found"
    for row in rows:
        material = catalog.material(row["code"])
        quoted = (
            float(row["sr"]),
            float(row["ei"]),
            round(int(row["ir"]) / 100, 2),
            round(int(row["eol"]) / 100, 2),
            float(row["si"]),
            float(row["target"]),
            float(row["floor"]),
        )
        actual = (
            material.published_supply_risk,
            material.economic_importance,
            round(material.import_reliance, 2),
            round(material.eol_rir, 2),
            material.substitution_index,
            material.target_days,
            material.floor_days,
        )
        assert quoted == actual, f"{row['code']}: docs/domain-facts.md {quoted} != catalog {actual}"
