"""Fetch the broker's jars once, with Maven, into a cache outside the work tree.

The cache directory is keyed by a hash of `deploy/kafka/pom.xml`, so changing the Kafka version
in the POM fetches a fresh set and never mixes jars of two versions on one classpath.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parents[3] / "deploy" / "kafka"
COMPLETE_MARKER = ".complete"


class JarFetchError(RuntimeError):
    pass


def pom_path() -> Path:
    return DEPLOY_DIR / "pom.xml"


def jar_dir(cache_dir: Path) -> Path:
    digest = hashlib.sha256(pom_path().read_bytes()).hexdigest()[:12]
    return cache_dir / f"libs-{digest}"


def ensure_jars(cache_dir: Path, log: bool = True) -> Path:
    """Return a directory holding every runtime jar of the broker, fetching it on first use."""
    target = jar_dir(cache_dir)
    if (target / COMPLETE_MARKER).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarFetchError("Maven (`mvn`) is not on PATH; install it (apt-get install maven)")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if log:
        print(f"fetching Kafka jars with Maven into {target} (once)", flush=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom_path()),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    jars = list(staging.glob("*.jar"))
    if result.returncode != 0 or not jars:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise JarFetchError(f"mvn dependency:copy-dependencies failed:\n{tail}")
    (staging / COMPLETE_MARKER).write_text("\n".join(sorted(j.name for j in jars)) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
