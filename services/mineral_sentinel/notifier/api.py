"""The /v1/subscriptions API on the notifier's web server (bearer auth, 422 with field paths).

Thin: parse with the contract models, check URLs with the same SSRF guard the sender uses, write
to the subscriptions topic or the delivery log through the runtime, answer with contract models.
Every view is guarded by its route in contracts/routes.py (503 until ready, 401/403 by token and
scope); a subscription of another tenant is answered exactly like a missing one (404).
"""

from __future__ import annotations

import secrets as random_source
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import faust
from faust.web import Request, Response, View
from pydantic import BaseModel, ValidationError

from ..auth import Keyring, Principal
from ..contracts.routes import HttpMethod, route_for
from ..contracts.silences import (
    Silence,
    SilenceCreate,
    SilenceOut,
    window_problem,
)
from ..contracts.subscriptions import (
    Queued,
    ReplayRequest,
    SecretRotated,
    SigningSecret,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPatch,
)
from ..webkit import ApiView, guarded, json_error, validation_errors
from .payloads import probe_task, replay_task
from .runtime import NotifierRuntime
from .signing import SECRET_BYTES, rotated, secret_from_bytes
from .transport import SsrfRefused

M = TypeVar("M", bound=BaseModel)
ONE = "/v1/subscriptions/{sub_id}"
ONE_SILENCE = "/v1/silences/{silence_id}"


def _now() -> datetime:
    return datetime.now(UTC)


def register_api(
    app: faust.App,
    runtime: NotifierRuntime,
    keyring: Keyring,
    clock: Callable[[], datetime] = _now,
) -> None:
    def auth(method: HttpMethod, path: str) -> Callable[[Any], Any]:
        return guarded(route_for("notifier", method, path), keyring, runtime.readiness)

    async def parse(view: View, request: Request, model: type[M]) -> M | Response:
        raw = await request.read()
        try:
            return model.model_validate_json(raw or b"null")
        except ValidationError as error:
            return json_error(view, 422, "invalid request body", validation_errors(error))

    async def refuse_url(view: View, url: str) -> Response | None:
        try:
            await runtime.guard.vet(url)
        except SsrfRefused as refused:
            return json_error(
                view,
                422,
                "webhook URL refused",
                [{"field": "url", "message": str(refused), "type": "ssrf"}],
            )
        return None

    def lookup(view: View, principal: Principal, sub_id: str) -> Subscription | Response:
        """The subscription if the caller may see it; another tenant's is 404 like a missing."""
        sub = runtime.subscriptions.get(sub_id)
        if sub is None or not principal.sees(sub.tenant):
            return json_error(view, 404, f"no subscription {sub_id!r}")
        return sub

    def lookup_silence(view: View, principal: Principal, silence_id: str) -> Silence | Response:
        """The silence if the caller may see it; another tenant's is 404 like a missing one."""
        silence = runtime.silences.get(silence_id)
        if silence is None or not principal.sees(silence.tenant):
            return json_error(view, 404, f"no silence {silence_id!r}")
        return silence

    def out(view: View, body: Any, status: int = 200) -> Response:
        response: Response = view.json(body, status=status)
        return response

    @app.page("/v1/subscriptions", name="notifier_subscriptions")
    class Subscriptions(ApiView):
        @auth("POST", "/v1/subscriptions")
        async def post(self, request: Request, principal: Principal) -> Response:
            body = await parse(self, request, SubscriptionCreate)
            if not isinstance(body, SubscriptionCreate):
                return body
            tenant = body.tenant or principal.tenant
            if not principal.sees(tenant):
                message = "only an admin token may create subscriptions of another tenant"
                return json_error(self, 403, message)
            refusal = await refuse_url(self, body.url)
            if refusal is not None:
                return refusal
            now = clock()
            secret = secret_from_bytes(random_source.token_bytes(SECRET_BYTES))
            sub = Subscription(
                id=f"sub_{random_source.token_hex(12)}",
                tenant=tenant,
                created_at=now,
                updated_at=now,
                secrets=[SigningSecret(value=secret)],
                **body.model_dump(exclude={"tenant"}),
            )
            await runtime.subscriptions.put(sub)
            created = SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(), secret=secret)
            return out(self, created.model_dump(mode="json"), 201)

        @auth("GET", "/v1/subscriptions")
        async def get(self, request: Request, principal: Principal) -> Response:
            subs = [s for s in runtime.subscriptions.all() if principal.sees(s.tenant)]
            return out(self, [SubscriptionOut.of(s).model_dump(mode="json") for s in subs])

    @app.page("/v1/subscriptions/{sub_id}", name="notifier_subscription")
    class OneSubscription(ApiView):
        @auth("GET", ONE)
        async def get(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            return out(self, SubscriptionOut.of(sub).model_dump(mode="json"))

        @auth("PATCH", ONE)
        async def patch(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            body = await parse(self, request, SubscriptionPatch)
            if not isinstance(body, SubscriptionPatch):
                return body
            changes = body.model_dump(exclude_unset=True, exclude_none=True)
            if "url" in changes:
                refusal = await refuse_url(self, changes["url"])
                if refusal is not None:
                    return refusal
            updated = Subscription.model_validate(
                {**sub.model_dump(), **changes, "updated_at": clock()}
            )
            await runtime.subscriptions.put(updated)
            return out(self, SubscriptionOut.of(updated).model_dump(mode="json"))

        @auth("DELETE", ONE)
        async def delete(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            await runtime.subscriptions.delete(sub_id)
            response: Response = self.bytes(b"", status=204)
            return response

    @app.page("/v1/subscriptions/{sub_id}/rotate-secret", name="notifier_rotate_secret")
    class RotateSecret(ApiView):
        @auth("POST", ONE + "/rotate-secret")
        async def post(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            now = clock()
            secret = secret_from_bytes(random_source.token_bytes(SECRET_BYTES))
            overlap = timedelta(seconds=runtime.settings.webhook_secret_overlap_s)
            secrets, expires = rotated(sub.secrets, secret, now, overlap)
            after = sub.model_copy(update={"secrets": secrets, "updated_at": now})
            await runtime.subscriptions.put(after)
            body = SecretRotated(id=sub_id, secret=secret, previous_expires_at=expires)
            return out(self, body.model_dump(mode="json"))

    @app.page("/v1/subscriptions/{sub_id}/test", name="notifier_test")
    class TestDelivery(ApiView):
        @auth("POST", ONE + "/test")
        async def post(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            if not sub.enabled:
                return json_error(self, 409, f"subscription is disabled: {sub.disabled_reason}")
            task = probe_task(sub, clock(), uuid.uuid4().hex)
            await runtime.enqueue([task])
            body = Queued(subscription_id=sub_id, webhook_ids=[task.webhook_id])
            return out(self, body.model_dump(mode="json"), 202)

    @app.page("/v1/subscriptions/{sub_id}/deliveries", name="notifier_deliveries")
    class Deliveries(ApiView):
        @auth("GET", ONE + "/deliveries")
        async def get(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            status = request.query.get("status")  # checked against the route's enum
            states = [s for s in runtime.history.of(sub_id) if status is None or s.status == status]
            return out(self, [s.to_out().model_dump(mode="json") for s in states])

    @app.page("/v1/subscriptions/{sub_id}/replay", name="notifier_replay")
    class Replay(ApiView):
        @auth("POST", ONE + "/replay")
        async def post(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            body = await parse(self, request, ReplayRequest)
            if not isinstance(body, ReplayRequest):
                return body
            if not sub.enabled:
                return json_error(self, 409, f"subscription is disabled: {sub.disabled_reason}")
            now = clock()
            tasks = [
                replay_task(s.task, now)
                for s in runtime.history.of(sub_id)
                if s.task.replay_of is None and s.task.created_at >= body.since
            ]
            await runtime.enqueue(tasks)
            queued = Queued(subscription_id=sub_id, webhook_ids=[t.webhook_id for t in tasks])
            return out(self, queued.model_dump(mode="json"), 202)

    @app.page("/v1/subscriptions/{sub_id}/enable", name="notifier_enable")
    class Enable(ApiView):
        @auth("POST", ONE + "/enable")
        async def post(self, request: Request, principal: Principal, sub_id: str) -> Response:
            sub = lookup(self, principal, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            enabled = sub.model_copy(
                update={"enabled": True, "disabled_reason": "", "updated_at": clock()}
            )
            await runtime.subscriptions.put(enabled)
            return out(self, SubscriptionOut.of(enabled).model_dump(mode="json"))

    @app.page("/v1/silences", name="notifier_silences")
    class Silences(ApiView):
        @auth("POST", "/v1/silences")
        async def post(self, request: Request, principal: Principal) -> Response:
            body = await parse(self, request, SilenceCreate)
            if not isinstance(body, SilenceCreate):
                return body
            tenant = body.tenant or principal.tenant
            if not principal.sees(tenant):
                message = "only an admin token may silence another tenant's deliveries"
                return json_error(self, 403, message)
            now = clock()
            starts_at = body.starts_at or now
            problem = window_problem(starts_at, body.ends_at, now)
            if problem is not None:
                field = {"field": "ends_at", "message": problem, "type": "value_error"}
                return json_error(self, 422, "invalid silence window", [field])
            unknown = [
                {
                    "field": f"matchers.subscription_ids.{index}",
                    "message": f"no subscription {sub_id!r} of tenant {tenant!r}",
                    "type": "unknown_subscription",
                }
                for index, sub_id in enumerate(body.matchers.subscription_ids)
                if (sub := runtime.subscriptions.get(sub_id)) is None or sub.tenant != tenant
            ]
            if unknown:
                return json_error(self, 422, "unknown subscription in matchers", unknown)
            silence = Silence(
                id=f"sil_{random_source.token_hex(12)}",
                tenant=tenant,
                matchers=body.matchers,
                starts_at=starts_at,
                ends_at=body.ends_at,
                comment=body.comment,
                created_by=body.created_by,
                created_at=now,
                updated_at=now,
            )
            await runtime.silences.put(silence)
            return out(self, SilenceOut.of(silence, now).model_dump(mode="json"), 201)

        @auth("GET", "/v1/silences")
        async def get(self, request: Request, principal: Principal) -> Response:
            now = clock()
            state = request.query.get("state")  # checked against the route's enum
            shown = [
                SilenceOut.of(s, now)
                for s in runtime.silences.all()
                if principal.sees(s.tenant) and (state is None or s.state_at(now) == state)
            ]
            return out(self, [s.model_dump(mode="json") for s in shown])

    @app.page("/v1/silences/{silence_id}", name="notifier_silence")
    class OneSilence(ApiView):
        @auth("GET", ONE_SILENCE)
        async def get(self, request: Request, principal: Principal, silence_id: str) -> Response:
            silence = lookup_silence(self, principal, silence_id)
            if not isinstance(silence, Silence):
                return silence
            return out(self, SilenceOut.of(silence, clock()).model_dump(mode="json"))

        @auth("DELETE", ONE_SILENCE)
        async def delete(self, request: Request, principal: Principal, silence_id: str) -> Response:
            silence = lookup_silence(self, principal, silence_id)
            if not isinstance(silence, Silence):
                return silence
            now = clock()
            state = silence.state_at(now)
            if state == "pending":
                await runtime.silences.delete(silence_id)  # it never muted anything
            elif state == "active":
                # Expire, keep the record: a message of its window read again after a crash
                # is muted the same way, and the log says when it ended.
                expired = silence.model_copy(update={"ends_at": now, "updated_at": now})
                await runtime.silences.put(expired)
            response: Response = self.bytes(b"", status=204)
            return response
