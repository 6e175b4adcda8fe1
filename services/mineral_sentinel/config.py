"""Settings for every process, from `SENTINEL_*` environment variables with local defaults.

One `Settings` object is the single place a process learns where Kafka is, which ports to serve
and which topic prefix isolates it; everything else receives the values it needs.
"""

from __future__ import annotations

from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.cwd() / "var"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Process settings; env var = `SENTINEL_` + upper-case field name."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    topic_prefix: str = Field("", description="prefix for every topic name (tests isolate runs)")
    topic_partitions: int = Field(8, ge=1, le=256, description="partitions of keyed topics")
    topic_replication: int = Field(1, ge=1, description="replication factor of created topics")
    topic_retention_hours: float = Field(
        168.0, gt=0, description="retention of created non-compacted topics, in hours"
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="tables, broker data")

    api_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="admin tokens of the `default` tenant on /v1 (comma-separated; local runs)",
    )
    api_tokens_file: Path | None = Field(
        None,
        description="JSON file: SHA-256 hex digest of a token -> {tenant, scopes} (see README)",
    )
    policy_file: Path | None = Field(
        None,
        description="JSON deployment protocol of the risk worker, backtest and evaluate "
        "(docs/policy.md); unset: the defaults",
    )
    risk_web_port: int = Field(6066, description="risk service HTTP port")
    notifier_web_port: int = Field(6067, description="notifier service HTTP port")
    web_host: str = Field("127.0.0.1", description="interface the HTTP servers bind")
    web_advertised_host: str | None = Field(
        None,
        description="host the other workers of a service reach this one at (a risk worker "
        "forwards a request to the owner of the material); unset: web_host, or this machine's "
        "hostname when web_host is a wildcard (0.0.0.0, ::)",
    )
    store: str = Field("rocksdb://", description="faust table store (rocksdb:// or memory://)")
    risk_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="POST /v1/events body limit in bytes (413 above)"
    )
    risk_max_event_bytes: int = Field(
        64 * 1024, ge=1024, description="input messages larger than this are dead letters"
    )
    risk_idle_ms: int = Field(
        500,
        ge=0,
        le=60_000,
        description=(
            "how late a record may reach the broker after its Kafka timestamp and still be merged"
            " in event-time order (the wait for caught-up partitions, like max.task.idle.ms)"
        ),
    )
    risk_merge_buffer: int = Field(
        100_000,
        ge=1,
        description="records per partition the event-time merge holds before it releases early",
    )
    risk_batch_size: int = Field(
        2000, ge=1, description="the intake takes up to this many input messages per batch"
    )
    risk_batch_within_s: float = Field(
        0.05, gt=0, description="the intake waits at most this long to fill a batch"
    )
    risk_fold_batch_size: int = Field(
        200,
        ge=1,
        description=(
            "the stateful agent folds up to this many envelopes per batch (a backlog's"
            " envelope holds hundreds of records, decoded without a pause: 2,000 stalled the"
            " event loop past the group session timeout)"
        ),
    )
    risk_fold_within_s: float = Field(
        0.1,
        gt=0,
        description="the stateful agent's batch window (envelopes folded together)",
    )
    risk_table_write_interval_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description=(
            "a material's table value is written at most this often (0: after every fold batch);"
            " its envelopes are acknowledged only once it is written"
        ),
    )
    risk_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        le=1500,
        description="longest the broker may hold a risk worker's fetch (faust's own is 1,500 ms)",
    )
    max_future_s: float = Field(
        3600.0,
        gt=0,
        description="input events whose event time is more than this many seconds ahead of the "
        "wall clock at intake are dead letters (future_timestamp; Kafka KIP-937 uses 3600 s)",
    )
    risk_session_timeout_s: float = Field(
        60.0, ge=6, description="Kafka group session timeout of risk workers (crash detection)"
    )
    group_instance_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="static group membership (KIP-345): a name unique among a service's running "
        "workers and kept across restarts (a StatefulSet pod's name); a worker restarted after a "
        "crash takes its partitions back at once, not after the session timeout",
    )

    webhook_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CIDRs exempt from the webhook SSRF guard"
    )
    webhook_allow_http: bool = Field(False, description="allow http:// webhook URLs (demos)")
    webhook_timeout_s: float = Field(15.0, gt=0, description="per-attempt HTTP timeout")
    webhook_retry_scale: float = Field(
        1.0, gt=0, description="multiplier on the retry schedule (tests shrink it)"
    )
    webhook_disable_after_s: float = Field(
        5 * 24 * 3600.0, gt=0, description="disable an endpoint failing continuously this long"
    )
    webhook_endpoint_concurrency: int = Field(4, ge=1, description="in-flight sends per endpoint")
    webhook_recovery_check_s: float = Field(
        5.0,
        ge=0,
        description="while a failing endpoint's deliveries wait on a retry, try one early this "
        "often; once one succeeds the rest go at once (0 = the retry schedule only)",
    )
    webhook_retry_jitter: float = Field(
        0.2, ge=0, lt=1, description="relative jitter on retry delays (0.2 = +/- 20 %)"
    )
    webhook_retry_after_max_s: float = Field(
        3600.0, gt=0, description="cap on a webhook endpoint's Retry-After"
    )
    webhook_secret_overlap_s: float = Field(
        86400.0, gt=0, description="how long a rotated-out webhook secret keeps signing"
    )
    webhook_http_engine: Literal["aiohttp", "httpcore"] = Field(
        "aiohttp",
        description="webhook HTTP engine: aiohttp, or httpx on httpcore (slow when busy)",
    )

    log_rate_limit_s: float = Field(
        10.0,
        ge=0,
        description="repeated log lines of one cause pass once per this many seconds (0 = off)",
    )

    kafka_port: int = Field(9092, description="local broker client port (sentinel kafka)")
    kafka_controller_port: int = Field(9093, description="local broker controller port")
    kafka_cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "mineral-sentinel" / "kafka",
        description="where the broker jars are cached, outside the work tree",
    )
    kafka_start_timeout_s: float = Field(90.0, gt=0, description="wait for the local broker")

    @field_validator("api_tokens", "webhook_allow_networks", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_allow_networks")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ip_network(cidr, strict=False)
        return value

    @cached_property
    def allowed_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(ip_network(c, strict=False) for c in self.webhook_allow_networks)


def load_settings() -> Settings:
    return Settings()
