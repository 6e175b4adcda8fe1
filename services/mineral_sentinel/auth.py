"""Bearer tokens, tenants and scopes of the /v1 APIs: a pure core over plain data.

Tokens are never held in plain: the token file maps SHA-256 hex digests to a grant (tenant and
scopes); a presented token is hashed and its digest looked up by `hmac.compare_digest` against
every configured digest (constant time, no early exit).
Plain `SENTINEL_API_TOKENS` are hashed at start and become admin tokens of the `default` tenant.

Rules the views follow (RFC 6750): no or malformed token -> 401, unknown token -> 401, a known
token lacking the route's scope -> 403; another tenant's object -> 404 (no existence oracle).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

Scope = Literal[
    "subscriptions:read",
    "subscriptions:write",
    "silences:write",
    "events:write",
    "risk:read",
    "admin",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)
ADMIN: Scope = "admin"
DEFAULT_TENANT = "default"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TenantId = Annotated[
    str,
    Field(
        pattern=TENANT_PATTERN,
        description="tenant id: lower-case letters, digits, '_', '.', '-' (1-64 characters)",
    ),
]
TokenDigest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class TokenGrant(BaseModel):
    """What one token may do: its tenant and scopes (`admin` sees and does everything)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    tenant: TenantId
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(SCOPES))]


class TokenFile(RootModel[dict[TokenDigest, TokenGrant]]):
    """`SENTINEL_API_TOKENS_FILE`: SHA-256 hex digest of a token -> its grant."""


class TokenFileError(ValueError):
    """The token file is missing, not JSON or not a valid `TokenFile`; the message says where."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind an accepted token."""

    tenant: str
    scopes: frozenset[Scope]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def can(self, scope: Scope) -> bool:
        return self.is_admin or scope in self.scopes

    def sees(self, tenant: str) -> bool:
        """Admin sees every tenant; anyone else only their own."""
        return self.is_admin or tenant == self.tenant


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not authorised: 401 (who are you?) or 403 (not allowed)."""

    status: Literal[401, 403]
    message: str
    error: Literal["invalid_request", "invalid_token", "insufficient_scope"]
    scope: Scope | None = None

    def www_authenticate(self, realm: str = "sentinel") -> str:
        """The RFC 6750 challenge; `invalid_request` without a token carries no error code."""
        parts = [f'realm="{realm}"']
        if self.error != "invalid_request":
            parts.append(f'error="{self.error}"')
            parts.append(f'error_description="{self.message}"')
        if self.scope is not None:
            parts.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(parts)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Keyring:
    """Accepted token digests and their principals."""

    principals: Mapping[str, Principal]

    def authenticate(self, authorization: str) -> Principal | Refusal:
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential or " " in credential:
            return Refusal(
                401,
                "missing or malformed bearer token (Authorization: Bearer <token>)",
                "invalid_request",
            )
        presented = token_digest(credential).encode()
        found: Principal | None = None
        for digest, principal in self.principals.items():
            # Every digest is compared, without an early exit: the time taken says nothing about
            # which token matched (and a digest's bytes say nothing about its token).
            if hmac.compare_digest(presented, digest.encode()):
                found = principal
        if found is None:
            return Refusal(401, "bearer token not accepted", "invalid_token")
        return found

    def authorize(self, authorization: str, scope: Scope) -> Principal | Refusal:
        found = self.authenticate(authorization)
        if isinstance(found, Refusal) or found.can(scope):
            return found
        return Refusal(
            403, f"the token lacks the scope {scope!r}", "insufficient_scope", scope=scope
        )


def keyring_of(plain_admin_tokens: Iterable[str], grants: Mapping[str, TokenGrant]) -> Keyring:
    """Plain tokens become admins of `default`; a digest in both keeps the file's grant."""
    principals = {
        token_digest(token): Principal(DEFAULT_TENANT, frozenset({ADMIN}))
        for token in plain_admin_tokens
    }
    for digest, grant in grants.items():
        principals[digest] = Principal(grant.tenant, frozenset(grant.scopes))
    return Keyring(principals)


def parse_token_file(text: str, source: str) -> dict[str, TokenGrant]:
    """The grants of a token file's text; `TokenFileError` names the file and every bad field."""
    try:
        parsed = TokenFile.model_validate_json(text)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise TokenFileError(f"{source}: invalid token file: {problems}") from None
    return dict(parsed.root)


def load_token_file(path: Path) -> dict[str, TokenGrant]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TokenFileError(f"{path}: cannot read the token file: {error.strerror}") from None
    return parse_token_file(text, str(path))


def token_file_text(grants: Mapping[str, TokenGrant]) -> str:
    """The JSON of a token file (tests and operators writing one)."""
    return json.dumps({d: g.model_dump(mode="json") for d, g in sorted(grants.items())}, indent=2)


def load_keyring(plain_admin_tokens: Iterable[str], token_file: Path | None) -> Keyring:
    """The keyring a service starts with; raises `TokenFileError` on a bad file (fail at start)."""
    grants = load_token_file(token_file) if token_file is not None else {}
    return keyring_of(plain_admin_tokens, grants)
