"""The /v1 HTTP API of the risk service, served by every worker.

Single-material answers come from the worker that owns the material's partition (faust table
routing forwards the request, Authorization header included). List answers are gathered: the
receiving worker asks every other worker of the group for its own part (`scope=local`) and
merges. Bodies are the contract models in `contracts/api.py` and `contracts/outputs.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import faust
from faust.exceptions import SameNode
from faust.web import Request, Response, View
from yarl import URL

from ..auth import Keyring, Principal
from ..catalog.model import Catalog
from ..config import Settings
from ..contracts.api import ActiveMeasure, EventsAccepted, MaterialDetail, MaterialSummary
from ..contracts.events import ExportControl, InputEvent
from ..contracts.routes import HttpMethod, route_for
from ..ingest import Rejected, classify, split_json_array
from ..risk import (
    Policy,
    active_measures,
    last_alert,
    last_recommendation,
    open_alert,
    snapshot_of,
)
from ..risk.timeutil import to_datetime
from ..topics import INPUT_TOPIC_OF_TYPE
from ..webkit import ApiView, Readiness, guarded, json_error
from .agents import RiskAgents
from .slot import MaterialSlot
from .topology import TABLE_NAME

MAX_EVENTS_PER_REQUEST = 1000


class NotReady(Exception):
    """The group has not assigned partitions yet: ownership is unknown."""


def not_ready(view: View, error: NotReady) -> Response:
    """503 (with Retry-After): who owns a partition is not known (yet, or in a rebalance)."""
    return json_error(view, 503, f"not ready: {error}")


def _urlident(url: URL | str) -> tuple[str, int]:
    parsed = URL(str(url))
    return (parsed.host or "", int(parsed.port or 80))


class RiskApi:
    """Registers the /v1 views on the app; reads state through `RiskAgents`."""

    def __init__(
        self,
        app: faust.App,
        agents: RiskAgents,
        settings: Settings,
        catalog: Catalog,
        policy: Policy,
        keyring: Keyring,
        readiness: Readiness,
    ) -> None:
        self.app = app
        self.agents = agents
        self.settings = settings
        self.catalog = catalog
        self.policy = policy
        self.keyring = keyring
        self.readiness = readiness

    def guard(self, method: HttpMethod, path: str) -> Callable[[Any], Any]:
        """The view guard of the contract's route: 503 until ready, then token and scope."""
        return guarded(route_for("risk", method, path), self.keyring, self.readiness)

    # ---- ownership ----------------------------------------------------------------------------

    def owner(self, material: str) -> tuple[str, int]:
        try:
            return _urlident(self.app.router.key_store(TABLE_NAME, material.encode()))
        except (KeyError, TypeError) as error:  # TypeError: no table metadata yet at start
            raise NotReady(f"owner of {material} unknown yet") from error

    def me(self) -> tuple[str, int]:
        return _urlident(self.app.conf.canonical_url)

    def local_materials(self) -> list[str]:
        me = self.me()
        return [code for code in sorted(self.catalog.materials) if self.owner(code) == me]

    def peers(self) -> list[str]:
        me = self.me()
        hosts = self.app.router.table_metadata(TABLE_NAME)
        return sorted(h for h in hosts if _urlident(h) != me)

    def local_slots(self, material: str | None) -> list[MaterialSlot]:
        codes = self.local_materials() if material is None else [material]
        slots = []
        for code in codes:
            slot = self.agents.stored(code.encode())
            if slot is not None:
                slots.append(slot)
        return slots

    async def gather(
        self, request: Request, local: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """This worker's items plus every peer's (`scope=local`), unless already local."""
        items = local()
        if request.query.get("scope") == "local":
            return items
        headers = {"Authorization": request.headers.get("Authorization", "")}
        query = {**request.query, "scope": "local"}

        async def fetch(host: str) -> list[dict[str, Any]]:
            url = URL(host).with_path(URL(str(request.url)).path).with_query(query)
            async with self.app.http_client.get(url, headers=headers) as response:
                if response.status != 200:
                    raise NotReady(f"{host} answered {response.status}")
                body: list[dict[str, Any]] = await response.json()
                return body

        for part in await asyncio.gather(*(fetch(h) for h in self.peers())):
            items.extend(part)
        return items

    async def route(self, view: View, request: Request, material: str) -> Response | None:
        """Forward to the owner of `material`; None when this worker owns it."""
        try:
            result: Response = await self.app.router.route_req(
                TABLE_NAME, material.encode(), view.web, request
            )
            return result
        except SameNode:
            return None

    # ---- bodies -------------------------------------------------------------------------------

    def summary(self, slot: MaterialSlot) -> dict[str, Any] | None:
        state = slot.state
        try:
            snap = snapshot_of(state, self.catalog, self.policy)
        except LookupError:
            return None
        return MaterialSummary(
            material=snap.material,
            level=snap.level,
            score=snap.score,
            drivers=snap.drivers[:3],
            alert_id=snap.alert_id,
            as_of=snap.as_of,
        ).model_dump(mode="json")

    def detail(self, slot: MaterialSlot) -> MaterialDetail | None:
        state = slot.state
        try:
            snap = snapshot_of(state, self.catalog, self.policy)
        except LookupError:
            return None
        measures = [
            ActiveMeasure(
                measure_id=m.measure_id,
                country=m.country,
                measure=m.kind,
                status=m.status,
                announced_at=to_datetime(m.announced_at),
                effective_at=to_datetime(m.effective_at),
                expires_at=None if m.expires_at is None else to_datetime(m.expires_at),
                coverage=m.coverage,
                reaches_eu=m.reaches_eu,
            )
            for m in active_measures(state)
        ]
        return MaterialDetail(
            material=snap.material,
            level=snap.level,
            score=snap.score,
            snapshot=snap,
            active_measures=measures,
            holdings=snap.holdings,
            open_alert=open_alert(state),
            last_alert=last_alert(state),
            last_recommendation=last_recommendation(state),
            as_of=snap.as_of,
        )

    def check_material(self, view: View, material: str | None) -> Response | None:
        if material is not None and material not in self.catalog.materials:
            return json_error(
                view,
                422,
                f"unknown material {material!r}",
                [{"field": "material", "message": "not a catalog material code"}],
            )
        return None

    # ---- views --------------------------------------------------------------------------------

    def register(self) -> None:
        api = self
        app = self.app
        guard = self.guard

        @app.page("/v1/events")
        class Events(ApiView):
            @guard("POST", "/v1/events")
            async def post(self, request: Request, principal: Principal) -> Response:
                return await api.post_events(self, request)

        @app.page("/v1/materials")
        class Materials(ApiView):
            @guard("GET", "/v1/materials")
            async def get(self, request: Request, principal: Principal) -> Response:
                def local() -> list[dict[str, Any]]:
                    rows = (api.summary(s) for s in api.local_slots(None))
                    return [r for r in rows if r is not None]

                try:
                    rows = await api.gather(request, local)
                except NotReady as error:
                    return not_ready(self, error)
                rows.sort(key=lambda r: r["material"])
                return self.json(rows)

        @app.page("/v1/materials/{code}")
        class Material(ApiView):
            @guard("GET", "/v1/materials/{code}")
            async def get(self, request: Request, principal: Principal, code: str) -> Response:
                if code not in api.catalog.materials:
                    return json_error(self, 404, f"{code!r} is not a catalog material")
                try:
                    routed = await api.route(self, request, code)
                except NotReady as error:
                    return not_ready(self, error)
                if routed is not None:
                    return routed
                slot = api.agents.stored(code.encode())
                quarantined = api.agents.quarantined.get(code)
                if quarantined is not None:
                    return json_error(
                        self, 503, f"{code} is quarantined: stored state unusable ({quarantined})"
                    )
                detail = None if slot is None else api.detail(slot)
                if detail is None:
                    return json_error(self, 404, f"no event seen yet for {code}")
                return self.bytes(
                    detail.model_dump_json().encode(), content_type="application/json"
                )

        @app.page("/v1/alerts")
        class Alerts(ApiView):
            @guard("GET", "/v1/alerts")
            async def get(self, request: Request, principal: Principal) -> Response:
                status = request.query.get("status")  # checked against the route's enum
                return await api.list_outputs(self, request, "alerts", status)

        @app.page("/v1/recommendations")
        class Recommendations(ApiView):
            @guard("GET", "/v1/recommendations")
            async def get(self, request: Request, principal: Principal) -> Response:
                return await api.list_outputs(self, request, "recommendations", None)

    async def list_outputs(
        self, view: View, request: Request, kind: str, status: str | None
    ) -> Response:
        material = request.query.get("material")
        refusal = self.check_material(view, material)
        if refusal is not None:
            return refusal
        try:
            if material is not None and request.query.get("scope") != "local":
                routed = await self.route(view, request, material)
                if routed is not None:
                    return routed

            def local() -> list[dict[str, Any]]:
                out: list[dict[str, Any]] = []
                for slot in self.local_slots(material):
                    values = slot.alerts.values() if kind == "alerts" else slot.recommendations
                    out.extend(json.loads(v) for v in values)
                if status is not None:
                    out = [o for o in out if o.get("status") == status]
                return out

            if material is not None:
                items = local()
            else:
                items = await self.gather(request, local)
        except NotReady as error:
            return not_ready(view, error)
        stamp = "updated_at" if kind == "alerts" else "issued_at"
        items.sort(key=lambda o: (o[stamp], o["material"]), reverse=True)
        response: Response = view.json(items)
        return response

    async def post_events(self, view: View, request: Request) -> Response:
        limit = self.settings.risk_max_body_bytes
        http: Any = request  # the aiohttp request under faust's abstract one
        if http.content_length is not None and http.content_length > limit:
            return json_error(view, 413, f"body over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in http.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                return json_error(view, 413, f"body over the limit of {limit} bytes")
            chunks.append(chunk)
        # One parse per event: the body is split into its elements' bytes (depth-checked, no
        # parsing), each element is validated once from its own bytes by the ingest rules, and
        # exactly those bytes (surrounding whitespace stripped) are produced to Kafka.
        items = split_json_array(b"".join(chunks))
        if isinstance(items, Rejected):
            return json_error(
                view,
                422,
                "body is not valid JSON",
                [{"field": e.path, "message": e.message, "type": e.reason} for e in items.errors],
            )
        if not 1 <= len(items) <= MAX_EVENTS_PER_REQUEST:
            return json_error(
                view, 422, f"send between 1 and {MAX_EVENTS_PER_REQUEST} events per request"
            )
        accepted: list[tuple[bytes, InputEvent]] = []
        errors: list[dict[str, Any]] = []
        now = time.time()
        for index, item in enumerate(items):
            result = classify(
                item,
                self.catalog,
                max_bytes=self.settings.risk_max_event_bytes,
                now=now,
                max_future_s=self.settings.max_future_s,
            )
            if isinstance(result, Rejected):
                errors.extend(
                    {"index": index, "field": e.path, "message": e.message, "type": e.reason}
                    for e in result.errors
                )
            else:
                accepted.append((result.raw, result.event))
        if errors:
            failed = len({e["index"] for e in errors})
            return json_error(
                view,
                422,
                f"{failed} of {len(items)} events rejected; nothing was produced",
                errors,
            )
        try:
            futures = [
                await self.agents.inputs[INPUT_TOPIC_OF_TYPE[event.type].name].send(
                    key=(
                        event.measure_id if isinstance(event, ExportControl) else event.material
                    ).encode(),
                    value=raw,
                )
                for raw, event in accepted
            ]
            await asyncio.gather(*futures)
        except Exception as error:
            return json_error(view, 503, f"could not produce to Kafka: {error}")
        body = EventsAccepted(accepted=len(accepted), event_ids=[e.event_id for _, e in accepted])
        response: Response = view.json(body.model_dump(mode="json"), status=202)
        return response
