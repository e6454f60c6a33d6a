"""The chart's rendered workloads meet the platform rules: Pod Security `restricted`, probes,
resource limits, least-privilege NetworkPolicies, secrets only from Secrets, idempotent bootstrap
hooks, and replica counts bounded by the topic partitions (per-tenant scaling)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.test_chart_schemas import SCENARIOS, rendered
from tests.deploy.tooling import CONSUMERS, SERVICES, RenderError, helm_template

Doc = dict[str, Any]


def _docs(scenario: str) -> tuple[Doc, ...]:
    return rendered(scenario, "1.37.0")


def _pod_specs(docs: tuple[Doc, ...]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def _deployment(docs: tuple[Doc, ...], name: str) -> Doc:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def _env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_meet_pod_security_restricted(scenario: str) -> None:
    """The `restricted` profile of the Pod Security Standards, checked field by field."""
    problems: list[str] = []
    for where, pod in _pod_specs(_docs(scenario)):
        psc = pod.get("securityContext", {})
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{where}: host namespaces")
        if any("hostPath" in v for v in pod.get("volumes", [])):
            problems.append(f"{where}: hostPath volume")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: service account token mounted")
        for c in pod.get("initContainers", []) + pod["containers"]:
            csc = c.get("securityContext", {})
            at = f"{where}/{c['name']}"
            if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                problems.append(f"{at}: runAsNonRoot not set")
            if csc.get("runAsUser", psc.get("runAsUser")) in (0, None):
                problems.append(f"{at}: no non-zero runAsUser")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation not false")
            if csc.get("privileged"):
                problems.append(f"{at}: privileged")
            if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{at}: capabilities not dropped")
            if csc.get("capabilities", {}).get("add"):
                problems.append(f"{at}: capabilities added")
            seccomp = csc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
            if seccomp != "RuntimeDefault":
                problems.append(f"{at}: seccomp {seccomp}")
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: root filesystem writable")
            if not any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])):
                problems.append(f"{at}: no writable /tmp for a read-only root")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_containers_have_probes_limits_and_pinned_images(scenario: str) -> None:
    problems: list[str] = []
    for where, pod in _pod_specs(_docs(scenario)):
        for c in pod["containers"]:
            at = f"{where}/{c['name']}"
            for kind in ("requests", "limits"):
                if set(c.get("resources", {}).get(kind, {})) != {"cpu", "memory"}:
                    problems.append(f"{at}: resources.{kind} must set cpu and memory")
            image = c["image"]
            if image.endswith(":latest") or (
                ":" not in image.rsplit("/", 1)[-1] and "@" not in image
            ):
                problems.append(f"{at}: image {image} not pinned")
            if where.startswith("Job/"):
                continue  # one-shot bootstrap: success is the exit code, not a probe
            for probe, path in (
                ("livenessProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
                ("startupProbe", "/healthz"),
            ):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    problems.append(f"{at}: {probe} path {got}, want {path}")
    assert not problems, "\n".join(problems)


def test_secrets_come_only_from_secrets_and_only_where_needed() -> None:
    docs = _docs("default")
    for where, pod in _pod_specs(docs):
        for c in pod["containers"]:
            env = _env(c)
            ref = env["SYNCLINE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "syncline-database", "key": "url"}, where
            keys = env.get("SYNCLINE_ENCRYPTION_KEYS")
            # Only the status API seals and opens stored connection secrets.
            needs_keys = where.endswith("status-api")
            assert (keys is not None) == needs_keys, where
            if keys is not None:
                assert "value" not in keys
                assert keys["valueFrom"]["secretKeyRef"]["name"] == "syncline-encryption"
            assert env["SYNCLINE_KAFKA_BOOTSTRAP"]["value"] == "kafka-bootstrap.kafka.svc:9092"


def _policy_for(docs: tuple[Doc, ...], component: str) -> Doc:
    return next(
        d
        for d in docs
        if d["kind"] == "NetworkPolicy"
        and d["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
    )


def _egress_ports(policy: Doc) -> set[int]:
    return {p["port"] for rule in policy["spec"].get("egress", []) for p in rule["ports"]}


def test_network_policies_allow_only_what_each_service_needs() -> None:
    docs = _docs("default")
    for component in (*SERVICES, "migrate", "topics"):
        policy = _policy_for(docs, component)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"], component
    # Graph, EWS and Salesforce are reached only by the connectors and the connection test.
    assert _egress_ports(_policy_for(docs, "reconciler")) == {53, 9092, 5432}
    for component in ("exchange-connector", "salesforce-connector", "status-api"):
        assert _egress_ports(_policy_for(docs, component)) == {53, 9092, 5432, 443}
    assert _egress_ports(_policy_for(docs, "migrate")) == {53, 5432}
    assert _egress_ports(_policy_for(docs, "topics")) == {53, 9092}
    # Ingress: the metrics port for the scraper; only the status API serves clients.
    for component in CONSUMERS:
        rules = _policy_for(docs, component)["spec"]["ingress"]
        assert all(r.get("from") for r in rules), component
        assert {p["port"] for r in rules for p in r["ports"]} == {9000}
    assert _policy_for(docs, "migrate")["spec"]["ingress"] == []
    api_rules = _policy_for(docs, "status-api")["spec"]["ingress"]
    assert any("from" not in r and r["ports"][0]["port"] == 8080 for r in api_rules)


def test_bootstrap_jobs_are_ordered_idempotent_hooks() -> None:
    docs = _docs("default")
    hooks = {
        f"{d['kind']}/{d['metadata']['name']}": d["metadata"].get("annotations", {})
        for d in docs
        if "helm.sh/hook" in d["metadata"].get("annotations", {})
    }
    weight = {name: int(a["helm.sh/hook-weight"]) for name, a in hooks.items()}
    assert set(hooks) == {
        "Job/syncline-migrate",
        "Job/syncline-topics",
        "NetworkPolicy/syncline-migrate",
        "NetworkPolicy/syncline-topics",
    }
    for hook in hooks.values():
        assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in hook["helm.sh/hook-delete-policy"]
    # Their NetworkPolicies exist before the Jobs; the schema exists before topics are used.
    assert weight["NetworkPolicy/syncline-migrate"] < weight["Job/syncline-migrate"]
    assert weight["Job/syncline-migrate"] < weight["Job/syncline-topics"]
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    for name, args in (("syncline-migrate", ["migrate"]), ("syncline-topics", ["topics"])):
        spec = jobs[name]["spec"]
        container = spec["template"]["spec"]["containers"][0]
        assert container["args"] == args
        assert container["image"] == "ghcr.io/syncline/syncline-cli:0.1.0"
        assert spec["template"]["spec"]["restartPolicy"] == "Never"
        assert spec["backoffLimit"] >= 1
        assert spec["activeDeadlineSeconds"] > 0


def test_consumers_shut_down_gracefully_and_roll_without_surge() -> None:
    docs = _docs("default")
    for component in CONSUMERS:
        deployment = _deployment(docs, f"syncline-{component}")
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


def _replicas(docs: tuple[Doc, ...]) -> dict[str, int | None]:
    return {
        d["metadata"]["name"]: d["spec"].get("replicas") for d in docs if d["kind"] == "Deployment"
    }


def test_shared_release_runs_connectors_per_tenant_sized_by_hints() -> None:
    docs = _docs("shared-with-tenant-hints")
    # acme ceil(1800/500)=4; globex ceil(7000/500)=14 capped at 12 partitions; initech explicit
    # 2; reconciler ceil(9400/2000)=5; one Salesforce poller per org; the status API has its HPA.
    assert _replicas(docs) == {
        "syncline-exchange-acme": 4,
        "syncline-exchange-globex": 12,
        "syncline-exchange-initech": 2,
        "syncline-salesforce-acme": 1,
        "syncline-salesforce-globex": 1,
        "syncline-salesforce-initech": 1,
        "syncline-reconciler": 5,
        "syncline-status-api": None,
    }
    for tenant in ("acme", "globex", "initech"):
        for side, tenant_env, group_env in (
            ("exchange", "SYNCLINE_EXCHANGE_TENANT", "SYNCLINE_EXCHANGE_GROUP_ID"),
            ("salesforce", "SYNCLINE_SALESFORCE_TENANT", "SYNCLINE_SALESFORCE_CONSUMER_GROUP"),
        ):
            deployment = _deployment(docs, f"syncline-{side}-{tenant}")
            pod = deployment["spec"]["template"]["spec"]
            container = pod["containers"][0]
            env = _env(container)
            assert env[tenant_env]["value"] == tenant
            # Its own consumer group: a connector ignores other tenants' commands, so sharing a
            # group would drop the commands on partitions another tenant's connector owns.
            assert env[group_env]["value"] == f"syncline-{side}-connector-{tenant}"
            secret = f"syncline-{tenant}-{side}"
            assert container["envFrom"] == [{"secretRef": {"name": secret}}]
            assert {
                "name": "credentials",
                "secret": {"secretName": secret, "defaultMode": 0o440},
            } in pod["volumes"]
            # Selectors tell one tenant's pods from another's.
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert selector["syncline.dev/tenant"] == tenant
            policy = next(
                d
                for d in docs
                if d["kind"] == "NetworkPolicy"
                and d["spec"]["podSelector"]["matchLabels"] == selector
            )
            assert _egress_ports(policy) == {53, 9092, 5432, 443}
    keda = {
        d["metadata"]["name"]: d["spec"]
        for d in _docs("shared-keda")
        if d["kind"] == "ScaledObject"
    }
    assert set(keda) == {
        "syncline-reconciler",
        "syncline-exchange-acme",
        "syncline-exchange-globex",
        "syncline-exchange-initech",
    }
    groups = {s["triggers"][0]["metadata"]["consumerGroup"] for s in keda.values()}
    assert "syncline-exchange-connector-globex" in groups


def test_per_tenant_release_is_named_labelled_and_sized_for_its_tenant() -> None:
    docs = _docs("per-tenant-release")
    for doc in docs:
        assert doc["metadata"]["name"].startswith("syncline-acme"), doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["syncline.dev/tenant"] == "acme"
    # 1,800 mailboxes in 6 partitions: exchange ceil(1800/500)=4, reconciler 1, salesforce 1.
    assert _replicas(docs) == {
        "syncline-acme-reconciler": 1,
        "syncline-acme-exchange-connector": 4,
        "syncline-acme-salesforce-connector": 1,
        "syncline-acme-status-api": None,
    }
    exchange = _deployment(docs, "syncline-acme-exchange-connector")["spec"]["template"]["spec"]
    assert _env(exchange["containers"][0])["SYNCLINE_EXCHANGE_TENANT"]["value"] == "acme"
    assert exchange["containers"][0]["envFrom"] == [{"secretRef": {"name": "syncline-exchange"}}]
    keda_docs = _docs("per-tenant-keda")
    keda = [d for d in keda_docs if d["kind"] == "ScaledObject"]
    assert {d["spec"]["maxReplicaCount"] for d in keda} == {6}
    # KEDA owns those replica counts, so the Deployments leave them unset (no fight on upgrade).
    assert _replicas(keda_docs) == {
        "syncline-acme-reconciler": None,
        "syncline-acme-exchange-connector": None,
        "syncline-acme-salesforce-connector": 1,
        "syncline-acme-status-api": None,
    }


def test_names_fit_kubernetes_limits_with_long_release_and_tenant_names() -> None:
    tenant = "t" * 20
    sets = [
        f"tenants[0].name={tenant}",
        "tenants[0].mailboxes=10",
        "tenants[0].exchangeSecret=e",
        "tenants[0].salesforceSecret=s",
        "keda.enabled=true",
        "metrics.serviceMonitor.enabled=true",
    ]
    docs = helm_template(sets=sets, release="r" * 53)
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 63, name
        assert all(len(str(v)) <= 63 for v in doc["metadata"]["labels"].values()), name
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Service"]
    assert len(names) == len(set(names)) == 4


def test_conflicting_or_oversized_tenant_settings_are_refused() -> None:
    with pytest.raises(RenderError, match="not both"):
        helm_template(
            sets=[
                "tenant=acme",
                "tenants[0].name=acme",
                "tenants[0].mailboxes=1",
                "tenants[0].exchangeSecret=e",
                "tenants[0].salesforceSecret=s",
            ]
        )
    with pytest.raises(RenderError, match=r"exchange-connector-globex replicas=13 exceeds"):
        helm_template("values-shared-example.yaml", sets=["tenants[1].exchangeReplicas=13"])


def test_explicit_replicas_beyond_the_partitions_are_refused() -> None:
    with pytest.raises(RenderError, match=r"exceeds kafka\.topicPartitions=12"):
        helm_template(sets=["exchangeConnector.replicas=13"])
    docs = tuple(helm_template(sets=["exchangeConnector.replicas=12"]))
    assert _replicas(docs)["syncline-exchange-connector"] == 12


def test_keda_caps_replicas_at_the_partitions() -> None:
    docs = tuple(
        helm_template(sets=["keda.enabled=true", "keda.maxReplicas=50", "kafka.topicPartitions=8"])
    )
    scaled = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "ScaledObject"}
    assert {s["maxReplicaCount"] for s in scaled.values()} == {8}
    trigger = scaled["syncline-exchange-connector"]["triggers"][0]["metadata"]
    assert trigger["consumerGroup"] == "syncline-exchange-connector"
    assert trigger["topic"] == "syncline.commands.exchange"


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("kafka.topicPartitions=twelve", "topicPartitions"),
        ("tenants[0].name=acme", "mailboxes"),
        ("reconciler.replica=3", "replica"),
        ("tenant=Acme_Corp", "tenant"),
        ("image.digest=latest", "digest"),
    ],
)
def test_values_schema_rejects_mistakes(override: str, complaint: str) -> None:
    with pytest.raises(RenderError, match=complaint):
        helm_template(sets=[override])
