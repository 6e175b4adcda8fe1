"""The routes each app serves (its pages, after Faust's blueprints are applied) are exactly the
routes of that service in contracts/routes.py: no undocumented route, no unserved contract.

Each app is built in a child process (the two services register Prometheus metrics of the same
names) with topic creation stubbed out: building an app opens no connection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from mineral_sentinel.contracts.routes import SERVICES, Service, routes_of

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")
TOPIC_CREATION = {
    "notifier": "mineral_sentinel.notifier.app._create_topics",
    "risk": "mineral_sentinel.risk_service.app.ensure_risk_topics",
}


def served_in_this_process(service: Service, data_dir: str) -> None:
    """Child side: print the served [method, path] pairs of one service's app as JSON."""
    import importlib

    from mineral_sentinel.config import Settings

    module = "notifier.app" if service == "notifier" else "risk_service.app"
    with mock.patch(TOPIC_CREATION[service]):
        create_app = importlib.import_module(f"mineral_sentinel.{module}").create_app
        app = create_app(Settings(store="memory://", data_dir=Path(data_dir), api_tokens=["t"]))
    app.web.blueprints.apply(app.web)
    served = sorted(
        [method.upper(), path]
        for path, view in app.web.views.items()
        for method in METHODS
        if method in vars(type(view))
    )
    print(json.dumps(served))


@pytest.mark.parametrize("service", SERVICES)
def test_each_app_serves_exactly_its_contract_routes(service: Service, tmp_path: Path) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.unit.test_served_routes import served_in_this_process as s; "
            "s(sys.argv[1], sys.argv[2])",
            service,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-4000:]
    served = {(method, path) for method, path in json.loads(child.stdout.splitlines()[-1])}
    contract = {(r.method, r.path) for r in routes_of(service)}
    assert served - contract == set(), "served but not in contracts/routes.py"
    assert contract - served == set(), "in contracts/routes.py but not served"
