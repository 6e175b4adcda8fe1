"""The episode label format (`sentinel-episode/1`): what the service should have said, and when.

One JSON file per episode names its events file (JSON Lines, the input contract) and the labels
the backtest is scored against. Every label carries `source`: the dated public fact it comes
from, so a reader can check the expectation without trusting us. Unknown fields are errors (a
misspelt label must not be silently ignored); every error names its field path. See
docs/evaluation.md for the format and its rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..catalog.model import Catalog
from ..contracts.common import MaterialCode
from ..contracts.outputs import RiskLevel, Severity

FORMAT = "sentinel-episode/1"
LABEL_SUFFIX = ".json"

SourceNote = Annotated[str, Field(min_length=10, max_length=2000)]
"""The dated public fact a label comes from (who published what, when)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FirstPublicSignal(_Strict):
    """When the public could first have known: the announcement, the first attack, the first
    print of the spike. Lead times are measured from here."""

    at: AwareDatetime
    source: SourceNote


class ExpectedAlert(_Strict):
    """Every scored material must reach at least `severity` no later than `by`."""

    severity: Severity = "warning"
    by: AwareDatetime
    source: SourceNote


class CalmPeriod(_Strict):
    """From `start` (inclusive) to `end` (exclusive) no alert may exceed `max_severity`, and no
    release may be recommended unless `releases_allowed` (a release is the costly action)."""

    start: AwareDatetime
    end: AwareDatetime
    max_severity: RiskLevel
    releases_allowed: bool = False
    source: SourceNote

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("must be after start")
        return end


class Resolution(_Strict):
    """After the measure is lifted or suspended, or the disruption ends (`after`), every scored
    material must have no firing alert by `by`, and none may fire again in the episode."""

    after: AwareDatetime
    by: AwareDatetime
    source: SourceNote

    @field_validator("by")
    @classmethod
    def _not_before_after(cls, by: datetime, info: ValidationInfo) -> datetime:
        after = info.data.get("after")
        if after is not None and by < after:
            raise ValueError("must not be before `after`")
        return by


class ExpectedRelease(_Strict):
    """A stockpile release recommendation for `material` must be issued no later than `by`."""

    material: MaterialCode
    by: AwareDatetime
    source: SourceNote


class Episode(_Strict):
    """One labelled episode: an events file and what the service should have said about it."""

    format: Literal["sentinel-episode/1"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    events: Annotated[str, Field(min_length=1, max_length=200)]
    """The events file, relative to the label file's directory (no `..`, not absolute)."""
    materials: Annotated[list[MaterialCode], Field(min_length=1, max_length=16)]
    """The materials scored; every label applies to each of them."""
    first_public_signal: FirstPublicSignal | None = None
    expected_alert: ExpectedAlert | None = None
    calm_periods: Annotated[list[CalmPeriod], Field(max_length=16)] = Field(default_factory=list)
    resolution: Resolution | None = None
    expected_release: ExpectedRelease | None = None
    illustrative: Annotated[str, Field(min_length=1, max_length=2000)]
    """What in the events file is illustrative rather than fact (price levels, tonnes...)."""

    @field_validator("events")
    @classmethod
    def _inside_directory(cls, events: str) -> str:
        path = PurePosixPath(events)
        if path.is_absolute() or ".." in path.parts or "\\" in events:
            raise ValueError("must be a relative path inside the episode directory")
        return events

    @field_validator("materials")
    @classmethod
    def _no_repeats(cls, materials: list[str]) -> list[str]:
        repeated = sorted({m for m in materials if materials.count(m) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return materials

    @model_validator(mode="after")
    def _consistent(self) -> Episode:
        # cross-field rules: the message starts with the field path (the error has no location)
        if self.expected_alert is not None:
            if self.first_public_signal is None:
                raise ValueError("expected_alert: needs first_public_signal (the lead time origin)")
            if self.expected_alert.by < self.first_public_signal.at:
                raise ValueError("expected_alert.by: is before first_public_signal.at")
        if self.expected_release is not None and self.expected_release.material not in set(
            self.materials
        ):
            raise ValueError("expected_release.material: is not one of materials")
        return self


class LabelError(Exception):
    """A label file that cannot be used, with every problem as `path: field: reason`."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return problems


@dataclass(frozen=True, slots=True)
class LoadedEpisode:
    name: str
    """The label file's name without `.json`."""
    label_file: Path
    events_file: Path
    episode: Episode


def parse_episode(text: str | bytes, file: Path, catalog: Catalog) -> Episode:
    """Validate one label document; raises LabelError naming every bad field."""
    try:
        episode = Episode.model_validate_json(text)
    except ValidationError as error:
        raise LabelError(file, _describe(error)) from None
    unknown = [
        f"materials.{n}: '{code}' is not a catalog material"
        for n, code in enumerate(episode.materials)
        if code not in catalog.materials
    ]
    if unknown:
        raise LabelError(file, unknown)
    return episode


def load_episode(label_file: Path, catalog: Catalog) -> LoadedEpisode:
    try:
        text = label_file.read_bytes()
    except OSError as error:
        raise LabelError(label_file, [f"cannot read: {error.strerror}"]) from None
    try:
        json.loads(text)
    except ValueError as error:
        raise LabelError(label_file, [f"not JSON: {error}"]) from None
    episode = parse_episode(text, label_file, catalog)
    events_file = label_file.parent / episode.events
    if not events_file.is_file():
        raise LabelError(label_file, [f"events: no such file: {events_file}"])
    return LoadedEpisode(
        label_file.name.removesuffix(LABEL_SUFFIX), label_file, events_file, episode
    )


def load_episodes(directory: Path, catalog: Catalog) -> list[LoadedEpisode]:
    """Every `*.json` label file of `directory`, by name; raises LabelError on the first bad
    one, or when there is none."""
    files = sorted(directory.glob(f"*{LABEL_SUFFIX}"))
    if not files:
        raise LabelError(directory, [f"no episode label files (*{LABEL_SUFFIX})"])
    return [load_episode(file, catalog) for file in files]
