"""`sentinel evaluate DIR`: the backtest over labelled episodes, scored, as a table.

Exit status: 0 when every label is met, 1 when some label is not (the table says which), 2 when
the directory, a label file, an events file or the policy file is unusable (the error names the
file and field). `--policy FILE` scores another deployment protocol on the same episodes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("episodes", type=Path, help="directory of episode label files (*.json)")
    parser.add_argument(
        "--charts",
        "--out",
        dest="charts",
        type=Path,
        default=None,
        help="directory for one PNG per episode (default: SENTINEL_DATA_DIR/evaluation)",
    )
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="deployment protocol file, JSON (docs/policy.md; default: SENTINEL_POLICY_FILE, "
        "else the defaults)",
    )


def run(args: argparse.Namespace) -> int:
    from ..catalog.loader import load_catalog
    from ..config import load_settings
    from ..policyfile import PolicyFileError, load_policy
    from ..risk.policy import protocol_version
    from .labels import LabelError, load_episodes
    from .runner import run_episodes
    from .table import evaluation_table, unmet_labels

    directory: Path = args.episodes
    if not directory.is_dir():
        print(f"sentinel evaluate: no such directory: {directory}", file=sys.stderr)
        return 2
    catalog = load_catalog()
    settings = load_settings()
    policy_path: Path | None = args.policy or settings.policy_file
    try:
        policy = load_policy(policy_path, catalog)
    except PolicyFileError as error:
        print(f"sentinel evaluate: {error}", file=sys.stderr)
        return 2
    print(
        f"protocol {protocol_version(policy)} ({policy_path or 'defaults'})",
        file=sys.stderr,
    )
    try:
        runs = run_episodes(load_episodes(directory, catalog), catalog, policy)
    except LabelError as error:
        print(f"sentinel evaluate: {error}", file=sys.stderr)
        return 2
    print(evaluation_table(runs))
    unmet = [line for episode_run in runs for line in unmet_labels(episode_run)]
    if unmet:
        print("\nlabels not met:")
        print("\n".join(f"- {line}" for line in unmet))
    if not args.no_charts:
        from .charts import write_episode_chart

        out_dir: Path = args.charts or settings.data_dir / "evaluation"
        for episode_run in runs:
            write_episode_chart(episode_run, out_dir, policy)
        print(f"{len(runs)} charts -> {out_dir}", file=sys.stderr)
    return 0 if all(r.score.passed for r in runs) else 1
