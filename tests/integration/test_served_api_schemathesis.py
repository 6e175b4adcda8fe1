"""Schemathesis against both running services with the generated `schemas/openapi.json`.

One risk worker and one notifier (admin tokens) on the shared broker; schemathesis generates
requests for every operation of each service (its examples, coverage and fuzzing phases, a
bounded number of examples) and checks each answer: no 5xx, a documented status code, content
type and headers, a body that conforms to the operation's schema, and a schema-invalid request
refused (`negative_data_rejection`: validation is as strict as the spec). Path ids are real
objects (a material with state, a subscription, a silence) so the operations are reached, not
only 404; DELETEs run last. The stateful phase is off (time). Its engine is driven directly:
its pytest loader (`schemathesis.pytest.from_fixture`) fails under pytest 9.2 (`_nodeid`).

Not checked: `positive_data_acceptance` -- rules the schema cannot express make a schema-valid
request a documented 4xx (a material code that is not in the catalog, a webhook URL refused by
the SSRF guard, a silence window in the past).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, events

from tests.helpers.polling import wait_until
from tests.helpers.processes import free_port
from tests.integration import notifier_harness, risk_harness
from tests.integration.risk_harness import RiskWorker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
MAX_EXAMPLES = 25
"""Per operation and phase: keeps each service's run well under a minute."""
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]


@dataclass
class Services:
    risk: str
    notifier: str
    parameters: dict[str, str]
    """Path parameters naming real objects: `code`, `sub_id`, `silence_id`."""


def _price(material: str) -> dict[str, Any]:
    return {
        "type": "price_observed",
        "event_id": f"st-{uuid.uuid4().hex[:12]}",
        "material": material,
        "observed_at": "2024-06-03T16:00:00Z",
        "price": 312.5,
        "currency": "USD",
        "unit": "kg",
        "source": "fastmarkets",
    }


@pytest.fixture(scope="module")
def services(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SENTINEL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "SENTINEL_DATA_DIR": str(tmp / "data"),
    }
    risk = RiskWorker(env, tmp / "risk.log")
    notifier = notifier_harness.start_notifier(env, tmp / "notifier.log")
    try:
        risk.start()
        wait_until(lambda: _ready(notifier.base), timeout=90, interval=0.2, message="notifier")
        parameters = _objects(risk.url, notifier.base)
        yield Services(risk.url, notifier.base, parameters)
    finally:
        risk.stop()
        notifier.process.stop()
    for name in ("risk.log", "notifier.log"):
        log = (tmp / name).read_text(errors="replace")
        # aiohttp logs (with a traceback) and answers 400 itself for a request it cannot parse,
        # such as schemathesis's probe with a NUL byte in a header; any other is ours.
        tracebacks = log.count("Traceback (most recent call last)")
        unparsable = log.count("aiohttp.http_exceptions.BadHttpMessage")
        assert tracebacks == unparsable, f"{name} has a traceback:\n{log[-6000:]}"
        assert "unexpected error answering" not in log, name


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _objects(risk: str, notifier: str) -> dict[str, str]:
    """A material with state, a subscription and a silence, for the operations' path ids."""
    risk_auth = {"Authorization": f"Bearer {risk_harness.TOKEN}"}
    accepted = httpx.post(f"{risk}/v1/events", json=_price("gallium"), headers=risk_auth)
    assert accepted.status_code == 202, accepted.text
    wait_until(
        lambda: httpx.get(f"{risk}/v1/materials/gallium", headers=risk_auth).status_code == 200,
        timeout=30,
        message="gallium has state",
    )
    auth = {"Authorization": f"Bearer {notifier_harness.TOKEN}"}
    sub = httpx.post(
        f"{notifier}/v1/subscriptions",
        json={"url": f"http://127.0.0.1:{free_port()}/hook"},  # nobody listens: test
        # and replay deliveries just retry
        headers=auth,
    )
    assert sub.status_code == 201, sub.text
    ends_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    silence = httpx.post(
        f"{notifier}/v1/silences",
        json={"ends_at": ends_at, "comment": "schemathesis", "created_by": "tests"},
        headers=auth,
    )
    assert silence.status_code == 201, silence.text
    return {"code": "gallium", "sub_id": sub.json()["id"], "silence_id": silence.json()["id"]}


def run_schemathesis(base_url: str, token: str, service: str, parameters: dict[str, str]) -> Run:
    """Every phase but stateful on the operations tagged `service`: what failed, what answered."""
    loaded = schemathesis.openapi.from_path(OPENAPI)
    loaded.config.update(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        parameters=parameters,
        request_timeout=10,
    )
    loaded.config.generation.update(max_examples=MAX_EXAMPLES)
    loaded.config.checks.update(included_check_names=CHECKS)
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    run = Run()
    # DELETEs last: a deleted subscription would turn every later operation on it into a 404.
    first = loaded.include(tag=service).exclude(method="DELETE")
    last = loaded.include(tag=service, method="DELETE")  # one call: tag and method
    for schema in (first, last):
        _execute(schema, run)
    return run


def _execute(schema: Any, run: Run) -> None:
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.scenarios += 1
            run.cases += len(event.recorder.cases)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None and event.label:
                    statuses = run.statuses.setdefault(event.label, set())
                    statuses.add(interaction.response.status_code)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        run.failures.add(
                            f"{event.label}: {check.name}: {failure.title}: "
                            f"{failure.message[:300]}\n  {check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.format()[:2000]}")
        elif isinstance(event, events.FatalError):
            run.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            run.stop_reasons.append(str(event.stop_reason))


@dataclass
class Run:
    scenarios: int = 0
    cases: int = 0
    failures: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    stop_reasons: list[str] = field(default_factory=list)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    """Per operation, every status it answered."""


@pytest.mark.parametrize("service", ["risk", "notifier"])
def test_each_service_answers_as_its_contract_says(services: Services, service: str) -> None:
    base_url, token = {
        "risk": (services.risk, risk_harness.TOKEN),
        "notifier": (services.notifier, notifier_harness.TOKEN),
    }[service]
    started = time.monotonic()
    run = run_schemathesis(base_url, token, service, services.parameters)
    elapsed = time.monotonic() - started
    print(f"schemathesis {service}: {run.cases} cases, {run.scenarios} scenarios, {elapsed:.1f} s")
    assert not run.errors, "\n".join(run.errors)
    assert not run.failures, "\n".join(sorted(run.failures))
    operations = sum(
        1 for _ in schemathesis.openapi.from_path(OPENAPI).include(tag=service).get_all_operations()
    )
    assert run.stop_reasons == ["completed", "completed"], run.stop_reasons
    assert len(run.statuses) == operations, sorted(run.statuses)
    print("\n".join(f"  {op}: {sorted(codes)}" for op, codes in sorted(run.statuses.items())))
