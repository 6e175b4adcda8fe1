"""Standard Webhooks signing: the published vector, rotation, and verification by the reference
library (`standardwebhooks`) of what we sign -- each test breaks one known-good case."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mineral_sentinel.contracts.subscriptions import SigningSecret
from mineral_sentinel.notifier.signing import (
    MAX_OLD_SECRETS,
    active_secrets,
    rotated,
    secret_from_bytes,
    secret_key,
    sign,
    signature_header,
    webhook_headers,
)

pytestmark = pytest.mark.unit

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_published_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_one_changed_byte_changes_the_signature() -> None:
    for broken in (
        (VECTOR_SECRET, VECTOR_ID + "x", VECTOR_TS, VECTOR_BODY),
        (VECTOR_SECRET, VECTOR_ID, VECTOR_TS + 1, VECTOR_BODY),
        (VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY + b" "),
        (secret_from_bytes(bytes(32)), VECTOR_ID, VECTOR_TS, VECTOR_BODY),
    ):
        assert sign(*broken) != VECTOR_SIGNATURE


def test_secret_format_and_key() -> None:
    raw = bytes(range(32))
    secret = secret_from_bytes(raw)
    assert secret.startswith("whsec_") and secret_key(secret) == raw
    with pytest.raises(ValueError):
        secret_from_bytes(b"short")


def test_reference_library_verifies_our_headers_now() -> None:
    secret = secret_from_bytes(bytes(range(1, 33)))
    body = json.dumps({"type": "alert.firing", "data": {"material": "gallium"}}).encode()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhook_headers("msg_abcdefgh12345678", timestamp, body, [secret])
    payload = Webhook(secret).verify(body, headers)
    assert payload["data"] == {"material": "gallium"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_rotation_sends_both_signatures_and_each_secret_verifies() -> None:
    old, new = secret_from_bytes(bytes(32)), secret_from_bytes(bytes([7]) * 32)
    timestamp = int(datetime.now(UTC).timestamp())
    header = signature_header([new, old], "msg_rot12345678", timestamp, b"{}")
    assert len(header.split(" ")) == 2
    headers = {
        "webhook-id": "msg_rot12345678",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": header,
    }
    for secret in (old, new):
        Webhook(secret).verify(b"{}", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_from_bytes(bytes([9]) * 32)).verify(b"{}", headers)


def test_active_secrets_drop_expired_rotated_secrets() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    current = secret_from_bytes(bytes([1]) * 32)
    rotated = secret_from_bytes(bytes([2]) * 32)
    secrets = [
        SigningSecret(value=current),
        SigningSecret(value=rotated, expires_at=now + timedelta(hours=24)),
    ]
    assert active_secrets(secrets, now) == [current, rotated]
    assert active_secrets(secrets, now + timedelta(hours=24)) == [current]


def test_secret_is_not_in_repr() -> None:
    secret = secret_from_bytes(bytes([3]) * 32)
    assert secret not in repr(SigningSecret(value=secret))
    assert base64.b64decode(secret[6:]) == bytes([3]) * 32


OVERLAP = timedelta(hours=24)


def _secret(n: int) -> str:
    return secret_from_bytes(bytes([n]) * 32)


def test_three_rotations_inside_the_overlap_keep_the_most_recent_old_secrets() -> None:
    """Each rotation promises that the secret it rotates out signs until `expires`: after a
    third rotation within 24 h the promise of the second still holds (the oldest goes)."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    secrets = [SigningSecret(value=_secret(0))]
    promises: list[tuple[str, datetime]] = []
    for n in (1, 2, 3):
        now = t0 + timedelta(hours=n)
        rotated_out = secrets[0].value
        secrets, expires = rotated(secrets, _secret(n), now, OVERLAP)
        assert expires == now + OVERLAP
        promises.append((rotated_out, expires))
        assert active_secrets(secrets, now)[0] == _secret(n), "the new secret signs first"
        assert rotated_out in active_secrets(secrets, now)
    assert [s.value for s in secrets] == [_secret(3), _secret(2), _secret(1)]
    assert len(secrets) == 1 + MAX_OLD_SECRETS
    assert _secret(0) not in active_secrets(secrets, t0 + timedelta(hours=3))
    for kept, until in promises[-MAX_OLD_SECRETS:]:
        assert kept in active_secrets(secrets, until - timedelta(seconds=1))
        assert kept not in active_secrets(secrets, until)


def test_rotation_keeps_the_expiry_of_old_secrets_and_drops_expired_ones() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    first, _ = rotated([SigningSecret(value=_secret(0))], _secret(1), t0, OVERLAP)
    second, _ = rotated(first, _secret(2), t0 + timedelta(hours=1), OVERLAP)
    assert [s.expires_at for s in second] == [None, t0 + timedelta(hours=25), t0 + OVERLAP]
    later = t0 + timedelta(hours=24, minutes=30)  # secret 0 expired at 24 h, 1 signs to 25 h
    third, expires = rotated(second, _secret(3), later, OVERLAP)
    assert [s.value for s in third] == [_secret(3), _secret(2), _secret(1)]
    assert third[1].expires_at == expires and third[2].expires_at == t0 + timedelta(hours=25)
