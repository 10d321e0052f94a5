"""Policy tests of the rendered overlays (deploy/kubernetes/overlays/*).

Run by scripts/k8s-check.sh; each test runs on every overlay.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import k8spolicy as kp
from conftest import OVERLAYS

CNPG_OVERLAYS = ("prod-cnpg",)

HA_OVERLAYS = ("mini", "prod", "kraft", "prod-cnpg")
REPO = kp.REPO


def read(path):
    with open(os.path.join(REPO, path)) as f:
        return f.read()


def versions():
    return kp.parse_env(read("versions.env"))


def workload(docs, kind, name):
    for w in kp.workloads(docs):
        if w.kind == kind and w.name == name:
            return w
    return None


def postgres(docs):
    """The PostgreSQL cluster: a Kubegres resource or a CloudNativePG Cluster."""
    return workload(docs, "Kubegres", "postgres-events") or workload(docs, "Cluster", "postgres-events")


def by_app(docs, app):
    return next((w for w in kp.workloads(docs) if w.labels.get("app") == app), None)


def env_file_for(overlay, component):
    return f"config/{component}/{'single' if overlay == 'single' else 'ha'}.env"


@pytest.fixture(params=OVERLAYS)
def overlay(request):
    return request.param


@pytest.fixture
def docs(rendered, overlay):
    return rendered[overlay]


# --------------------------------------------------------------------------
# generic policies
# --------------------------------------------------------------------------
def test_pdb_selectors_match_pods(docs):
    assert kp.check_pdbs(docs) == []


def test_anti_affinity_selectors_match_own_pods(docs):
    assert kp.check_anti_affinity(docs) == []


def test_containers_probes_resources_pinned_images_no_plaintext_secrets(docs):
    assert kp.check_containers(docs) == []


def test_services_select_pods_and_ports(docs):
    assert kp.check_services(docs) == []


def test_service_accounts_own_and_without_api_rights(docs):
    assert kp.check_service_accounts(docs) == []


def test_network_policies(docs):
    assert kp.check_network_policies(docs) == []


def test_graceful_shutdown_covers_a_flush(docs):
    assert kp.check_graceful_shutdown(docs) == []


def test_prometheus_annotations_and_health_endpoints(docs):
    assert kp.check_prometheus(docs) == []


def test_every_secret_reference_is_created_by_the_generator(docs):
    mongo = workload(docs, "StatefulSet", "mongo-events")
    generated = kp.generated_secrets(members=mongo.replicas)
    assert kp.check_secret_refs(docs, generated) == []


def test_component_labels_for_the_staged_install(docs):
    known = {"namespace", "tls", "zookeeper", "kafka", "topics", "mongodb", "postgres", "services", "monitoring"}
    for d in docs:
        got = d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        assert got in known, f"{kp.name_of(d)}: app.kubernetes.io/component={got}"


def test_namespace(docs):
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {"kafka"}
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == ["kafka"]


# --------------------------------------------------------------------------
# replica counts: the table in docs/kubernetes.md
# --------------------------------------------------------------------------
def documented_replicas():
    text = read("docs/kubernetes.md")
    block = text.split("<!-- replicas:begin -->")[1].split("<!-- replicas:end -->")[0]
    rows = [r.strip().strip("|").split("|") for r in block.strip().splitlines() if r.startswith("|")]
    header = [c.strip() for c in rows[0]]
    table = {}
    for r in rows[2:]:
        cells = [c.strip() for c in r]
        kind, name = cells[1].strip("`").split()
        table[(kind, name)] = {header[i]: cells[i] for i in range(2, len(cells))}
    return table


def test_replica_counts_as_documented(docs, overlay):
    table = documented_replicas()
    present = {(w.kind, w.name): w.replicas for w in kp.workloads(docs) if w.kind in kp.LONG_RUNNING}
    for (kind, name), per_overlay in table.items():
        want = per_overlay[overlay]
        if want in ("-", "–", "—"):
            assert (kind, name) not in present, f"{kind}/{name} should not exist in {overlay}"
        else:
            assert present.get((kind, name)) == int(want), f"{kind}/{name} in {overlay}"
    undocumented = set(present) - set(table)
    assert not undocumented, f"not in the docs/kubernetes.md replica table: {undocumented}"


def test_ha_shape(docs, overlay):
    if overlay not in HA_OVERLAYS:
        pytest.skip("single is the one-of-everything overlay")
    for kind, name in (("StatefulSet", "kafka"), ("StatefulSet", "mongo-events")):
        assert workload(docs, kind, name).replicas >= 3, name
    assert postgres(docs).replicas >= 3
    zk = workload(docs, "StatefulSet", "zookeeper")
    if overlay == "kraft":
        assert zk is None
    else:
        assert zk.replicas == 3
    assert workload(docs, "Deployment", "ces-api").replicas >= 2
    assert workload(docs, "Deployment", "ces-produce").replicas == 1


def test_replica_counts_agree_with_the_configuration(docs):
    kafka = workload(docs, "StatefulSet", "kafka")
    assert int(kp.parse_env(kp.configmap(docs, "kafka-config")["kafka.env"])["KAFKA_REPLICAS"]) == kafka.replicas
    zk = workload(docs, "StatefulSet", "zookeeper")
    if zk:
        assert int(kp.parse_env(kp.configmap(docs, "zookeeper-config")["zookeeper.env"])["ZK_REPLICAS"]) == zk.replicas
    mongo = workload(docs, "StatefulSet", "mongo-events")
    assert int(kp.configmap(docs, "mongo-events-config")["MONGO_REPLICAS"]) == mongo.replicas
    # one external NodePort service per broker, nodePort = base + ordinal
    base = int(kp.configmap(docs, "kafka-environment")["KAFKA_EXTERNAL_PORT_BASE"])
    external = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-external")}
    assert sorted(external) == [f"kafka-{i}-external" for i in range(kafka.replicas)]
    for i in range(kafka.replicas):
        assert external[f"kafka-{i}-external"]["spec"]["ports"][0]["nodePort"] == base + i
    # produce: one active pod per node set
    produce = workload(docs, "Deployment", "ces-produce")
    assert produce.replicas == 1 and produce.obj["spec"]["strategy"]["type"] == "Recreate"


# --------------------------------------------------------------------------
# Kafka and ZooKeeper: the local stack's templates are the source of truth
# --------------------------------------------------------------------------
def test_configmaps_carry_the_local_stack_templates(docs, overlay):
    kafka = kp.configmap(docs, "kafka-config")
    assert kafka["server.properties.tmpl"] == read("config/kafka/server.properties.tmpl"), \
        "run deploy/kubernetes/sync-config.sh"
    assert kafka["kafka.env"] == read(env_file_for(overlay, "kafka")), "run deploy/kubernetes/sync-config.sh"
    zk = kp.configmap(docs, "zookeeper-config")
    if overlay == "kraft":
        assert zk is None
        return
    assert zk["zoo.cfg.tmpl"] == read("config/zookeeper/zoo.cfg.tmpl"), "run deploy/kubernetes/sync-config.sh"
    assert zk["zookeeper.env"] == read(env_file_for(overlay, "zookeeper")), "run deploy/kubernetes/sync-config.sh"


def test_kubernetes_overrides_touch_only_the_listener_layout_and_security(docs):
    cm = kp.configmap(docs, "kafka-config")
    for name in ("kubernetes.properties", "security.properties", "controller.properties"):
        if name not in cm:
            continue
        props = kp.parse_properties(cm[name])
        other = {k for k in props if k not in kp.KAFKA_OVERRIDE_KEYS and not k.startswith(kp.KAFKA_SECURITY_PREFIXES)}
        assert not other, f"{name}: {other}"


def rendered_brokers(docs):
    kafka = workload(docs, "StatefulSet", "kafka")
    return [kp.parse_properties(kp.render_with_start_script(docs, "kafka-broker", i)) for i in range(kafka.replicas)]


def test_kafka_ha_settings(docs, overlay):
    kafka = workload(docs, "StatefulSet", "kafka")
    for i, props in enumerate(rendered_brokers(docs)):
        assert kp.check_kafka_properties(props, kafka.replicas, ha=overlay in HA_OVERLAYS) == [], f"broker {i}"
        assert props["broker.id"] == str(i)
        assert props["advertised.listeners"].startswith(f"CLIENT://kafka-{i}.kafka-headless.kafka.svc.cluster.local:9092,")
        assert kp.check_kafka_security(props) == [], f"broker {i}"
        if overlay == "kraft":
            assert props["process.roles"] == "broker" and props["node.id"] == str(i)
            assert "controller.quorum.voters" not in props, "a dynamic quorum (KIP-853), no static voter list"
            ctl = workload(docs, "StatefulSet", "kafka-controller")
            assert len(props["controller.quorum.bootstrap.servers"].split(",")) == ctl.replicas == 3
            assert not any(k.startswith("zookeeper.") for k in props)
        else:
            assert props["zookeeper.connect"] == "zookeeper-client.kafka.svc.cluster.local:2182/kafka", "the TLS port"


def test_kafka_settings_equal_the_local_stack(docs, overlay):
    env = env_file_for(overlay, "kafka")
    local = kp.parse_properties(kp.render_template(
        os.path.join(REPO, "config/kafka/server.properties.tmpl"), os.path.join(REPO, env),
        {"KAFKA_BROKER_ID": "0", "KAFKA_LISTEN_HOST": "127.0.0.1", "KAFKA_PORT": "20092",
         "KAFKA_ADVERTISED_HOST": "127.0.0.1", "KAFKA_ZOOKEEPER_CONNECT": "127.0.0.1:20181/kafka",
         "KAFKA_LOG_DIRS": "/tmp/kafka-0"}))
    k8s = rendered_brokers(docs)[0]
    skip = kp.KAFKA_INSTANCE_KEYS | kp.KAFKA_OVERRIDE_KEYS | {k for k in local if k.startswith("zookeeper.") and overlay == "kraft"}
    skip |= {k for k in set(local) | set(k8s) if k.startswith(kp.KAFKA_SECURITY_PREFIXES)}
    for key in sorted(set(local) | set(k8s)):
        if key in skip:
            continue
        assert k8s.get(key) == local.get(key), f"{key}: kubernetes {k8s.get(key)} vs local stack {local.get(key)}"


def test_kafka_data_on_the_persistent_volume(docs):
    kafka = workload(docs, "StatefulSet", "kafka")
    claim = kafka.obj["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mount = next(m["mountPath"] for m in kafka.containers(init=False)[0]["volumeMounts"] if m["name"] == claim)
    start = kp.configmap(docs, "kafka-config")["start.sh"]
    default = re.search(r"data=\$\{KAFKA_DATA_DIR:-([^}]+)\}", start).group(1)
    assert mount == default, "the PVC must be mounted where start.sh puts log.dirs"
    props = rendered_brokers(docs)[0]
    assert "/data/logs" in props["log.dirs"]


def test_zookeeper_quorum_from_the_replica_count(docs, overlay):
    zk = workload(docs, "StatefulSet", "zookeeper")
    if zk is None:
        pytest.skip("no ZooKeeper in KRaft mode")
    for i in range(zk.replicas):
        cfg = kp.parse_properties(kp.render_with_start_script(docs, "zookeeper", i))
        assert kp.check_zoo_cfg(cfg, zk.replicas) == [], f"member {i}"
        local = kp.parse_properties(kp.render_template(
            os.path.join(REPO, "config/zookeeper/zoo.cfg.tmpl"), os.path.join(REPO, env_file_for(overlay, "zookeeper")),
            {"ZK_DATA_DIR": "/tmp/zk", "ZK_CLIENT_PORT": "20181", "ZK_CLIENT_ADDRESS": "127.0.0.1", "ZK_SERVERS": ""}))
        for key in sorted(set(local) | set(cfg)):
            if key.startswith(("server.",) + kp.ZOO_TLS_KEYS) or key in ("dataDir", "dataLogDir", "clientPort",
                                                                         "clientPortAddress"):
                continue
            assert cfg.get(key) == local.get(key), f"{key}: kubernetes {cfg.get(key)} vs local stack {local.get(key)}"
        for n in range(1, zk.replicas + 1 if zk.replicas > 1 else 1):
            assert cfg[f"server.{n}"] == f"zookeeper-{n - 1}.zookeeper-service.kafka.svc.cluster.local:2888:3888"


def test_images_follow_versions_env(docs, overlay):
    v = versions()
    kafka_images = {c["image"] for w in kp.workloads(docs) for c in (w.containers() if w.spec else [])
                    if c["image"].startswith("apache/kafka:")}
    if overlay == "kraft":
        assert len(kafka_images) == 1 and int(kafka_images.pop().split(":")[1].split(".")[0]) >= 4
    else:
        assert kafka_images == {f"apache/kafka:{v['KAFKA_VERSION']}"}
    pg = postgres(docs).obj["spec"].get("image") or postgres(docs).obj["spec"]["imageName"]
    assert pg.split(":")[1].split(".")[0] == v["POSTGRES_MAJOR"], "PostgreSQL major of the local stack and the tests"


def project_version():
    """The project's version: project(... VERSION x.y.z) in CMakeLists.txt, its only source."""
    m = re.search(r"^project\([^)]*\bVERSION\s+(\d+\.\d+\.\d+)", read("CMakeLists.txt"), re.M)
    assert m, "CMakeLists.txt: project(... VERSION x.y.z)"
    return m.group(1)


def test_service_image_is_the_project_version(docs):
    images = {c["image"] for w in kp.workloads(docs) for c in (w.containers() if w.spec else [])
              if c["image"].split(":")[0].endswith("casper-event-store")}
    assert images == {f"casper-event-store:{project_version()}"}


def test_documented_image_tags_are_the_project_version():
    for path in ("Dockerfile", "docs/kubernetes.md"):
        tags = set(re.findall(r"casper-event-store:(\d[\w.-]*)", read(path)))
        assert tags == {project_version()}, f"{path}: image tags {sorted(tags)}"


# --------------------------------------------------------------------------
# topics
# --------------------------------------------------------------------------
def test_topics_job_settings(docs, overlay):
    topics = kp.configmap(docs, "ces-topics")
    broker = rendered_brokers(docs)[0]
    assert topics["CES_REPLICATION_FACTOR"] == broker["default.replication.factor"]
    assert topics["CES_MIN_INSYNC_REPLICAS"] == broker["min.insync.replicas"]
    if overlay in HA_OVERLAYS:
        assert (topics["CES_REPLICATION_FACTOR"], topics["CES_MIN_INSYNC_REPLICAS"]) == ("3", "2")
    assert int(topics["TOPIC_MAX_MESSAGE_BYTES"]) >= 32 * kp.MIB + kp.MIB
    header = os.path.join(REPO, "src/kafka/include/ces/kafka/client.hpp")
    if os.path.exists(header):
        m = re.search(r"kMaxRecordBytes\s*=\s*(\d+)u?\s*\*\s*(\d+)u?\s*\*\s*(\d+)u?", read(header))
        if m:
            record = int(m.group(1)) * int(m.group(2)) * int(m.group(3))
            assert int(topics["TOPIC_MAX_MESSAGE_BYTES"]) == record + kp.MIB, "same as the producer's topic creation"
    script = kp.configmap(docs, "kafka-setup-scripts")["create-topics.sh"]
    for t in ("main", "deploys", "sigs", "chain", "producer-positions", "dead-letter", "ingest-gaps", "backfill-checkpoints"):
        assert re.search(rf"^ensure {t} ", script, re.M), t
    assert "--if-not-exists" in script
    assert re.search(r"^ensure producer-positions 1 \"cleanup.policy=compact\"", script, re.M)
    job = workload(docs, "Deployment", "kafka-setup")
    refs = {ef["configMapRef"]["name"] for ef in job.containers()[0]["envFrom"]}
    produce = workload(docs, "Deployment", "ces-produce")
    assert {kp.base_name(r) for r in refs} <= {kp.base_name(ef["configMapRef"]["name"]) for ef in produce.containers()[0]["envFrom"]}, \
        "the producer and the Job read the same topic settings"


# --------------------------------------------------------------------------
# MongoDB
# --------------------------------------------------------------------------
def test_mongodb_replica_set(docs):
    mongo = workload(docs, "StatefulSet", "mongo-events")
    mongod = next(c for c in mongo.containers(init=False) if c["name"] == "mongod")
    assert "--keyFile=/keyfile/keyfile" in mongod["command"] and any(a.startswith("--replSet=") for a in mongod["command"])
    init = mongo.spec["initContainers"][0]
    assert "install -m 0400" in " ".join(init["command"])
    script = kp.configmap(docs, "mongo-events-scripts")["replset.js"]
    assert "replSetInitiate" in script and "arbiterOnly" not in script and "addArb" not in script
    assert "setDefaultRWConcern" in script and "votes: 0" in script
    secrets = kp.generated_secrets(members=mongo.replicas)
    for key in ("audit", "api"):
        uri = secrets["mongo-events-uris"][key]
        assert "w=majority" in uri and "replicaSet=rs0" in uri, key
        hosts = uri.split("@", 1)[1].split("/", 1)[0].split(",")
        assert len(hosts) == mongo.replicas


# --------------------------------------------------------------------------
# PostgreSQL (Kubegres)
# --------------------------------------------------------------------------
def test_one_postgres_operator(docs, overlay):
    pg = [(w.kind, w.name) for w in kp.workloads(docs) if w.kind in ("Kubegres", "Cluster")]
    assert pg == [("Cluster" if overlay in CNPG_OVERLAYS else "Kubegres", "postgres-events")]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    if overlay in CNPG_OVERLAYS:
        leftovers = {n for n in names if n[0] in ("CronJob", "ConfigMap", "ServiceAccount", "Deployment")
                     and n[1].startswith(("postgres-events-pgbackrest", "postgres-events-conf", "postgres-exporter", "postgres-backup"))}
        assert not leftovers and ("ServiceAccount", "postgres-events") not in names, \
            f"Kubegres objects left in a CloudNativePG overlay: {leftovers}"


def test_kubegres(docs, overlay):
    if overlay in CNPG_OVERLAYS:
        pytest.skip("PostgreSQL through CloudNativePG")
    kg = workload(docs, "Kubegres", "postgres-events").obj["spec"]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("ConfigMap", kg["customConfig"]) in names, "customConfig names a rendered ConfigMap"
    env = {e["name"]: e for e in kg["env"]}
    for name in ("POSTGRES_PASSWORD", "POSTGRES_REPLICATION_PASSWORD"):
        assert "secretKeyRef" in env[name]["valueFrom"]
    conf = kp.parse_properties(kp.configmap(docs, "postgres-events-conf")["postgres.conf"])
    ha = kp.parse_env(read("config/postgres/ha.env"))
    assert conf["wal_level"] == "replica" and conf["hot_standby"] == "on"
    assert int(conf["max_wal_senders"]) >= int(ha["PG_MAX_WAL_SENDERS"])
    assert conf["synchronous_commit"] == ha["PG_SYNCHRONOUS_COMMIT"]
    assert conf["synchronous_standby_names"].strip("'") == ha["PG_SYNCHRONOUS_STANDBY_NAMES"]
    to_mb = lambda s: int(s[:-2]) * (1024 if s.endswith("GB") else 1)  # noqa: E731
    assert to_mb(conf["wal_keep_size"]) >= to_mb(ha["PG_WAL_KEEP_SIZE"])
    # services reach PostgreSQL through the primary service (api also reads replicas)
    store = kp.configmap(docs, "ces-store-consume-config")["CES_POSTGRES"]
    api = kp.configmap(docs, "ces-api-config")
    assert "@postgres-events:5432/" in store and "@postgres-events:5432/" in api["CES_POSTGRES"]
    assert "@postgres-events-replica:5432/" in api["CES_POSTGRES_READ"]
    # TLS only, continuous WAL archiving with pgBackRest
    assert conf["ssl"] == "on" and "pgbackrest" in conf["archive_command"] and conf["archive_mode"] == "on"
    assert kp.check_pg_hba(kp.configmap(docs, "postgres-events-conf")["pg_hba.conf"]) == []
    assert kg["serviceAccountName"] and ("ServiceAccount", kg["serviceAccountName"]) in names
    assert kg["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert kg["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert "ALL" in kg["containerSecurityContext"]["capabilities"]["drop"]
    assert ("CronJob", "postgres-events-pgbackrest") in names
    assert "backup" not in kg, "pg_dumpall backups replaced by pgBackRest"


# --------------------------------------------------------------------------
# PostgreSQL (CloudNativePG, issue 16)
# --------------------------------------------------------------------------
def test_cnpg(docs, overlay):
    if overlay not in CNPG_OVERLAYS:
        pytest.skip("PostgreSQL through Kubegres")
    assert kp.check_cnpg(docs) == []
    assert kp.check_cnpg_network(docs) == []
    cluster = workload(docs, "Cluster", "postgres-events").obj["spec"]
    # the services keep their passwords (postgres-secret); the operator's
    # basic-auth copies name the same roles
    store = workload(docs, "Deployment", "ces-store-consume")
    env = {e["name"]: e for e in store.containers(init=False)[0]["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "postgres-secret", "key": "storePassword"}
    secrets = kp.generated_secrets()
    initdb = cluster["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"]) == ("casper", "ces_store")
    assert secrets[initdb["secret"]["name"]]["username"] == "ces_store"
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert secrets[roles["ces_api"]["passwordSecret"]["name"]]["username"] == "ces_api"
    assert any("GRANT SELECT ON TABLES TO ces_api" in q for q in initdb["postInitApplicationSQL"]), "ces_api reads the tables"
    # prod's memory settings, the same major version as the local stack
    prod = kp.parse_properties(read("deploy/kubernetes/overlays/prod/postgres.conf"))
    params = cluster["postgresql"]["parameters"]
    for k in ("shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size", "max_connections", "wal_keep_size"):
        assert params[k] == prod[k], k
    assert cluster["resources"] == {"requests": {"cpu": "2", "memory": "16Gi"}, "limits": {"memory": "16Gi"}}
    # the PodMonitor's metrics keep postgres-exporter's names: the rules and dashboards apply
    renamed = set()
    for r in cluster["monitoring"]["podMonitorMetricRelabelings"]:
        for name in (n for n in kp.exporter_metrics() if n.startswith("cnpg_")):
            m = re.fullmatch(r["regex"], name)
            if m and r["sourceLabels"] == ["__name__"] and r["targetLabel"] == "__name__":
                renamed.add(m.expand(re.sub(r"\$\{(\d+)\}", r"\\g<\1>", r["replacement"])))
    exprs = kp.rule_exprs(docs) + [e for name, text in kp.configmap(docs, "ces-grafana-dashboards").items()
                                   for e in kp.dashboard_exprs(json.loads(text), name)]
    used = {n for _, e in exprs for n in kp.metric_names(e) if n.startswith("pg_")}
    assert used <= renamed, f"alert rules or panels on metrics the instances do not export: {used - renamed}"
    # the server certificate names the operator's services
    cert = next(d for d in docs if d["kind"] == "Certificate" and d["spec"]["secretName"] == cluster["certificates"]["serverTLSSecret"])
    for svc in ("rw", "ro", "r"):
        assert f"postgres-events-{svc}" in cert["spec"]["dnsNames"] and f"postgres-events-{svc}.kafka.svc" in cert["spec"]["dnsNames"]


def documented_cnpg_patches():
    """The kustomize patches the CloudNativePG section of docs/kubernetes.md
    gives (import from Kubegres, point-in-time recovery)."""
    text = read("docs/kubernetes.md").split("## PostgreSQL: Kubegres or CloudNativePG")[1]
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", text, re.M | re.S)
    return [re.sub(rf"^{indent}", "", b, flags=re.M) for indent, b in blocks if b.lstrip().startswith("- target:")]


@pytest.mark.parametrize("what", ["import", "recovery"])
def test_documented_cnpg_patches_render_and_validate(what):
    patch = next(p for p in documented_cnpg_patches() if f"/spec/bootstrap/initdb/{what}" in p or f"{what}:" in p)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                    f"  - {os.path.relpath(os.path.join(REPO, 'deploy/kubernetes/overlays/prod-cnpg'), tmp)}\npatches:\n")
            f.write("".join(f"  {line}\n" for line in patch.splitlines()))
        r = subprocess.run([os.environ.get("KUSTOMIZE", "kustomize"), "build", tmp], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        if os.environ.get("KUBECONFORM") and os.environ.get("K8S_SCHEMA_LOCATION"):
            v = subprocess.run([os.environ["KUBECONFORM"], "-strict", "-summary", "-output", "text", "-schema-location",
                                os.environ["K8S_SCHEMA_LOCATION"], "-"], input=r.stdout, capture_output=True, text=True)
            assert v.returncode == 0, v.stdout + v.stderr
    docs = kp.load(r.stdout)
    assert kp.check_cnpg(docs) == []
    cluster = workload(docs, "Cluster", "postgres-events").obj["spec"]
    sources = {c["name"] for c in cluster["externalClusters"]}
    if what == "import":
        imp = cluster["bootstrap"]["initdb"]["import"]
        assert imp["source"]["externalCluster"] in sources and imp["databases"] == ["casper"]
        assert "postInitApplicationSQL" not in cluster["bootstrap"]["initdb"]
        assert any("ON ALL TABLES" in q for q in imp["postImportApplicationSQL"]), "ces_api reads the imported tables"
    else:
        rec = cluster["bootstrap"]["recovery"]
        assert rec["source"] in sources and rec["recoveryTarget"]["targetTime"]
        origin = next(c for c in cluster["externalClusters"] if c["name"] == rec["source"])["plugin"]["parameters"]
        own = cluster["plugins"][0]["parameters"]
        assert own.get("serverName", "postgres-events") != origin.get("serverName", "postgres-events"), \
            "the restored cluster archives where it restores from"


def test_prod_postgres_conf_differs_only_in_memory():
    base = kp.parse_properties(read("deploy/kubernetes/base/postgres/files/postgres.conf"))
    prod = kp.parse_properties(read("deploy/kubernetes/overlays/prod/postgres.conf"))
    memory = {"shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size", "max_connections"}
    assert set(base) == set(prod)
    assert {k for k in base if base[k] != prod[k]} <= memory


# --------------------------------------------------------------------------
# scripts and image
# --------------------------------------------------------------------------
def test_scripts_parse(docs):
    with tempfile.TemporaryDirectory() as tmp:
        for d in docs:
            if d["kind"] != "ConfigMap":
                continue
            for k, v in (d.get("data") or {}).items():
                path = os.path.join(tmp, k)
                with open(path, "w") as f:
                    f.write(v)
                if k.endswith(".sh"):
                    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
                    assert r.returncode == 0, f"{d['metadata']['name']}/{k}: {r.stderr}"
                elif k.endswith(".js") and shutil.which("node"):
                    r = subprocess.run(["node", "--check", path], capture_output=True, text=True)
                    assert r.returncode == 0, f"{d['metadata']['name']}/{k}: {r.stderr}"


def test_secrets_generator_script():
    for f in ("deploy/kubernetes/secrets.sh", "deploy/kubernetes/sync-config.sh", "scripts/k8s-check.sh"):
        r = subprocess.run(["bash", "-n", os.path.join(REPO, f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    a, b = kp.generated_secrets(), kp.generated_secrets()
    assert a["postgres-secret"]["superUserPassword"] != b["postgres-secret"]["superUserPassword"], "random passwords"
    assert 6 <= len(a["mongo-events-keyfile"]["keyfile"]) <= 1024


def test_dockerfile():
    text = read("Dockerfile")
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage"
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    for f in froms:
        image = f.split()[1]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
        if image in ("go", "build"):
            continue
        assert kp.image_pinned(image), f"{f}: unpinned base image {image}"
    user = [line for line in instructions if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("root", "0")), "runs as a non-root user"
    assert "make setup && make build" in text, "the README's build: make setup, then make build"
    targets = set(re.findall(r"^([a-z-]+):", read("Makefile"), re.M))
    assert {"setup", "build"} <= targets
    assert "make setup" in read("README.md")
    assert 'ENTRYPOINT ["/usr/local/bin/casper-event-store"]' in text
    assert ":latest" not in text
    ignored = read(".dockerignore").split()
    assert ".git" in ignored and "build" in ignored


# --------------------------------------------------------------------------
# security (issue 16, point 1): TLS and authentication everywhere
# --------------------------------------------------------------------------
def test_kafka_listeners_encrypted_and_authenticated(docs, overlay):
    props = rendered_brokers(docs)[0]
    assert kp.check_kafka_security(props) == []
    assert kp.check_external_access(docs, props) == []
    if overlay == "kraft":
        ctl = kp.parse_properties(kp.render_with_start_script(docs, "kafka-controller", 0))
        assert kp.check_kafka_security(ctl) == []
        assert ctl["process.roles"] == "controller" and ctl["node.id"] == "3000"
        assert ctl["authorizer.class.name"].endswith("StandardAuthorizer")


def test_clients_use_tls_and_their_own_credentials(docs):
    assert kp.check_clients(docs) == []


def test_mongo_connections_tls_with_credentials(docs):
    mongo = workload(docs, "StatefulSet", "mongo-events")
    assert kp.check_mongo_uris(kp.generated_secrets(members=mongo.replicas)["mongo-events-uris"]) == []
    mongod = next(c for c in mongo.containers(init=False) if c["name"] == "mongod")
    assert "--tlsMode=requireTLS" in mongod["command"]


def test_ingress_tls_and_no_internal_endpoints(docs):
    assert kp.check_ingress(docs) == []


def test_every_service_has_a_kafka_user_and_acls(docs):
    users = set(kp.generated_secrets()["kafka-users"])
    acls = kp.configmap(docs, "kafka-setup-scripts")["acls.txt"]
    acl_users = {line.split()[0] for line in acls.splitlines() if line.strip() and not line.startswith("#")}
    assert acl_users <= users, "every ACL names a user of Secret kafka-users"
    for w in kp.workloads(docs):
        if not kp.is_service(w):
            continue
        env, _ = kp.expanded_env(docs, w, w.containers(init=False)[0])
        user = kp.kafka_settings(env).get("sasl.username", "")
        assert user.removeprefix("ces-") in acl_users, f"{w.ref}: no ACLs for {user}"


def test_shutdown_hooks_and_startup_probes(docs):
    assert kp.check_shutdown_hooks(docs) == []


# --------------------------------------------------------------------------
# rolls, store-consume's node RPC, chain and backfill (points 2 and 8)
# --------------------------------------------------------------------------
def test_kafka_rolls_are_isr_aware(docs):
    for name in ("kafka", "kafka-controller"):
        w = workload(docs, "StatefulSet", name)
        if w:
            assert w.obj["spec"]["updateStrategy"]["type"] == "OnDelete", f"{name}: rolled by roll-kafka.sh only"
    script = read("deploy/kubernetes/roll-kafka.sh")
    assert "--under-replicated-partitions" in script and "--under-min-isr-partitions" in script
    r = subprocess.run(["bash", "-n", os.path.join(REPO, "deploy/kubernetes/roll-kafka.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_store_consume_reaches_the_node_rpc(docs):
    store = workload(docs, "Deployment", "ces-store-consume")
    env, _ = kp.expanded_env(docs, store, store.containers(init=False)[0])
    assert env.get("CES_NODE_RPC", "").endswith(":7777/rpc")
    egress = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "ces-store-consume-egress")
    assert any(p.get("port") == 7777 for rule in egress["spec"]["egress"] for p in rule.get("ports", []))


def test_chain_is_a_single_writer_with_its_index_on_a_volume(docs):
    chain = workload(docs, "Deployment", "ces-chain")
    assert chain.replicas == 1 and chain.obj["spec"]["strategy"]["type"] == "Recreate"
    env, _ = kp.expanded_env(docs, chain, chain.containers(init=False)[0])
    assert env["CES_TRANSACTIONAL_ID"] and env["CES_INDEX"].startswith("/var/lib/ces-chain/")
    claims = {v["persistentVolumeClaim"]["claimName"] for v in chain.spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims and all(("PersistentVolumeClaim", c) in {(d["kind"], d["metadata"]["name"]) for d in docs} for c in claims)
    backfill = workload(docs, "Deployment", "ces-backfill")
    env, _ = kp.expanded_env(docs, backfill, backfill.containers(init=False)[0])
    assert env.get("CES_GAPS") == "true" and env.get("CES_RPC", "").endswith(":7777/rpc")


def test_no_job_with_an_immutable_template_in_the_apply_path(docs):
    jobs = [kp.name_of(d) for d in docs if d["kind"] == "Job"]
    assert not jobs, f"{jobs}: a changed ConfigMap hash breaks kubectl apply while the Job exists"


# --------------------------------------------------------------------------
# monitoring (point 5)
# --------------------------------------------------------------------------
def known_metrics():
    return kp.code_metrics() | kp.exporter_metrics()


def test_alert_rules_name_exported_metrics_only(docs):
    exprs = kp.rule_exprs(docs)
    assert len(exprs) >= 15
    assert kp.check_metric_names(exprs, known_metrics()) == []
    alerts = {w.split()[-1] for w, _ in exprs}
    for wanted in ("CesConsumerLag", "KafkaUnderReplicatedPartitions", "PostgresReplicationLag", "VolumeFillingUp",
                   "CesIngestGap", "CesDeadLetters", "CesApiLatency", "CesApiErrorRate", "CesChainStageLag"):
        assert wanted in alerts


def test_grafana_dashboards_are_valid_and_name_exported_metrics(docs):
    cm = kp.configmap(docs, "ces-grafana-dashboards")
    assert set(cm) == {"pipeline.json", "servers.json"}
    for name, text in cm.items():
        d = json.loads(text)
        assert d["uid"] and d["title"] and d["panels"], name
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        assert kp.check_metric_names(kp.dashboard_exprs(d, name), known_metrics()) == []


def test_code_metrics_are_found():
    names = kp.code_metrics()
    assert {"ces_produce_gaps_total", "ces_api_http_request_seconds", "ces_api_db_read_target_up"} <= names


def test_metrics_not_reachable_through_the_ingress(docs):
    assert kp.check_ingress(docs) == []
    monitors = [d for d in docs if d["kind"] == "PodMonitor"]
    scraped = {v for m in monitors for e in m["spec"]["selector"].get("matchExpressions", []) for v in e["values"]}
    for w in kp.workloads(docs):
        if kp.is_service(w):
            assert w.labels["app"] in scraped, f"{w.ref} is not scraped"
