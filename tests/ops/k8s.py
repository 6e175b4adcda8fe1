"""Render the Kubernetes manifests with `deploy/k8s-check` (kustomize and the real API types, in
Go) and read them as data for the agreement tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy" / "k8s"
CHECKER_SOURCE = REPO_ROOT / "deploy" / "k8s-check"
CHECKER = REPO_ROOT / "var" / "bin" / "k8s-check"


@cache
def checker() -> Path:
    """The checker binary, built from its source (Go's build cache makes a rebuild ~1 s; a cold
    cache compiles client-go and KEDA for a few minutes)."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("need Go to check the Kubernetes manifests (see README, Tests)")
    CHECKER.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "build", "-o", str(CHECKER), "."], cwd=CHECKER_SOURCE, check=True, timeout=900
    )
    return CHECKER


@dataclass(frozen=True)
class CheckResult:
    returncode: int
    stdout: str
    stderr: str


def run_checker(*args: str | Path, cwd: Path = REPO_ROOT) -> CheckResult:
    done = subprocess.run(
        [str(checker()), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return CheckResult(done.returncode, done.stdout, done.stderr)


def render(kustomization: Path) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k` would send, after the checker accepted them."""
    result = run_checker("-print", kustomization)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one rendered object of that kind whose name is `name` (kustomize may add a hash)."""
    generated = re.compile(rf"{re.escape(name)}(-[a-z0-9]{{10}})?")
    matches = [
        o for o in objects if o["kind"] == kind and generated.fullmatch(o["metadata"]["name"])
    ]
    assert len(matches) == 1, (kind, name, [o["metadata"]["name"] for o in matches])
    return matches[0]
