"""The Kubernetes manifests: valid for the real API types (deploy/k8s-check), in agreement with
Settings, the CLI, the routes and topics.py, and a checker that catches what it claims to."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mineral_sentinel import cli, workers
from mineral_sentinel.auth import Principal, load_keyring
from mineral_sentinel.catalog.loader import load_catalog
from mineral_sentinel.config import Settings
from mineral_sentinel.contracts.routes import routes_of
from mineral_sentinel.notifier.app import APP_NAME as NOTIFIER_APP
from mineral_sentinel.notifier.runtime import GROUP_SUFFIX as DELIVERY_GROUP
from mineral_sentinel.policyfile import load_policy
from mineral_sentinel.risk_service.topology import APP_NAME as RISK_APP
from mineral_sentinel.risk_service.topology import BY_MATERIAL, intake_group_id
from mineral_sentinel.topics import DELIVERIES
from mineral_sentinel.topics_cli import deployment_topics

from .k8s import K8S, find, render, run_checker

pytestmark = pytest.mark.deploy

EXAMPLE = K8S / "overlays" / "example"
SERVICES = {
    "risk": ("StatefulSet", "sentinel-risk"),
    "notifier": ("Deployment", "sentinel-notifier"),
}


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return render(EXAMPLE)


def configured(objects: list[dict[str, Any]]) -> Settings:
    """The Settings a worker of this deployment builds from its ConfigMap."""
    data: dict[str, str] = find(objects, "ConfigMap", "sentinel-config")["data"]
    fields = {key.removeprefix("SENTINEL_").lower(): value for key, value in data.items()}
    unknown = sorted(f"SENTINEL_{f.upper()}" for f in fields if f not in Settings.model_fields)
    assert not unknown, f"ConfigMap keys that no setting reads: {unknown}"
    return Settings.model_validate(fields)  # the ConfigMap only, not this process's env


def container(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    kind, name = SERVICES[service]
    containers: list[dict[str, Any]] = find(objects, kind, name)["spec"]["template"]["spec"][
        "containers"
    ]
    assert len(containers) == 1
    return containers[0]


def test_the_base_and_the_example_overlay_are_valid() -> None:
    base = run_checker("-partial", K8S / "base")
    assert base.returncode == 0, base.stderr
    overlay = run_checker(EXAMPLE)
    assert overlay.returncode == 0, overlay.stderr


def test_the_config_map_is_settings_and_the_ports_are_its_ports(
    example: list[dict[str, Any]],
) -> None:
    settings = configured(example)
    ports = {"risk": settings.risk_web_port, "notifier": settings.notifier_web_port}
    for service, port in ports.items():
        kind, name = SERVICES[service]
        template = find(example, kind, name)["spec"]["template"]
        assert container(example, service)["ports"] == [{"name": "http", "containerPort": port}]
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        assert find(example, "Service", name)["spec"]["ports"][0]["port"] == port
    assert settings.web_host == "0.0.0.0", "a pod's probes and Service reach it from outside"
    for service in SERVICES:
        names = {f"SENTINEL_{field.upper()}" for field in Settings.model_fields}
        unknown = {e["name"] for e in container(example, service).get("env", [])} - names
        assert not unknown, f"{service}: env vars that no setting reads: {unknown}"


def test_risk_pods_are_static_members_and_reachable_by_each_other(
    example: list[dict[str, Any]],
) -> None:
    env = {e["name"]: e for e in container(example, "risk").get("env", [])}
    source = env["SENTINEL_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert source == "metadata.name"  # stable in a StatefulSet, unique among its pods
    advertised = env["SENTINEL_WEB_ADVERTISED_HOST"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert advertised == "status.podIP"  # where the other risk pods forward requests


def test_probes_use_the_services_own_health_routes(example: list[dict[str, Any]]) -> None:
    for service in SERVICES:
        served = {route.path for route in routes_of(service)}  # type: ignore[arg-type]
        spec = container(example, service)
        assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz" in served
        assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz" in served


def test_every_container_runs_a_real_cli_command(example: list[dict[str, Any]]) -> None:
    for service in SERVICES:
        args = container(example, service)["args"]
        assert args == ["worker", service] and service in workers.SERVICES
    job = find(example, "Job", "sentinel-topics")["spec"]["template"]["spec"]["containers"][0]
    parsed = cli.build_parser(job["args"]).parse_args(job["args"])
    assert (parsed.command, parsed.action) == ("topics", "create")


def test_the_secret_holds_the_files_the_settings_name_and_they_load(
    example: list[dict[str, Any]],
) -> None:
    settings = configured(example)
    assert settings.api_tokens_file is not None and settings.policy_file is not None
    secret = find(example, "Secret", "sentinel-secrets")
    for service in SERVICES:
        mounts = {m["name"]: m["mountPath"] for m in container(example, service)["volumeMounts"]}
        for path in (settings.api_tokens_file, settings.policy_file):
            assert str(path.parent) == mounts["secrets"]
            assert path.name in secret["data"]
        assert mounts["data"] == str(settings.data_dir)
    files = EXAMPLE / "secrets"
    keyring = load_keyring([], files / settings.api_tokens_file.name)
    operator = keyring.authorize("Bearer example-operator-token-replace-me", "admin")
    assert isinstance(operator, Principal) and operator.tenant == "ops"
    load_policy(files / settings.policy_file.name, load_catalog())


def test_autoscaling_watches_the_code_s_groups_and_topics_capped_at_the_partitions(
    example: list[dict[str, Any]],
) -> None:
    settings = configured(example)
    prefix = settings.topic_prefix
    expected = {
        "sentinel-risk": {
            (intake_group_id(prefix), None),
            (f"{prefix}{RISK_APP}", BY_MATERIAL.full_name(prefix)),
        },
        "sentinel-notifier": {
            (f"{prefix}{DELIVERY_GROUP}", DELIVERIES.full_name(prefix)),
            (f"{prefix}{NOTIFIER_APP}", None),
        },
    }
    known_topics = {spec.full_name(prefix) for spec in deployment_topics()}
    for name, watched in expected.items():
        scaled = find(example, "ScaledObject", name)["spec"]
        assert scaled["maxReplicaCount"] == settings.topic_partitions
        triggers = [t["metadata"] for t in scaled["triggers"]]
        assert {(t["consumerGroup"], t.get("topic")) for t in triggers} == watched
        assert {t.get("topic") for t in triggers} - {None} <= known_topics
        assert {t["bootstrapServersFromEnv"] for t in triggers} == {"SENTINEL_KAFKA_BOOTSTRAP"}


def test_network_policies_let_the_workers_reach_the_configured_kafka(
    example: list[dict[str, Any]],
) -> None:
    """The egress rule to Kafka names the namespace and port of SENTINEL_KAFKA_BOOTSTRAP (a
    service name `<service>.<namespace>.svc:<port>`): a policy that disagrees cuts the workers
    off their broker."""
    settings = configured(example)
    for hostport in settings.kafka_bootstrap.split(","):
        host, port = hostport.rsplit(":", 1)
        namespace = host.split(".")[1]
        for name in ("sentinel-risk", "sentinel-notifier"):
            egress = find(example, "NetworkPolicy", name)["spec"]["egress"]
            to_kafka = [
                rule
                for rule in egress
                for peer in rule["to"]
                if peer.get("namespaceSelector", {}).get("matchLabels", {})
                == {"kubernetes.io/metadata.name": namespace}
            ]
            assert [p["port"] for rule in to_kafka for p in rule["ports"]] == [int(port)], name


MUTATIONS = [
    pytest.param(
        "base/risk.yaml",
        "podManagementPolicy: Parallel",
        "podManagement: Parallel",
        'unknown field "spec.podManagement"',
        id="unknown-field",
    ),
    pytest.param(
        "components/keda/scaledobjects.yaml",
        "    horizontalPodAutoscalerConfig:\n      behavior:\n        scaleUp:",
        "    horizontalPodAutoscaler:\n      behavior:\n        scaleUp:",
        'unknown field "spec.advanced.horizontalPodAutoscaler"',
        id="keda-unknown-field",
    ),
    pytest.param(
        "components/keda/scaledobjects.yaml",
        'lagThreshold: "2000"',
        'lagThresold: "2000"',
        'metadata "lagThresold" is not read by KEDA\'s kafka scaler',
        id="keda-metadata-typo",
    ),
    pytest.param(
        "components/keda/scaledobjects.yaml",
        "offsetResetPolicy: earliest\n---",
        "offsetResetPolicy: oldest\n---",
        'offsetResetPolicy="oldest" is not one of [latest earliest]',
        id="keda-enum",
    ),
    pytest.param(
        "components/keda/scaledobjects.yaml",
        "bootstrapServersFromEnv: SENTINEL_KAFKA_BOOTSTRAP\n        consumerGroup: sentinel-risk\n",
        "bootstrapServersFromEnv: KAFKA\n        consumerGroup: sentinel-risk\n",
        "the target's containers have no env var KAFKA",
        id="keda-env",
    ),
    pytest.param(
        "base/risk.yaml",
        "path: /readyz\n              port: http",
        "path: /readyz\n              port: web",
        "readiness probe port web is not declared",
        id="probe-port",
    ),
    pytest.param(
        "base/notifier.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "readOnlyRootFilesystem must be true",
        id="writable-root",
    ),
    pytest.param(
        "base/notifier.yaml",
        "      targetPort: http",
        "      targetPort: metrics",
        "targetPort metrics is not a port of Deployment/sentinel-notifier",
        id="service-target-port",
    ),
    pytest.param(
        "base/risk.yaml",
        "  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: "
        "mineral-sentinel\n      app.kubernetes.io/component: risk",
        "  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: "
        "mineral-sentinel\n      app.kubernetes.io/component: rsik",
        "PodDisruptionBudget/sentinel-risk: selector selects no pod template",
        id="pdb-selector",
    ),
    pytest.param(
        "overlays/example/kustomization.yaml",
        "  - name: sentinel-secrets",
        "  - name: sentinel-secret",
        'no Secret "sentinel-secrets"',
        id="missing-secret",
    ),
    pytest.param(
        "components/network-policy/networkpolicies.yaml",
        "# the risk API, probes and Prometheus\n    - ports:\n        - port: http",
        "# the risk API, probes and Prometheus\n    - ports:\n        - port: api",
        'ingress port "api" is not a port of StatefulSet/sentinel-risk',
        id="network-policy-port",
    ),
    pytest.param(
        "components/network-policy/networkpolicies.yaml",
        '"127.0.0.0/8"]',
        '"127.0.0.0/8", "fd00::/8"]',
        "ipBlock except fd00::/8 is not inside 0.0.0.0/0",
        id="network-policy-except",
    ),
    pytest.param(
        "base/risk.yaml",
        "              memory: 512Mi",
        "              memory: 2Gi",
        "memory request 2Gi above its limit 1Gi",
        id="request-above-limit",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), MUTATIONS)
def test_the_checker_refuses_a_broken_manifest(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    target = copy / file
    text = target.read_text()
    assert text.count(old) == 1, f"the mutation's anchor is not unique in {file}"
    target.write_text(text.replace(old, new))
    result = run_checker(copy / "overlays" / "example")
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
