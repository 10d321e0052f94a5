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
        "2 server lines for 3 members", "lacks ruok/srvr", "autopurge disabled")


def test_missing_secret_key_is_reported(rendered):
    generated = kp.generated_secrets()
    del generated["mongo-events-users"]["backupPassword"]
    generated.pop("postgres-secret")
    has(kp.check_secret_refs(rendered["mini"], generated),
        "Secret mongo-events-users has no key backupPassword",
        "Secret postgres-secret is not created by secrets.sh")
