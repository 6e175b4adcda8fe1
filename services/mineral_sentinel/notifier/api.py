"""The /v1/subscriptions API on the notifier's web server (bearer auth, 422 with field paths).

Thin: parse with the contract models, check URLs with the same SSRF guard the sender uses, write
to the subscriptions topic or the delivery log through the runtime, answer with contract models.
"""

from __future__ import annotations

import secrets as random_source
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, get_args

import faust
from faust.web import Request, Response, View
from pydantic import BaseModel, ValidationError

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
from ..contracts.webhooks import DeliveryStatus
from ..webkit import guarded, json_error, validation_errors
from .payloads import probe_task, replay_task
from .runtime import NotifierRuntime
from .signing import SECRET_BYTES, secret_from_bytes
from .transport import SsrfRefused

M = TypeVar("M", bound=BaseModel)
STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
MAX_OLD_SECRETS = 2


def _now() -> datetime:
    return datetime.now(UTC)


def register_api(
    app: faust.App,
    runtime: NotifierRuntime,
    tokens: Callable[[], Sequence[str]],
    clock: Callable[[], datetime] = _now,
) -> None:
    auth = guarded(tokens)

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

    def lookup(view: View, sub_id: str) -> Subscription | Response:
        sub = runtime.subscriptions.get(sub_id)
        if sub is None:
            return json_error(view, 404, f"no subscription {sub_id!r}")
        return sub

    def out(view: View, body: Any, status: int = 200) -> Response:
        response: Response = view.json(body, status=status)
        return response

    @app.page("/v1/subscriptions", name="notifier_subscriptions")
    class Subscriptions(View):
        @auth
        async def post(self, request: Request) -> Response:
            body = await parse(self, request, SubscriptionCreate)
            if not isinstance(body, SubscriptionCreate):
                return body
            refusal = await refuse_url(self, body.url)
            if refusal is not None:
                return refusal
            now = clock()
            secret = secret_from_bytes(random_source.token_bytes(SECRET_BYTES))
            sub = Subscription(
                id=f"sub_{random_source.token_hex(12)}",
                created_at=now,
                updated_at=now,
                secrets=[SigningSecret(value=secret)],
                **body.model_dump(),
            )
            await runtime.subscriptions.put(sub)
            created = SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(), secret=secret)
            return out(self, created.model_dump(mode="json"), 201)

        @auth
        async def get(self, request: Request) -> Response:
            subs = runtime.subscriptions.all()
            return out(self, [SubscriptionOut.of(s).model_dump(mode="json") for s in subs])

    @app.page("/v1/subscriptions/{sub_id}", name="notifier_subscription")
    class OneSubscription(View):
        @auth
        async def get(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            return out(self, SubscriptionOut.of(sub).model_dump(mode="json"))

        @auth
        async def patch(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
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

        @auth
        async def delete(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            await runtime.subscriptions.delete(sub_id)
            response: Response = self.bytes(b"", status=204)
            return response

    @app.page("/v1/subscriptions/{sub_id}/rotate-secret", name="notifier_rotate_secret")
    class RotateSecret(View):
        @auth
        async def post(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            now = clock()
            expires = now + timedelta(seconds=runtime.settings.webhook_secret_overlap_s)
            old = [
                s if s.expires_at is not None else s.model_copy(update={"expires_at": expires})
                for s in sub.secrets
                if s.expires_at is None or s.expires_at > now
            ]
            secret = secret_from_bytes(random_source.token_bytes(SECRET_BYTES))
            rotated = sub.model_copy(
                update={
                    "secrets": [SigningSecret(value=secret), *old[-MAX_OLD_SECRETS:]],
                    "updated_at": now,
                }
            )
            await runtime.subscriptions.put(rotated)
            body = SecretRotated(id=sub_id, secret=secret, previous_expires_at=expires)
            return out(self, body.model_dump(mode="json"))

    @app.page("/v1/subscriptions/{sub_id}/test", name="notifier_test")
    class TestDelivery(View):
        @auth
        async def post(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            if not sub.enabled:
                return json_error(self, 409, f"subscription is disabled: {sub.disabled_reason}")
            task = probe_task(sub, clock(), uuid.uuid4().hex)
            await runtime.enqueue([task])
            body = Queued(subscription_id=sub_id, webhook_ids=[task.webhook_id])
            return out(self, body.model_dump(mode="json"), 202)

    @app.page("/v1/subscriptions/{sub_id}/deliveries", name="notifier_deliveries")
    class Deliveries(View):
        @auth
        async def get(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            status = request.query.get("status")
            if status is not None and status not in STATUSES:
                message = f"must be one of {', '.join(STATUSES)}"
                return json_error(
                    self,
                    422,
                    "invalid query",
                    [{"field": "status", "message": message, "type": "enum"}],
                )
            states = [s for s in runtime.history.of(sub_id) if status is None or s.status == status]
            return out(self, [s.to_out().model_dump(mode="json") for s in states])

    @app.page("/v1/subscriptions/{sub_id}/replay", name="notifier_replay")
    class Replay(View):
        @auth
        async def post(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
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
    class Enable(View):
        @auth
        async def post(self, request: Request, sub_id: str) -> Response:
            sub = lookup(self, sub_id)
            if not isinstance(sub, Subscription):
                return sub
            enabled = sub.model_copy(
                update={"enabled": True, "disabled_reason": "", "updated_at": clock()}
            )
            await runtime.subscriptions.put(enabled)
            return out(self, SubscriptionOut.of(enabled).model_dump(mode="json"))
