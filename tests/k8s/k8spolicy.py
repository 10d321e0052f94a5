"""Policy checks of the rendered Kubernetes manifests (deploy/kubernetes).

Every check takes the list of objects of one rendered overlay and returns a
list of problems (strings); an empty list means the check passes. The tests in
test_policies.py run them on every overlay, test_negative.py runs them on
broken fixtures to show that they report what they should.
"""
import os
import re
import subprocess
import tempfile

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LONG_RUNNING = ("Deployment", "StatefulSet", "Kubegres", "Cluster")
CNPG_PLUGIN = "barman-cloud.cloudnative-pg.io"
# The only Kubernetes API rights in the manifests: the backups (VolumeSnapshots of
# a MongoDB secondary; pgBackRest run in the PostgreSQL primary).
ALLOWED_RULES = {
    "mongo-backup-snapshots": {(("snapshot.storage.k8s.io",), ("volumesnapshots",), ("create", "delete", "get", "list"))},
    "postgres-backup-exec": {(("",), ("pods",), ("get", "list")), (("",), ("pods/exec",), ("create",))},
}
SERVICE_IMAGE = "casper-event-store"


def is_service(w):
    """A workload running the project's binary."""
    return any(c.get("image", "").split(":")[0].endswith(SERVICE_IMAGE) for c in w.containers(init=False)) if w.spec else False
QUORUM_APPS = ("zookeeper", "kafka-broker", "mongo-events", "postgres-events")
SECRETISH_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.I)
CREDENTIAL_URI = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.I)


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------
def load(text):
    return [d for d in yaml.safe_load_all(text) if d]


def load_file(path):
    with open(path) as f:
        return load(f.read())


def name_of(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def base_name(name):
    """ConfigMap name without the kustomize hash suffix."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def configmap(docs, name):
    for d in docs:
        if d["kind"] == "ConfigMap" and base_name(d["metadata"]["name"]) == base_name(name):
            return d.get("data", {})
    return None


# --------------------------------------------------------------------------
# workloads and their pods
# --------------------------------------------------------------------------
class Workload:
    def __init__(self, obj, kind, name, labels, spec, replicas):
        self.obj, self.kind, self.name, self.labels, self.spec, self.replicas = obj, kind, name, labels, spec, replicas

    @property
    def ref(self):
        return f"{self.kind}/{self.name}"

    def containers(self, init=True):
        spec = self.spec or {}
        return (spec.get("initContainers", []) if init else []) + spec.get("containers", [])

    def pod_labels(self, ordinal=None):
        labels = dict(self.labels)
        if self.kind == "StatefulSet" and ordinal is not None:
            labels["statefulset.kubernetes.io/pod-name"] = f"{self.name}-{ordinal}"
        return labels


def workloads(docs):
    out = []
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            t = d["spec"]["template"]
            out.append(Workload(d, kind, name, t["metadata"].get("labels", {}), t["spec"], d["spec"].get("replicas", 1)))
        elif kind == "Job":
            t = d["spec"]["template"]
            out.append(Workload(d, kind, name, t["metadata"].get("labels", {}), t["spec"], 1))
        elif kind == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
            out.append(Workload(d, kind, name, t["metadata"].get("labels", {}), t["spec"], 1))
        elif kind == "Kubegres":
            # the operator labels the instances app=<name>, index, replicationRole
            labels = {"app": name, "replicationRole": "primary", "index": "1"}
            out.append(Workload(d, kind, name, labels, None, d["spec"].get("replicas", 1)))
        elif kind == "Cluster" and d["apiVersion"].startswith("postgresql.cnpg.io/"):
            # CloudNativePG labels its instances cnpg.io/cluster=<name>, podRole,
            # instanceRole, plus the labels of inheritedMetadata
            labels = dict((d["spec"].get("inheritedMetadata") or {}).get("labels") or {})
            labels.update({"cnpg.io/cluster": name, "cnpg.io/podRole": "instance",
                           "cnpg.io/instanceRole": "primary", "role": "primary"})
            out.append(Workload(d, kind, name, labels, None, d["spec"].get("instances", 1)))
    return out


def selector_matches(selector, labels):
    """LabelSelector (matchLabels/matchExpressions) or a plain map (Service)."""
    if selector is None:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        if not selector:  # empty LabelSelector: everything
            return True
        selector = {"matchLabels": selector} if all(isinstance(v, str) for v in selector.values()) else selector
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pods_matching(docs, selector):
    """Workloads with at least one pod matching the selector."""
    found = []
    for w in workloads(docs):
        if w.kind == "StatefulSet":
            if any(selector_matches(selector, w.pod_labels(i)) for i in range(w.replicas)):
                found.append(w)
        elif selector_matches(selector, w.pod_labels()):
            found.append(w)
    return found


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------
def check_pdbs(docs):
    problems = []
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for p in pdbs:
        sel = p["spec"].get("selector")
        matched = [w for w in pods_matching(docs, sel) if w.kind in LONG_RUNNING]
        if not matched:
            problems.append(f"{name_of(p)}: selector {sel} matches no pod of a Deployment, StatefulSet or Kubegres")
        spec = p["spec"]
        if "maxUnavailable" in spec:
            if spec["maxUnavailable"] in (0, "0", "0%"):
                problems.append(f"{name_of(p)}: maxUnavailable 0 blocks every voluntary eviction (node drains)")
        elif "minAvailable" in spec:
            for w in matched:
                if isinstance(spec["minAvailable"], int) and spec["minAvailable"] >= w.replicas:
                    problems.append(f"{name_of(p)}: minAvailable {spec['minAvailable']} >= {w.replicas} replicas of {w.ref} blocks drains")
        else:
            problems.append(f"{name_of(p)}: neither maxUnavailable nor minAvailable")
    for w in workloads(docs):
        if w.kind not in LONG_RUNNING:
            continue
        covering = [p for p in pdbs if selector_matches(p["spec"].get("selector"), w.pod_labels(0))]
        if w.kind == "Cluster" and w.obj["spec"].get("enablePDB", True):
            covering.append("the operator's")  # CloudNativePG makes the instances' PDBs
        if len(covering) != 1:
            problems.append(f"{w.ref}: covered by {len(covering)} PodDisruptionBudgets (want exactly 1)")
    return problems


def _affinity_of(w):
    if w.kind == "Kubegres":
        return ((w.obj["spec"].get("scheduler") or {}).get("affinity")) or {}
    if w.kind == "Cluster":
        # CloudNativePG: a term on its own cluster label, required or preferred
        a = w.obj["spec"].get("affinity") or {}
        if a.get("enablePodAntiAffinity") is False:
            return {}
        term = {"topologyKey": a.get("topologyKey", "kubernetes.io/hostname"),
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": w.name}}}
        if a.get("podAntiAffinityType") == "required":
            return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}}
    return (w.spec or {}).get("affinity") or {}


def check_anti_affinity(docs):
    """Every (anti-)affinity and spread selector matches the pod's own labels;
    quorum systems have required anti-affinity on the node."""
    problems = []
    for w in workloads(docs):
        own = w.pod_labels()
        aff = _affinity_of(w).get("podAntiAffinity") or {}
        terms = list(aff.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [t["podAffinityTerm"] for t in aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        for t in terms:
            if not selector_matches(t.get("labelSelector"), own):
                problems.append(f"{w.ref}: anti-affinity selector {t.get('labelSelector')} does not match its own pods' labels {own}")
        for c in (w.spec or {}).get("topologySpreadConstraints") or []:
            if not selector_matches(c.get("labelSelector"), own):
                problems.append(f"{w.ref}: topologySpreadConstraint selector {c.get('labelSelector')} does not match its pods' labels {own}")
        if own.get("app") in QUORUM_APPS or w.kind == "Cluster":
            required = [t for t in aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []
                        if t.get("topologyKey") == "kubernetes.io/hostname"]
            if not required:
                problems.append(f"{w.ref}: no required pod anti-affinity on kubernetes.io/hostname")
    return problems


def image_pinned(image):
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag not in ("latest", "") and not tag.endswith("-latest")


def check_containers(docs):
    problems = []
    for w in workloads(docs):
        if w.kind in ("Kubegres", "Cluster"):
            image = w.obj["spec"].get("image" if w.kind == "Kubegres" else "imageName", "")
            if not image_pinned(image):
                problems.append(f"{w.ref}: image {image} is not pinned")
            res = w.obj["spec"].get("resources") or {}
            if not (res.get("requests", {}).get("memory") and res.get("limits", {}).get("memory")):
                problems.append(f"{w.ref}: no memory request and limit")
            for e in w.obj["spec"].get("env", []):
                problems += _env_problems(w.ref, "postgres", e)
            continue
        for c in w.containers():
            where = f"{w.ref} container {c['name']}"
            if not image_pinned(c.get("image", "")):
                problems.append(f"{where}: image {c.get('image')} is not pinned to a version (no tag, or latest)")
            if c.get("imagePullPolicy") == "Always":
                problems.append(f"{where}: imagePullPolicy Always (pinned images need IfNotPresent)")
            res = c.get("resources") or {}
            if not res.get("requests", {}).get("cpu") or not res.get("requests", {}).get("memory"):
                problems.append(f"{where}: no cpu and memory requests")
            if not res.get("limits", {}).get("memory"):
                problems.append(f"{where}: no memory limit")
            for e in c.get("env", []):
                problems += _env_problems(w.ref, c["name"], e)
        if w.kind in ("Deployment", "StatefulSet"):
            for c in w.containers(init=False):
                where = f"{w.ref} container {c['name']}"
                live, ready = c.get("livenessProbe"), c.get("readinessProbe")
                if not live:
                    problems.append(f"{where}: no livenessProbe")
                if not ready:
                    problems.append(f"{where}: no readinessProbe")
                if live and ready and _probe_action(live) == _probe_action(ready):
                    problems.append(f"{where}: liveness and readiness probes are the same check")
    for d in docs:
        if d["kind"] == "Secret":
            problems.append(f"{name_of(d)}: Secrets must not be in the manifests (deploy/kubernetes/secrets.sh creates them)")
        if d["kind"] == "ConfigMap":
            for k, v in (d.get("data") or {}).items():
                if SECRETISH_NAME.search(k):
                    problems.append(f"{name_of(d)}: key {k} looks like a secret in a ConfigMap")
                for line in str(v).splitlines():
                    if CREDENTIAL_URI.search(line) and not line.lstrip().startswith("#") and "${" not in line:
                        problems.append(f"{name_of(d)}: {k} holds a URI with credentials")
    return problems


def _probe_action(p):
    return {k: v for k, v in p.items() if k in ("exec", "httpGet", "tcpSocket", "grpc")}


def _env_problems(ref, container, e):
    if "value" not in e:
        return []
    value = str(e["value"])
    if SECRETISH_NAME.search(e["name"]) and value:
        return [f"{ref} container {container}: env {e['name']} has a plaintext value (use secretKeyRef)"]
    if CREDENTIAL_URI.search(value):
        return [f"{ref} container {container}: env {e['name']} holds a URI with credentials"]
    return []


def check_services(docs):
    """Every Service selects pods and every target port exists on them; every
    StatefulSet has its headless peer Service."""
    problems = []
    for s in (d for d in docs if d["kind"] == "Service"):
        sel = s["spec"].get("selector")
        if not sel:
            continue
        matched = pods_matching(docs, sel)
        if not matched:
            problems.append(f"{name_of(s)}: selector {sel} matches no pod")
            continue
        for port in s["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for w in matched:
                ports = [p for c in w.containers(init=False) for p in c.get("ports", [])]
                if w.kind == "Kubegres":
                    ports = [{"containerPort": w.obj["spec"].get("port", 5432)}]
                ok = any((isinstance(target, str) and p.get("name") == target) or
                         (isinstance(target, int) and p.get("containerPort") == target) for p in ports)
                if not ok:
                    problems.append(f"{name_of(s)}: target port {target} is not a port of {w.ref}")
        if s["spec"].get("type") == "NodePort":
            for port in s["spec"]["ports"]:
                if not 30000 <= port.get("nodePort", 30000) <= 32767:
                    problems.append(f"{name_of(s)}: nodePort {port.get('nodePort')} outside 30000-32767")
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for ing in (d for d in docs if d["kind"] == "Ingress"):
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                if svc is None:
                    problems.append(f"{name_of(ing)}: backend service {backend['name']} does not exist")
                    continue
                want = backend["port"]
                if not any(p.get("name") == want.get("name") or p["port"] == want.get("number") for p in svc["spec"]["ports"]):
                    problems.append(f"{name_of(ing)}: service {backend['name']} has no port {want}")
    for w in workloads(docs):
        if w.kind != "StatefulSet":
            continue
        svc = services.get(w.obj["spec"].get("serviceName"))
        if svc is None:
            problems.append(f"{w.ref}: serviceName {w.obj['spec'].get('serviceName')} is not a Service")
            continue
        if svc["spec"].get("clusterIP") != "None":
            problems.append(f"{w.ref}: its service {svc['metadata']['name']} is not headless")
        if not svc["spec"].get("publishNotReadyAddresses"):
            problems.append(f"{w.ref}: its service {svc['metadata']['name']} lacks publishNotReadyAddresses (peers must resolve before Ready)")
        if not selector_matches(svc["spec"].get("selector"), w.pod_labels()):
            problems.append(f"{w.ref}: its service {svc['metadata']['name']} does not select its pods")
    return problems


def check_service_accounts(docs):
    problems = []
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    users = {}
    for w in workloads(docs):
        if w.spec is None:  # operator-made pods (Kubegres, CloudNativePG)
            continue
        sa = w.spec.get("serviceAccountName")
        if not sa or sa == "default":
            problems.append(f"{w.ref}: runs as the default ServiceAccount")
            continue
        if sa not in accounts:
            problems.append(f"{w.ref}: ServiceAccount {sa} is not defined")
        bound = {subj["name"] for d in docs if d["kind"] == "RoleBinding" and d["roleRef"]["name"] in ALLOWED_RULES
                 for subj in d.get("subjects", [])}
        if (w.spec.get("automountServiceAccountToken") is not False
                and accounts.get(sa, {}).get("automountServiceAccountToken") is not False and sa not in bound):
            problems.append(f"{w.ref}: mounts an API token it does not need")
        users.setdefault(sa, []).append(w.ref)
    for sa, refs in users.items():
        if len(refs) > 1:
            problems.append(f"ServiceAccount {sa} is shared by {', '.join(refs)}")
    for d in docs:
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            problems.append(f"{name_of(d)}: our services need no cluster-wide Kubernetes API rights")
        elif d["kind"] == "Role":
            rules = {(tuple(r.get("apiGroups", [])), tuple(r.get("resources", [])), tuple(sorted(r.get("verbs", []))))
                     for r in d.get("rules", [])}
            if not rules <= ALLOWED_RULES.get(d["metadata"]["name"], set()):
                problems.append(f"{name_of(d)}: our services need no Kubernetes API rights (beyond the backups' snapshot/exec)")
    return problems


def check_network_policies(docs):
    problems = []
    nps = [d for d in docs if d["kind"] == "NetworkPolicy"]
    if not any(n["spec"].get("podSelector") == {} and "Ingress" in n["spec"].get("policyTypes", []) and not n["spec"].get("ingress") for n in nps):
        problems.append("no default-deny ingress NetworkPolicy")
    for n in nps:
        sel = n["spec"].get("podSelector")
        if sel and not pods_matching(docs, sel):
            problems.append(f"{name_of(n)}: podSelector {sel} matches no pod")
        for rule in (n["spec"].get("ingress") or []) + (n["spec"].get("egress") or []):
            for peer in (rule.get("from") or []) + (rule.get("to") or []):
                ps = peer.get("podSelector")
                if ps is None or "namespaceSelector" in peer:
                    continue
                exprs = ps.get("matchExpressions") or []
                if any(e["key"].startswith("batch.kubernetes.io/") for e in exprs):
                    continue  # pods of operator-made Jobs
                if not pods_matching(docs, ps):
                    problems.append(f"{name_of(n)}: peer podSelector {ps} matches no pod")
    # ZooKeeper accepts Kafka (and its own peers) only
    zk = [w for w in workloads(docs) if w.labels.get("app") == "zookeeper"]
    if zk:
        allowed = {"zookeeper", "kafka-broker"}
        for n in nps:
            if not selector_matches(n["spec"].get("podSelector"), zk[0].pod_labels()) or not n["spec"].get("ingress"):
                continue
            for rule in n["spec"]["ingress"]:
                for peer in rule.get("from") or [{}]:
                    if "podSelector" not in peer or "namespaceSelector" in peer:
                        problems.append(f"{name_of(n)}: ZooKeeper accepts more than Kafka ({peer})")
                        continue
                    for w in pods_matching(docs, peer["podSelector"]):
                        if w.labels.get("app") not in allowed:
                            problems.append(f"{name_of(n)}: ZooKeeper accepts {w.ref}")
    return problems


def check_graceful_shutdown(docs, minimum=60):
    problems = []
    for w in workloads(docs):
        app = w.labels.get("app", "")
        if not is_service(w) and app not in ("kafka-broker", "mongo-events"):
            continue
        want = 120 if app in ("kafka-broker", "mongo-events") else minimum
        got = w.spec.get("terminationGracePeriodSeconds", 30)
        if got < want:
            problems.append(f"{w.ref}: terminationGracePeriodSeconds {got} < {want} (SIGTERM flushes)")
    return problems


def check_prometheus(docs):
    problems = []
    for w in workloads(docs):
        if w.kind != "Deployment" or not is_service(w):
            continue
        ann = w.obj["spec"]["template"]["metadata"].get("annotations", {})
        ports = {str(p["containerPort"]) for c in w.containers(init=False) for p in c.get("ports", [])}
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") not in ports or ann.get("prometheus.io/path") != "/metrics":
            problems.append(f"{w.ref}: missing or wrong Prometheus scrape annotations {ann}")
        for c in w.containers(init=False):
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    problems.append(f"{w.ref}: {probe} is not GET {path}")
    return problems


# --------------------------------------------------------------------------
# Kafka and ZooKeeper configuration
# --------------------------------------------------------------------------
def parse_properties(text):
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        props[k.strip()] = v.strip()
    return props


def parse_env(text):
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = re.sub(r"\s+#.*$", "", v).strip()
    return env


def container_env(docs, w, container):
    """Literal env of a container: envFrom ConfigMaps, then env values."""
    env = {}
    c = next(c for c in w.containers() if c["name"] == container)
    for ef in c.get("envFrom", []):
        if "configMapRef" in ef:
            env.update(configmap(docs, ef["configMapRef"]["name"]) or {})
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
    return env


def render_with_start_script(docs, app, ordinal, namespace="kafka"):
    """Runs the start script of a Kafka or ZooKeeper pod in render-only mode
    with the pod's ConfigMaps and environment; returns the rendered file."""
    w = next(w for w in workloads(docs) if w.labels.get("app") == app)
    main = w.containers(init=False)[0]
    config_cm = next(v["configMap"]["name"] for v in w.spec["volumes"] if v["name"] == "config")
    files = configmap(docs, base_name(config_cm))
    env = dict(os.environ)
    env.update(container_env(docs, w, main["name"]))
    env.update({"POD_NAME": f"{w.name}-{ordinal}", "POD_NAMESPACE": namespace, "HOST_IP": "192.0.2.10",
                "CES_RENDER_ONLY": "1", "KAFKA_TLS_PASSWORD": "offline-test"})
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        for k, v in files.items():
            with open(os.path.join(src, k), "w") as f:
                f.write(v)
        if app in ("kafka-broker", "kafka-controller"):
            out = os.path.join(tmp, "server.properties")
            env.update({"KAFKA_CONFIG_SOURCE": src, "KAFKA_CONFIG_FILE": out, "KAFKA_DATA_DIR": os.path.join(tmp, "data")})
        else:
            out = os.path.join(tmp, "zoo.cfg")
            env.update({"ZK_CONFIG_SOURCE": src, "ZK_RENDERED_DIR": tmp, "ZK_DATA_DIR": os.path.join(tmp, "data")})
        r = subprocess.run(["bash", os.path.join(src, "start.sh")], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"start.sh of {app} failed: {r.stderr}")
        with open(out) as f:
            return f.read()


def render_template(template_path, env_path, instance):
    """The local stack's rendering of a config/ template: every ${NAME} from
    the env file or the instance values."""
    with open(env_path) as f:
        values = parse_env(f.read())
    values.update(instance)
    with open(template_path) as f:
        text = f.read()
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: values[m.group(1)], text)


KAFKA_INSTANCE_KEYS = {"broker.id", "node.id", "listeners", "advertised.listeners", "listener.security.protocol.map",
                       "zookeeper.connect", "log.dirs", "process.roles", "controller.quorum.voters",
                       "controller.listener.names"}
KAFKA_OVERRIDE_KEYS = KAFKA_INSTANCE_KEYS - {"zookeeper.connect", "log.dirs", "broker.id"} | {
    "inter.broker.listener.name", "authorizer.class.name", "controller.quorum.bootstrap.servers"}
# security.properties and the per-listener settings may override anything security-related
KAFKA_SECURITY_PREFIXES = ("ssl.", "sasl.", "listener.name.", "super.users", "allow.everyone.if.no.acl.found",
                           "delete.topic.enable", "zookeeper.ssl.", "zookeeper.clientCnxnSocket")
# zoo.cfg keys of TLS (the Kubernetes members add them; the local stack adds them with --secure)
ZOO_TLS_KEYS = ("ssl.", "secureClientPort", "serverCnxnFactory", "sslQuorum")
MIB = 1024 * 1024


def check_kafka_properties(props, replicas, ha=True):
    """HA settings of a rendered broker configuration."""
    problems = []
    want = {"unclean.leader.election.enable": "false", "auto.create.topics.enable": "false"}
    if ha:
        want.update({"default.replication.factor": "3", "min.insync.replicas": "2",
                     "offsets.topic.replication.factor": "3", "transaction.state.log.replication.factor": "3",
                     "transaction.state.log.min.isr": "2"})
    for k, v in want.items():
        if props.get(k) != v:
            problems.append(f"{k}={props.get(k)} (want {v})")
    rf = int(props.get("default.replication.factor", "1"))
    if rf > replicas:
        problems.append(f"default.replication.factor {rf} > {replicas} brokers")
    if int(props.get("min.insync.replicas", "1")) >= rf and rf > 1:
        problems.append("min.insync.replicas must be below the replication factor (one broker may be down)")
    mmb = int(props.get("message.max.bytes", "0"))
    if mmb < 32 * MIB + MIB:
        problems.append(f"message.max.bytes={mmb} cannot carry a 32 MiB event")
    for k in ("replica.fetch.max.bytes", "replica.fetch.response.max.bytes"):
        if int(props.get(k, "0")) < mmb:
            problems.append(f"{k}={props.get(k)} below message.max.bytes={mmb}")
    if int(props.get("socket.request.max.bytes", "0")) < mmb:
        problems.append("socket.request.max.bytes below message.max.bytes")
    return problems


def check_zoo_cfg(cfg, replicas):
    problems = []
    servers = [k for k in cfg if k.startswith("server.")]
    if replicas > 1 and len(servers) != replicas:
        problems.append(f"{len(servers)} server lines for {replicas} members")
    if replicas == 1 and servers:
        problems.append("a standalone member lists servers")
    words = set(cfg.get("4lw.commands.whitelist", "").split(","))
    if not {"ruok", "srvr"} <= words:
        problems.append(f"4lw.commands.whitelist {words} lacks ruok/srvr used by the probes")
    if int(cfg.get("autopurge.purgeInterval", "0")) < 1:
        problems.append("autopurge disabled")
    # TLS: clients only on the secure port with a certificate; the plaintext port (if any) on loopback
    if "secureClientPort" not in cfg:
        problems.append("no secureClientPort: clients connect unencrypted")
    if "clientPort" in cfg and cfg.get("clientPortAddress") != "127.0.0.1":
        problems.append(f"plaintext client port {cfg.get('clientPortAddress', '0.0.0.0')}:{cfg['clientPort']} "
                        "reachable beyond the pod")
    if cfg.get("ssl.clientAuth") != "need":
        problems.append(f"ssl.clientAuth={cfg.get('ssl.clientAuth')}: clients without a certificate are accepted")
    if "secureClientPort" in cfg and cfg.get("serverCnxnFactory") != "org.apache.zookeeper.server.NettyServerCnxnFactory":
        problems.append("secureClientPort needs the Netty connection factory")
    if replicas > 1 and cfg.get("sslQuorum") != "true":
        problems.append("quorum traffic (2888/3888) unencrypted: sslQuorum is not true")
    return problems


# --------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------
def secret_refs(docs):
    """(secret, key or None, where) for every Secret a workload uses."""
    refs = []
    for d in docs:
        spec, where = d.get("spec") or {}, name_of(d)
        if d["kind"] == "Cluster":
            for c in (spec.get("certificates") or {}).values():
                if isinstance(c, str):
                    refs.append((c, None, where))
            initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
            roles = [r.get("passwordSecret") for r in (spec.get("managed") or {}).get("roles") or []]
            for ref in [initdb.get("secret")] + roles:
                if ref:
                    refs += [(ref["name"], "username", where), (ref["name"], "password", where)]
        elif d["kind"] == "ObjectStore":
            for ref in ((spec.get("configuration") or {}).get("s3Credentials") or {}).values():
                if isinstance(ref, dict) and "name" in ref:
                    refs.append((ref["name"], ref.get("key"), where))
    for w in workloads(docs):
        if w.kind == "Cluster":
            continue
        if w.kind == "Kubegres":
            for e in w.obj["spec"].get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"], w.ref))
            continue
        for c in w.containers():
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"], f"{w.ref}/{c['name']}"))
            for ef in c.get("envFrom", []):
                if "secretRef" in ef:
                    refs.append((ef["secretRef"]["name"], None, f"{w.ref}/{c['name']}"))
        for v in w.spec.get("volumes", []):
            if "secret" in v:
                for item in v["secret"].get("items") or [{"key": None}]:
                    refs.append((v["secret"]["secretName"], item["key"], w.ref))
    return refs


def generated_secrets(namespace="kafka", members=3):
    r = subprocess.run([os.path.join(REPO, "deploy/kubernetes/secrets.sh"), "--print", "--kraft", "--cnpg", "--namespace", namespace,
                        "--mongo-members", str(members)], capture_output=True, text=True, check=True)
    return {d["metadata"]["name"]: d["stringData"] for d in load(r.stdout)}


CERT_MANAGER_KEYS = {"tls.crt", "tls.key", "ca.crt", "keystore.p12", "truststore.p12"}


def check_secret_refs(docs, generated):
    problems = []
    certificates = {d["spec"]["secretName"] for d in docs if d["kind"] == "Certificate"}
    for name, key, where in secret_refs(docs):
        if name in certificates:
            if key is not None and key not in CERT_MANAGER_KEYS:
                problems.append(f"{where}: Secret {name} (cert-manager) has no key {key}")
            continue
        if name not in generated:
            problems.append(f"{where}: Secret {name} is not created by secrets.sh")
        elif key is not None and key not in generated[name]:
            problems.append(f"{where}: Secret {name} has no key {key} in secrets.sh")
    return problems


# --------------------------------------------------------------------------
# security: Kafka listeners and clients, PostgreSQL and MongoDB connections,
# the Ingress
# --------------------------------------------------------------------------
def kafka_listeners(props):
    """name -> (host, port, protocol) of a rendered broker configuration."""
    protocols = dict(p.split(":", 1) for p in props.get("listener.security.protocol.map", "").split(",") if ":" in p)
    out = {}
    for entry in props.get("listeners", "").split(","):
        if "://" not in entry:
            continue
        name, address = entry.split("://", 1)
        host, port = address.rsplit(":", 1)
        out[name] = (host, int(port), protocols.get(name, name))
    return out


def check_kafka_security(props):
    """Every listener a client can reach is TLS and authenticates (SCRAM or a
    client certificate); a PLAINTEXT listener may only be the pod's loopback,
    never advertised; ACLs are enforced; topics cannot be deleted."""
    problems = []
    listeners = kafka_listeners(props)
    advertised = props.get("advertised.listeners", "")
    for name, (host, port, protocol) in listeners.items():
        if protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
            if host != "127.0.0.1" or f"{name}://" in advertised:
                problems.append(f"listener {name} ({host}:{port}) is {protocol}: unencrypted and reachable")
        elif protocol == "SSL":
            if props.get(f"listener.name.{name.lower()}.ssl.client.auth", props.get("ssl.client.auth")) != "required":
                problems.append(f"listener {name} is SSL without required client certificates: unauthenticated")
        elif protocol == "SASL_SSL":
            mechanisms = props.get(f"listener.name.{name.lower()}.sasl.enabled.mechanisms", props.get("sasl.enabled.mechanisms", ""))
            if not mechanisms or "PLAIN" in mechanisms.split(","):
                problems.append(f"listener {name} is SASL_SSL without SCRAM (mechanisms {mechanisms!r})")
        else:
            problems.append(f"listener {name}: unknown protocol {protocol}")
    if "EXTERNAL" in listeners and listeners["EXTERNAL"][2] != "SASL_SSL":
        problems.append(f"the EXTERNAL listener is {listeners['EXTERNAL'][2]}, not SASL_SSL")
    if not props.get("authorizer.class.name"):
        problems.append("no authorizer: ACLs are not enforced")
    if props.get("allow.everyone.if.no.acl.found", "false") != "false":
        problems.append("allow.everyone.if.no.acl.found is not false")
    if props.get("delete.topic.enable") != "false":
        problems.append(f"delete.topic.enable={props.get('delete.topic.enable')} (want false)")
    if "zookeeper.connect" in props and props.get("zookeeper.ssl.client.enable") != "true":
        problems.append("ZooKeeper (credentials and ACLs) reached without TLS: zookeeper.ssl.client.enable is not true")
    return problems


def check_external_access(docs, props):
    """Traffic from outside the cluster (ipBlock) reaches Kafka only on
    authenticated TLS listeners."""
    problems = []
    listeners = kafka_listeners(props)
    by_port = {port: (name, protocol) for name, (host, port, protocol) in listeners.items()}
    kafka = next((w for w in workloads(docs) if w.labels.get("app") == "kafka-broker"), None)
    if kafka is None:
        return problems
    for n in (d for d in docs if d["kind"] == "NetworkPolicy"):
        if not selector_matches(n["spec"].get("podSelector"), kafka.pod_labels(0)):
            continue
        for rule in n["spec"].get("ingress") or []:
            if not any("ipBlock" in peer for peer in rule.get("from") or []):
                continue
            ports = [p.get("port") for p in rule.get("ports") or [{"port": None}]]
            for port in ports:
                name, protocol = by_port.get(port, (None, None))
                if port is None or protocol != "SASL_SSL":
                    problems.append(f"{name_of(n)}: outside addresses reach Kafka port {port} "
                                    f"({name or 'every port'}, {protocol or 'any protocol'}) without SCRAM authentication")
    return problems


def kafka_settings(env):
    return dict(kv.split("=", 1) for kv in env.get("CES_KAFKA_SETTINGS", "").split(",") if "=" in kv)


def expanded_env(docs, w, c):
    """A container's environment with $(VAR) references expanded (literal values
    only; secret-backed variables stay as $(NAME))."""
    env = {}
    for ef in c.get("envFrom", []):
        if "configMapRef" in ef:
            env.update(configmap(docs, ef["configMapRef"]["name"]) or {})
    secret_backed = set()
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                    lambda m: env.get(m.group(1), m.group(0)), e["value"])
        elif (e.get("valueFrom") or {}).get("secretKeyRef"):
            secret_backed.add(e["name"])
            env[e["name"]] = f"$({e['name']})"
    return env, secret_backed


def mounted_files(w, c):
    """Paths of the files that Secret items put into a container."""
    volumes = {v["name"]: v for v in w.spec.get("volumes", [])}
    files = set()
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"], {})
        for item in (v.get("secret") or {}).get("items") or []:
            files.add(os.path.join(m["mountPath"], item["path"]))
    return files


def check_clients(docs):
    """Every Kafka client of the pipeline uses TLS + SCRAM with its own user
    and a secret-backed password; PostgreSQL URIs verify the server
    (sslmode=verify-full with a mounted CA file); MongoDB URIs (secrets.sh)
    are checked by check_mongo_uris."""
    problems = []
    for w in workloads(docs):
        if not is_service(w):
            continue
        for c in w.containers(init=False):
            env, secret_backed = expanded_env(docs, w, c)
            files = mounted_files(w, c)
            where = f"{w.ref} container {c['name']}"
            if env.get("CES_KAFKA") or c.get("args", [""])[0] in ("produce", "chain", "backfill", "store-consume", "audit-consume"):
                k = kafka_settings(env)
                if k.get("security.protocol") != "SASL_SSL" or not k.get("sasl.mechanisms", "").startswith("SCRAM-"):
                    problems.append(f"{where}: unauthenticated or unencrypted Kafka client (CES_KAFKA_SETTINGS {k})")
                if k.get("ssl.ca.location") not in files:
                    problems.append(f"{where}: ssl.ca.location {k.get('ssl.ca.location')} is not a mounted CA file")
                pw = k.get("sasl.password", "")
                m = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", pw)
                if not m or m.group(1) not in secret_backed:
                    problems.append(f"{where}: sasl.password is not taken from a Secret")
                if not k.get("sasl.username", "").startswith("ces-"):
                    problems.append(f"{where}: no SCRAM user of its own (sasl.username {k.get('sasl.username')})")
                if k.get("ssl.endpoint.identification.algorithm", "https") != "https":
                    problems.append(f"{where}: the broker's host name is not verified")
            if env.get("CES_POSTGRES_READ") and (not env.get("CES_POSTGRES") or
                                                 postgres_host(env["CES_POSTGRES"]).endswith(REPLICA_SERVICES)):
                problems.append(f"{where}: replica-only read path (CES_POSTGRES_READ without the primary in "
                                "CES_POSTGRES to fall back to)")
            for key in ("CES_POSTGRES", "CES_POSTGRES_READ"):
                uri = env.get(key)
                if not uri:
                    continue
                params = dict(p.split("=", 1) for p in uri.split("?", 1)[-1].split("&") if "=" in p) if "?" in uri else {}
                if params.get("sslmode") != "verify-full":
                    problems.append(f"{where}: {key} without sslmode=verify-full")
                if params.get("sslrootcert") not in files:
                    problems.append(f"{where}: {key} sslrootcert {params.get('sslrootcert')} is not a mounted CA file")
    return problems


REPLICA_SERVICES = ("-replica", "-ro", "-r")  # Kubegres, CloudNativePG


def postgres_host(uri):
    return uri.split("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


def check_cnpg(docs):
    """A CloudNativePG Cluster: at least 3 instances with synchronous
    replication that waits for a replica, WAL archiving and scheduled base
    backups through the Barman Cloud plugin, TLS only (the server certificate
    given, plaintext client connections rejected by pg_hba), non-root pods,
    a shutdown that lets a primary hand over, metrics; the services write
    through its -rw Service and read replicas only with the primary to fall
    back to."""
    problems = []
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for c in (d for d in docs if d["kind"] == "Cluster"):
        s, name, where = c["spec"], c["metadata"]["name"], name_of(c)
        if s.get("instances", 1) < 3:
            problems.append(f"{where}: {s.get('instances', 1)} instances (want at least 3)")
        sync = (s.get("postgresql") or {}).get("synchronous")
        if not sync:
            problems.append(f"{where}: no synchronous replication (postgresql.synchronous): a failover loses commits")
        else:
            if not 1 <= sync.get("number", 0) <= s.get("instances", 1) - 1:
                problems.append(f"{where}: synchronous.number {sync.get('number')} is not 1..instances-1")
            if sync.get("dataDurability", "required") != "required":
                problems.append(f"{where}: synchronous.dataDurability {sync['dataDurability']}: commits may return unreplicated")
        archivers = [p for p in s.get("plugins") or [] if p.get("isWALArchiver") and p.get("enabled", True)]
        if not any(p["name"] == CNPG_PLUGIN for p in archivers):
            problems.append(f"{where}: no WAL archiving (plugin {CNPG_PLUGIN} with isWALArchiver)")
        for p in archivers:
            store = (p.get("parameters") or {}).get("barmanObjectName")
            if ("ObjectStore", store) not in kinds:
                problems.append(f"{where}: barmanObjectName {store} is not an ObjectStore of the manifests")
        backups = [d for d in docs if d["kind"] == "ScheduledBackup" and d["spec"]["cluster"]["name"] == name]
        if not any(b["spec"].get("method") == "plugin" and (b["spec"].get("pluginConfiguration") or {}).get("name") == CNPG_PLUGIN
                   and not b["spec"].get("suspend") for b in backups):
            problems.append(f"{where}: no ScheduledBackup through the {CNPG_PLUGIN} plugin")
        certs = s.get("certificates") or {}
        if not (certs.get("serverTLSSecret") and certs.get("serverCASecret")):
            problems.append(f"{where}: no server certificate of the deployment's CA (certificates.serverTLSSecret, serverCASecret)")
        hba = (s.get("postgresql") or {}).get("pg_hba") or []
        if not any(line.split()[:4] == ["hostnossl", "all", "all", "all"] and line.split()[-1] == "reject" for line in hba):
            problems.append(f"{where}: pg_hba lacks 'hostnossl all all all reject': the operator's last line accepts plaintext clients")
        problems += [f"{where}: {p}" for p in check_pg_hba("\n".join(hba))]
        if s.get("enableSuperuserAccess"):
            problems.append(f"{where}: enableSuperuserAccess: a network login for postgres")
        pod, ctr = s.get("podSecurityContext") or {}, s.get("securityContext") or {}
        if pod and (pod.get("runAsNonRoot") is not True or pod.get("runAsUser") == 0):
            problems.append(f"{where}: podSecurityContext runs as root")
        if ctr and (ctr.get("allowPrivilegeEscalation") is not False or "ALL" not in (ctr.get("capabilities") or {}).get("drop", [])):
            problems.append(f"{where}: securityContext allows privilege escalation or keeps capabilities")
        stop, smart = s.get("stopDelay", 1800), s.get("smartShutdownTimeout", 180)
        if stop <= smart:
            problems.append(f"{where}: stopDelay {stop} <= smartShutdownTimeout {smart}: no time left for the fast shutdown")
        if not (s.get("monitoring") or {}).get("enablePodMonitor"):
            problems.append(f"{where}: monitoring.enablePodMonitor is off (no metrics of the instances)")
        if not (s.get("storage") or {}).get("size"):
            problems.append(f"{where}: no storage size")
        for w in workloads(docs):
            if not is_service(w):
                continue
            for ctn in w.containers(init=False):
                env, _ = expanded_env(docs, w, ctn)
                if env.get("CES_POSTGRES") and postgres_host(env["CES_POSTGRES"]) != f"{name}-rw":
                    problems.append(f"{w.ref}: CES_POSTGRES reaches {postgres_host(env['CES_POSTGRES'])}, not the primary service {name}-rw")
                read = env.get("CES_POSTGRES_READ")
                if read and postgres_host(read) not in (f"{name}-ro", f"{name}-r", f"{name}-rw"):
                    problems.append(f"{w.ref}: CES_POSTGRES_READ reaches {postgres_host(read)}, not a service of {name}")
    return problems


def _rule_ports(rule):
    return {p.get("port") for p in rule.get("ports") or [{"port": None}]}


def ingress_allows(docs, target, port, source=None, namespace=None):
    """Some NetworkPolicy selecting the target pod labels admits `port` from
    pods with the source labels (same namespace) or from a namespace."""
    for n in (d for d in docs if d["kind"] == "NetworkPolicy"):
        if not selector_matches(n["spec"].get("podSelector"), target):
            continue
        for rule in n["spec"].get("ingress") or []:
            if not ({port, None} & _rule_ports(rule)):
                continue
            for peer in rule.get("from") or []:
                ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                if source is not None and "namespaceSelector" not in peer and selector_matches(peer.get("podSelector"), source):
                    return True
                if namespace is not None and ns == namespace:
                    return True
    return False


def egress_allows(docs, source, target, port):
    """The source pods may open `port` on the target pods (no egress policy
    selecting them, or a rule that admits it)."""
    policies = [n for n in docs if n["kind"] == "NetworkPolicy" and "Egress" in n["spec"].get("policyTypes", [])
                and selector_matches(n["spec"].get("podSelector"), source)]
    return not policies or any(
        {port, None} & _rule_ports(rule) and any("namespaceSelector" not in peer and selector_matches(peer.get("podSelector"), target)
                                                 for peer in rule.get("to") or [])
        for n in policies for rule in n["spec"].get("egress") or [])


def check_cnpg_network(docs, operator_namespace="cnpg-system"):
    """The instances of a CloudNativePG Cluster: replication among themselves,
    store-consume and the api on 5432, the operator's instance-manager calls
    (8000), Prometheus on 9187; the services' egress reaches them."""
    problems = []
    for w in (w for w in workloads(docs) if w.kind == "Cluster"):
        pod = w.pod_labels()
        for port in (5432, 8000):
            if not ingress_allows(docs, pod, port, source=pod):
                problems.append(f"{w.ref}: instances do not accept each other on {port} (replication, instance manager)")
        if not ingress_allows(docs, pod, 8000, namespace=operator_namespace):
            problems.append(f"{w.ref}: the operator (namespace {operator_namespace}) cannot reach the instance manager on 8000")
        if not ingress_allows(docs, pod, 9187, namespace="monitoring"):
            problems.append(f"{w.ref}: Prometheus (namespace monitoring) cannot scrape 9187")
        for client in (c for c in workloads(docs) if c.labels.get("app") in ("ces-store-consume", "ces-api")):
            if not ingress_allows(docs, pod, 5432, source=client.pod_labels()):
                problems.append(f"{w.ref}: instances do not accept {client.ref} on 5432")
            if not egress_allows(docs, client.pod_labels(), pod, 5432):
                problems.append(f"{client.ref}: egress to {w.ref} on 5432 is not allowed")
    return problems


def check_mongo_uris(uris):
    problems = []
    for name, uri in uris.items():
        params = dict(p.split("=", 1) for p in uri.split("?", 1)[-1].split("&") if "=" in p)
        if params.get("tls") != "true" or not params.get("tlsCAFile"):
            problems.append(f"MongoDB URI {name}: no tls=true with a tlsCAFile")
        if not re.match(r"mongodb://[^:@/]+:[^@/]+@", uri):
            problems.append(f"MongoDB URI {name}: no credentials")
    return problems


def check_pg_hba(text):
    problems = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "host" or (fields[0] == "hostnossl" and fields[-1] != "reject"):
            problems.append(f"pg_hba.conf accepts connections without TLS: {line.strip()}")
        if fields[-1] in ("trust", "password", "md5"):
            problems.append(f"pg_hba.conf: weak method {fields[-1]}: {line.strip()}")
    return problems


INTERNAL_PATHS = ("/metrics", "/healthz", "/readyz")


def path_covers(rule_path, path_type, path):
    if path_type == "Exact":
        return rule_path == path
    prefix = rule_path.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/") or (path_type == "ImplementationSpecific" and path.startswith(prefix))


def check_ingress(docs):
    """Ingresses serve TLS only, and never the internal endpoints."""
    problems = []
    for ing in (d for d in docs if d["kind"] == "Ingress"):
        tls_hosts = {h for t in ing["spec"].get("tls") or [] for h in t.get("hosts", []) if t.get("secretName")}
        for rule in ing["spec"].get("rules", []):
            if rule.get("host") not in tls_hosts:
                problems.append(f"{name_of(ing)}: host {rule.get('host')} without TLS")
            for p in rule.get("http", {}).get("paths", []):
                for internal in INTERNAL_PATHS:
                    if path_covers(p.get("path", "/"), p.get("pathType", "Prefix"), internal):
                        problems.append(f"{name_of(ing)}: path {p.get('path')} exposes {internal}")
    return problems


def check_shutdown_hooks(docs):
    """api: a preStop delay (the pod leaves the endpoints before SIGTERM);
    mongod: a startupProbe (journal recovery of a large member)."""
    problems = []
    for w in workloads(docs):
        app = w.labels.get("app")
        for c in w.containers(init=False):
            if app == "ces-api" and not ((c.get("lifecycle") or {}).get("preStop")):
                problems.append(f"{w.ref}: container {c['name']} has no preStop delay (502s during rollouts)")
            if app == "mongo-events" and c["name"] == "mongod" and not c.get("startupProbe"):
                problems.append(f"{w.ref}: mongod has no startupProbe")
        if app == "ces-api":
            pre = next((c.get("lifecycle", {}).get("preStop", {}) for c in w.containers(init=False)), {})
            delay = int(((pre.get("exec") or {}).get("command") or ["", "0"])[-1] or 0) if pre.get("exec") else 0
            if delay and w.spec.get("terminationGracePeriodSeconds", 30) < delay + 30:
                problems.append(f"{w.ref}: grace period does not cover the preStop delay plus the drain")
    return problems


# --------------------------------------------------------------------------
# monitoring: alert rules and dashboards name existing metrics only
# --------------------------------------------------------------------------
METRIC_PREFIXES = ("ces_", "kafka_", "pg_", "kubelet_", "kube_")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def code_metrics(src=os.path.join(REPO, "src")):
    """Every ces_* metric name the code registers (string literals in src/)."""
    names = set()
    for folder, _, files in os.walk(src):
        for f in files:
            if f.endswith((".cpp", ".hpp", ".h", ".cc")):
                with open(os.path.join(folder, f), errors="replace") as fh:
                    names.update(re.findall(r'"(ces_[a-z0-9_]+)"', fh.read()))
    return names


def exporter_metrics(path=os.path.join(REPO, "deploy/kubernetes/components/monitoring/exporter-metrics.txt")):
    with open(path) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def metric_names(expr):
    """Metric names in a PromQL expression (label matchers, grouping labels and
    strings left out)."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set(re.findall(r"(?<![\w.$])([a-z_][a-z0-9_]*)(?=\s*(?:\[|\)|$|\s|[<>=!+\-*/,]))", expr))
    return {n for n in names if n.startswith(METRIC_PREFIXES) or n == "up"}


def check_metric_names(exprs, known):
    problems = []
    for where, expr in exprs:
        for name in sorted(metric_names(expr)):
            base = name
            for suffix in HISTOGRAM_SUFFIXES:
                if name.endswith(suffix) and name[: -len(suffix)] in known:
                    base = name[: -len(suffix)]
            if base not in known:
                problems.append(f"{where}: metric {name} is exported neither by the code nor by a listed exporter")
    return problems


def rule_exprs(docs):
    out = []
    for d in docs:
        if d["kind"] != "PrometheusRule":
            continue
        for g in d["spec"]["groups"]:
            for r in g["rules"]:
                out.append((f"{name_of(d)} {r.get('alert') or r.get('record')}", r["expr"]))
    return out


def dashboard_exprs(dashboard, where):
    out = []
    for p in dashboard.get("panels", []):
        for t in p.get("targets", []):
            if "expr" in t:
                out.append((f"{where} panel {p.get('title')!r}", t["expr"]))
    return out
