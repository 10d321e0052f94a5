"""The policy checks can fail: broken fixtures (tests/k8s/fixtures) must be
reported, with the problem named."""
import os

import k8spolicy as kp

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    return kp.load_file(os.path.join(FIXTURES, name))


def has(problems, *needles):
    text = "\n".join(problems)
    missing = [n for n in needles if n not in text]
    assert not missing, f"not reported: {missing}\nreported:\n{text}"


def test_mismatched_pdb_selector_is_reported():
    has(kp.check_pdbs(fixture("broken-pdb.yaml")),
        "PodDisruptionBudget/web-pdb: selector",
        "Deployment/web: covered by 0 PodDisruptionBudgets",
        "PodDisruptionBudget/blocked-pdb: maxUnavailable 0")


def test_anti_affinity_that_misses_its_own_pods_is_reported():
    has(kp.check_anti_affinity(fixture("broken-anti-affinity.yaml")),
        "StatefulSet/zk: anti-affinity selector",
        "StatefulSet/kafka: no required pod anti-affinity")


def test_container_problems_are_reported():
    has(kp.check_containers(fixture("broken-containers.yaml")),
        "image example/careless:latest is not pinned",
        "image example/untagged is not pinned",
        "imagePullPolicy Always",
        "container careless: no cpu and memory requests",
        "container careless: no livenessProbe",
        "container careless: no readinessProbe",
        "container untagged: liveness and readiness probes are the same check",
        "env DB_PASSWORD has a plaintext value",
        "env MONGO_URI holds a URI with credentials",
        "key adminPassword looks like a secret",
        "url holds a URI with credentials",
        "Secret/committed: Secrets must not be in the manifests")


def test_service_problems_are_reported():
    has(kp.check_services(fixture("broken-services.yaml")),
        "Service/orphan: selector",
        "Service/db: target port postgres is not a port of StatefulSet/db",
        "Service/db-2-external: selector",
        "StatefulSet/db: its service db is not headless",
        "lacks publishNotReadyAddresses")


def test_access_problems_are_reported():
    docs = fixture("broken-access.yaml")
    has(kp.check_service_accounts(docs),
        "ServiceAccount shared is shared by Deployment/one, Deployment/two",
        "StatefulSet/zookeeper: runs as the default ServiceAccount",
        "mounts an API token",
        "Role/too-much: our services need no Kubernetes API rights")
    has(kp.check_network_policies(docs),
        "no default-deny ingress NetworkPolicy",
        "NetworkPolicy/zookeeper-ingress: ZooKeeper accepts Deployment/one",
        "NetworkPolicy/typo: podSelector")


def test_original_kafka_settings_are_reported():
    with open(os.path.join(FIXTURES, "broken-server.properties")) as f:
        props = kp.parse_properties(f.read())
    has(kp.check_kafka_properties(props, replicas=3),
        "unclean.leader.election.enable=true (want false)",
        "auto.create.topics.enable=true (want false)",
        "default.replication.factor=1 (want 3)",
        "min.insync.replicas=1 (want 2)",
        "message.max.bytes=1000012 cannot carry a 32 MiB event")


def test_broken_zookeeper_configuration_is_reported():
    with open(os.path.join(FIXTURES, "broken-zoo.cfg")) as f:
        cfg = kp.parse_properties(f.read())
    has(kp.check_zoo_cfg(cfg, replicas=3),
        "2 server lines for 3 members", "lacks ruok/srvr", "autopurge disabled",
        "no secureClientPort: clients connect unencrypted", "plaintext client port 0.0.0.0:2181 reachable",
        "clients without a certificate are accepted", "quorum traffic (2888/3888) unencrypted")


def test_missing_secret_key_is_reported(rendered):
    generated = kp.generated_secrets()
    del generated["mongo-events-users"]["backupPassword"]
    generated.pop("postgres-secret")
    has(kp.check_secret_refs(rendered["mini"], generated),
        "Secret mongo-events-users has no key backupPassword",
        "Secret postgres-secret is not created by secrets.sh")


def test_insecure_kafka_listeners_are_reported():
    with open(os.path.join(FIXTURES, "broken-security.properties")) as f:
        props = kp.parse_properties(f.read())
    has(kp.check_kafka_security(props),
        "listener PLAINTEXT (0.0.0.0:9092) is PLAINTEXT: unencrypted and reachable",
        "listener EXTERNAL (0.0.0.0:9093) is PLAINTEXT",
        "the EXTERNAL listener is PLAINTEXT, not SASL_SSL",
        "listener REPLICATION is SSL without required client certificates",
        "no authorizer", "allow.everyone.if.no.acl.found is not false",
        "delete.topic.enable=true (want false)",
        "ZooKeeper (credentials and ACLs) reached without TLS")
    has(kp.check_external_access(fixture("broken-clients.yaml"), props),
        "NetworkPolicy/kafka-open: outside addresses reach Kafka port 9092 (PLAINTEXT, PLAINTEXT) without SCRAM")


def test_unauthenticated_clients_and_replica_only_reads_are_reported():
    docs = fixture("broken-clients.yaml")
    has(kp.check_clients(docs),
        "Deployment/ces-api container api: unauthenticated or unencrypted Kafka client",
        "sasl.password is not taken from a Secret",
        "replica-only read path",
        "CES_POSTGRES_READ without sslmode=verify-full")
    has(kp.check_shutdown_hooks(docs), "Deployment/ces-api: container api has no preStop delay")
    has(kp.check_ingress(docs), "Ingress/ces-api: host events.example.net without TLS",
        "Ingress/ces-api: path / exposes /metrics")


def test_alert_rules_on_metrics_nobody_exports_are_reported():
    known = kp.code_metrics() | kp.exporter_metrics()
    has(kp.check_metric_names(kp.rule_exprs(fixture("broken-clients.yaml")), known),
        "Imaginary: metric ces_produce_imaginary_total is exported neither by the code",
        "ImaginaryLatency: metric ces_api_made_up_seconds_bucket",
        "LagFromAnotherExporter: metric kafka_consumer_lag_records")


def test_plaintext_postgres_and_mongo_connections_are_reported():
    has(kp.check_pg_hba("host all all all scram-sha-256\nhostssl all all all trust\n"),
        "accepts connections without TLS", "weak method trust")
    has(kp.check_mongo_uris({"audit": "mongodb://host:27017/casper?replicaSet=rs0"}),
        "MongoDB URI audit: no tls=true", "MongoDB URI audit: no credentials")



# what each check must report on fixtures/broken-cnpg.yaml
CNPG_PROBLEMS = {
    kp.check_cnpg: (
        "Cluster/careless: 2 instances (want at least 3)", "Cluster/careless: no synchronous replication",
        "Cluster/careless: no WAL archiving", "Cluster/careless: no ScheduledBackup",
        "Cluster/careless: no server certificate", "Cluster/careless: pg_hba lacks 'hostnossl all all all reject'",
        "Cluster/careless: pg_hba.conf accepts connections without TLS", "weak method md5",
        "Cluster/careless: enableSuperuserAccess", "Cluster/careless: podSecurityContext runs as root",
        "Cluster/careless: stopDelay 30 <= smartShutdownTimeout 180", "Cluster/careless: monitoring.enablePodMonitor is off",
        "Deployment/ces-store-consume: CES_POSTGRES reaches careless-ro, not the primary service careless-rw",
        "Cluster/lax: synchronous.dataDurability preferred", "Cluster/lax: barmanObjectName nowhere is not an ObjectStore",
        "Cluster/lax: no ScheduledBackup"),
    kp.check_cnpg_network: (
        "Cluster/careless: instances do not accept each other on 5432",
        "the operator (namespace cnpg-system) cannot reach the instance manager on 8000",
        "Prometheus (namespace monitoring) cannot scrape 9187",
        "Cluster/careless: instances do not accept Deployment/ces-store-consume on 5432",
        "Deployment/ces-store-consume: egress to Cluster/careless on 5432 is not allowed"),
    kp.check_anti_affinity: ("Cluster/careless: no required pod anti-affinity on kubernetes.io/hostname",),
    kp.check_pdbs: ("Cluster/careless: covered by 2 PodDisruptionBudgets",),
    kp.check_containers: ("Cluster/careless: image ghcr.io/cloudnative-pg/postgresql:latest is not pinned",
                          "Cluster/lax: no memory request and limit"),
}


def test_unsafe_cloudnativepg_clusters_are_reported():
    docs = fixture("broken-cnpg.yaml")
    for check, needles in CNPG_PROBLEMS.items():
        has(check(docs), *needles)
