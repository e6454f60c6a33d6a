"""The Helm chart renders for every supported set of values, and every manifest it renders is
valid against the Kubernetes JSON Schemas (kubernetes-validate, strict: unknown fields fail) or,
for the two custom resources, against the schemas in `crd_schemas.py`."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.crd_schemas import CUSTOM_RESOURCES
from tests.deploy.tooling import CHART, helm_template, run, tool

# name -> (values files, --set overrides): the defaults, both per-tenant modes, every option on.
SCENARIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "default": ((), ()),
    "per-tenant-release": (("values-tenant-example.yaml",), ()),
    "shared-with-tenant-hints": (("values-shared-example.yaml",), ()),
    "shared-keda": (("values-shared-example.yaml",), ("keda.enabled=true",)),
    "per-tenant-keda": (("values-tenant-example.yaml",), ("keda.enabled=true",)),
    "all-options": (
        (),
        (
            "keda.enabled=true",
            "keda.authenticationRef=kafka-auth",
            "keda.triggerMetadata.tls=enable",
            "metrics.serviceMonitor.enabled=true",
            "statusApi.autoscaling.enabled=false",
            "image.digest=sha256:" + "0" * 64,
            "image.pullSecrets[0].name=registry",
            "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.team=ingress",
        ),
    ),
    "minimal": (
        (),
        (
            "networkPolicy.enabled=false",
            "podDisruptionBudget.enabled=false",
            "bootstrap.migrations.enabled=false",
            "bootstrap.topics.enabled=false",
            "serviceAccount.create=false",
        ),
    ),
}
# The chart's minimum (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBE_VERSIONS = ("1.27.0", "1.37.0")


@functools.cache
def rendered(scenario: str, kube_version: str) -> tuple[dict[str, Any], ...]:
    files, sets = SCENARIOS[scenario]
    return tuple(helm_template(*files, sets=sets, kube_version=kube_version))


def _name(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_is_valid_for_kubernetes(scenario: str, kube_version: str) -> None:
    docs = rendered(scenario, kube_version)
    assert docs, "the chart rendered nothing"
    problems: list[str] = []
    for doc in docs:
        custom = CUSTOM_RESOURCES.get((doc["apiVersion"], doc["kind"]))
        try:
            if custom is not None:
                jsonschema.validate(doc, custom)
            else:
                kubernetes_validate.validate(doc, kube_version, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{_name(doc)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{_name(doc)}: no schema ({exc})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_object_names_are_unique(scenario: str) -> None:
    names = [_name(d) for d in rendered(scenario, KUBE_VERSIONS[-1])]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_expected_objects_are_rendered_per_option() -> None:
    kinds = {_name(d) for d in rendered("default", "1.37.0")}
    for service in ("reconciler", "exchange-connector", "salesforce-connector", "status-api"):
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
            assert f"{kind}/syncline-{service}" in kinds
    assert "HorizontalPodAutoscaler/syncline-status-api" in kinds
    assert {"Job/syncline-migrate", "Job/syncline-topics"} <= kinds
    # Optional resources need their CRDs, so they are off unless asked for.
    assert not any(k.startswith(("ScaledObject/", "ServiceMonitor/")) for k in kinds)

    everything = {_name(d) for d in rendered("all-options", "1.37.0")}
    for service in ("reconciler", "exchange-connector"):
        assert f"ScaledObject/syncline-{service}" in everything
    # The Salesforce connector polls its org from every replica: one per tenant, never scaled.
    assert "ScaledObject/syncline-salesforce-connector" not in everything
    assert "ScaledObject/syncline-status-api" not in everything
    assert sum(k.startswith("ServiceMonitor/") for k in everything) == 4

    minimal = {_name(d).split("/")[0] for d in rendered("minimal", "1.37.0")}
    assert minimal.isdisjoint({"NetworkPolicy", "PodDisruptionBudget", "Job", "ServiceAccount"})


@pytest.mark.parametrize(
    "values", ["values.yaml", "values-tenant-example.yaml", "values-shared-example.yaml"]
)
def test_helm_lint_is_clean(values: str) -> None:
    result = run([tool("helm"), "lint", CHART, "--strict", "--values", CHART / values])
    assert result.returncode == 0, result.stdout + result.stderr
