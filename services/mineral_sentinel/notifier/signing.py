"""Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

Pure: the caller supplies the random bytes of a new secret and the timestamp of a signature, so
the same inputs always give the same output (the spec's published vector is a unit test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ..contracts.subscriptions import SigningSecret

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_OLD_SECRETS = 2
"""Rotated-out secrets kept signing besides the current one (the contract allows 4 in all)."""


def secret_from_bytes(random_bytes: bytes) -> str:
    """A `whsec_` secret from caller-supplied random bytes (24-64 bytes per the spec)."""
    if not 24 <= len(random_bytes) <= 64:
        raise ValueError("a webhook secret needs 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_`."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded, validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature over the exact body bytes."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Space-separated signatures, one per active secret (several during a rotation)."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def active_secrets(secrets: Sequence[SigningSecret], now: datetime) -> list[str]:
    """Secrets that still sign at `now`: the current one and rotated-out ones not yet expired."""
    return [s.value for s in secrets if s.expires_at is None or s.expires_at > now]


def webhook_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: Iterable[str]
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def rotated(
    secrets: Sequence[SigningSecret], new_secret: str, now: datetime, overlap: timedelta
) -> tuple[list[SigningSecret], datetime]:
    """The secrets after a rotation at `now`, and until when the one rotated out signs.

    `secrets` is newest first. The current secret gets `now + overlap`; rotated-out secrets keep
    their own expiry; expired ones are dropped; of the old ones the MOST RECENT
    `MAX_OLD_SECRETS` are kept, so the secret just rotated out always signs as promised.
    """
    expires = now + overlap
    old = [
        s if s.expires_at is not None else s.model_copy(update={"expires_at": expires})
        for s in secrets
        if s.expires_at is None or s.expires_at > now
    ]
    return [SigningSecret(value=new_secret), *old[:MAX_OLD_SECRETS]], expires
