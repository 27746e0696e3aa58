#!/usr/bin/env python3
"""Generate testdata/cluster/: the objects, Helm release payloads and pod logs the test API server
(tests/apiserver/) serves. Python 3 standard library only; the output is deterministic, so running it
again rewrites the committed files byte for byte unless the script changed.

    python3 tests/scripts/gen-cluster-data.py            # rewrites testdata/cluster/

The cluster: a production cluster run by the Flux Operator (FluxInstance `flux`, Flux v2.7) with
several objects of every Flux kind, healthy and failing for real reasons (Git auth failure, OCI tag
not found, HelmRelease install retries exhausted, Kustomization dependency not ready, health check
failed, path not found), their Events, Helm storage Secrets encoded exactly like Helm's secret driver
(base64 of gzip of the release JSON, then base64 again as Secret data), controller pods with JSON logs,
app workloads (one pod with two containers, one with a default-container annotation, one crash-looping with a
previous container, a DaemonSet, a Job, a CronJob whose latest run failed) and metrics.

The API server completes what a real one adds on write (resourceVersion, managedFields where absent,
CRD status), so this script writes objects the way `kubectl get -o yaml` would show them otherwise.
"""

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "cluster")
NOW = dt.datetime(2026, 11, 21, 5, 30, 0, tzinfo=dt.timezone.utc)
FLUX_VERSION = "v2.7.2"


# ---------------------------------------------------------------------------------------------
# Small helpers: time, ids, digests
# ---------------------------------------------------------------------------------------------

def at(minutes_ago, seconds=0):
    """RFC 3339 timestamp `minutes_ago` minutes (and `seconds` seconds) before NOW."""
    t = NOW - dt.timedelta(minutes=minutes_ago, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def at_nano(minutes_ago, seconds=0.0):
    t = NOW - dt.timedelta(minutes=minutes_ago, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % (t.microsecond * 1000 + 123)


def at_milli(minutes_ago, seconds=0.0):
    t = NOW - dt.timedelta(minutes=minutes_ago, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def days(n):
    return n * 24 * 60


def hexdigest(seed, n=64):
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s#%d" % (seed, i)).encode()).hexdigest()
        i += 1
    return out[:n]


def sha1(seed):
    return hashlib.sha1(seed.encode()).hexdigest()


def sha256(seed):
    return "sha256:" + hexdigest(seed)


def uid(group, kind, ns, name):
    h = hexdigest("uid/%s/%s/%s/%s" % (group, kind, ns, name), 32)
    return "%s-%s-4%s-%s%s-%s" % (h[0:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) % 4], h[17:20], h[20:32])


def pod_suffix(seed, n=5):
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = int(hexdigest(seed, 16), 16)
    s = ""
    for _ in range(n):
        s += alphabet[h % len(alphabet)]
        h //= len(alphabet)
    return s


def rs_hash(seed):
    return pod_suffix("rs/" + seed, 10)[:9].lower().replace("z", "5")


# ---------------------------------------------------------------------------------------------
# A YAML emitter (block style, JSON-quoted scalars where plain would be ambiguous)
# ---------------------------------------------------------------------------------------------

PLAIN_UNSAFE = re.compile(r"^(true|false|yes|no|on|off|null|~|y|n)$", re.I)


def scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    s = str(v)
    if (s == "" or PLAIN_UNSAFE.match(s) or s[0] in "-?:,[]{}#&*!|>'\"%@` "
            or s[-1] == " " or ": " in s or " #" in s or "\t" in s or s.endswith(":")
            or re.match(r"^[-+]?[0-9][0-9_.:eE+-]*$", s) or re.match(r"^\d{4}-\d\d-\d\d", s)
            or re.match(r"^[-+]?\.(\d|inf$|nan$)", s, re.I)):
        return json.dumps(s, ensure_ascii=False)
    return s


def emit(v, indent=0):
    pad = " " * indent
    lines = []
    if isinstance(v, dict):
        if not v:
            return [pad + "{}"]
        for k, val in sorted(v.items()):
            key = scalar(k)
            if isinstance(val, dict) and val:
                lines.append("%s%s:" % (pad, key))
                lines.extend(emit(val, indent + 2))
            elif isinstance(val, list) and val:
                lines.append("%s%s:" % (pad, key))
                lines.extend(emit(val, indent))
            elif isinstance(val, str) and "\n" in val and block_ok(val):
                lines.append("%s%s: %s" % (pad, key, block_header(val)))
                lines.extend(block_lines(val, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, key, inline(val)))
        return lines
    if isinstance(v, list):
        if not v:
            return [pad + "[]"]
        for item in v:
            if isinstance(item, dict) and item:
                sub = emit(item, indent + 2)
                lines.append(pad + "- " + sub[0][indent + 2:])
                lines.extend(sub[1:])
            elif isinstance(item, list) and item:
                lines.append(pad + "-")
                lines.extend(emit(item, indent + 2))
            else:
                lines.append(pad + "- " + inline(item))
        return lines
    return [pad + inline(v)]


def inline(v):
    if isinstance(v, dict) and not v:
        return "{}"
    if isinstance(v, list) and not v:
        return "[]"
    return scalar(v)


def block_ok(s):
    body = s[:-1] if s.endswith("\n") else s
    return (not s.startswith(" ") and not body.endswith("\n")
            and all(not l.endswith(" ") and "\t" not in l for l in body.split("\n")))


def block_header(s):
    return "|" if s.endswith("\n") else "|-"


def block_lines(s, indent):
    body = s[:-1] if s.endswith("\n") else s
    return [(" " * indent + l) if l else "" for l in body.split("\n")]


def write_yaml(name, docs, comment):
    text = "# %s\n# Generated by tests/scripts/gen-cluster-data.py; edit the script, not this file.\n" % comment
    for d in docs:
        text += "---\n" + "\n".join(emit(d)) + "\n"
    with open(os.path.join(ROOT, name), "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------
# Object builders
# ---------------------------------------------------------------------------------------------

FLUX_LABELS = {
    "kustomize.toolkit.fluxcd.io/name": "flux-system",
    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
}


def meta(group, kind, name, ns=None, created=days(30), labels=None, annotations=None, generation=None,
         finalizers=None, owner=None, extra=None):
    m = {}
    if annotations:
        m["annotations"] = annotations
    m["creationTimestamp"] = at(created)
    if finalizers:
        m["finalizers"] = finalizers
    if generation is not None:
        m["generation"] = generation
    if labels:
        m["labels"] = labels
    m["name"] = name
    if ns is not None:
        m["namespace"] = ns
    if owner:
        m["ownerReferences"] = owner
    m["uid"] = uid(group, kind, ns or "", name)
    if extra:
        m.update(extra)
    return m


def cond(type_, status, reason, message, ago, generation=1):
    return {
        "lastTransitionTime": at(ago),
        "message": message,
        "observedGeneration": generation,
        "reason": reason,
        "status": status,
        "type": type_,
    }


def ready(message, ago, generation=1, reason="Succeeded"):
    return cond("Ready", "True", reason, message, ago, generation)


def artifact(kind, ns, name, revision, file, ago, size):
    path = "%s/%s/%s/%s" % (kind.lower(), ns, name, file)
    return {
        "digest": sha256("artifact/" + path + revision),
        "lastUpdateTime": at(ago),
        "path": path,
        "revision": revision,
        "size": size,
        "url": "http://source-controller.flux-system.svc.cluster.local./" + path,
    }


def flux_obj(api_version, kind, name, ns, spec, status, created=days(30), labels=None, annotations=None,
             generation=1, finalizers=True):
    group = api_version.split("/")[0]
    fin = ["finalizers.fluxcd.io"] if finalizers else None
    lbl = dict(FLUX_LABELS)
    if labels:
        lbl.update(labels)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": meta(group, kind, name, ns, created, lbl, annotations, generation, fin),
        "spec": spec,
        "status": status,
    }


# Git revisions of the fleet repository.
MAIN_SHA = sha1("fleet-infra/main/482")
MAIN_REV = "main@sha1:" + MAIN_SHA
PREV_SHA = sha1("fleet-infra/main/481")

OBJECTS = {}  # file name -> list of objects
EVENTS = []
LOGS = {}  # (ns, pod, container, previous) -> list of (ts, text)


def add(file, *objs):
    OBJECTS.setdefault(file, []).extend(objs)
    return objs[0] if len(objs) == 1 else objs


# ---------------------------------------------------------------------------------------------
# CRDs (abbreviated schemas; real names, versions, scope, short names and printer columns)
# ---------------------------------------------------------------------------------------------

AGE_COL = {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}
READY_COL = {"jsonPath": '.status.conditions[?(@.type=="Ready")].status', "name": "Ready", "type": "string"}
STATUS_COL = {"jsonPath": '.status.conditions[?(@.type=="Ready")].message', "name": "Status", "type": "string"}
# The column triple most Flux kinds print, in the two orders their CRDs use.
AGE_READY_STATUS = [AGE_COL, READY_COL, STATUS_COL]
READY_STATUS_AGE = [READY_COL, STATUS_COL, AGE_COL]


def v1_and_v1beta2(columns, beta_columns=None):
    """The versions of a kind still serving its deprecated v1beta2 beside the stored v1; the
    v1beta2 columns are the v1 ones unless given."""
    return [
        {"name": "v1", "storage": True, "columns": columns},
        {"name": "v1beta2", "deprecated": True, "columns": beta_columns or columns},
    ]


def crd(group, kind, plural, versions, short=None, scope="Namespaced", controller=None, categories=None):
    names = {"kind": kind, "listKind": kind + "List", "plural": plural}
    if short:
        names["shortNames"] = short
    names["singular"] = kind.lower()
    if categories:
        names["categories"] = categories
    vs = []
    for v in versions:
        entry = {}
        if v.get("columns"):
            entry["additionalPrinterColumns"] = v["columns"]
        if v.get("deprecated"):
            entry["deprecated"] = True
            entry["deprecationWarning"] = "%s/%s %s is deprecated, upgrade to %s" % (group, v["name"], kind, versions[0]["name"])
        entry["name"] = v["name"]
        entry["schema"] = {"openAPIV3Schema": {
            "description": "%s is the Schema for the %s API." % (kind, plural),
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }}
        entry["served"] = True
        entry["storage"] = v.get("storage", False)
        entry["subresources"] = {"status": {}}
        vs.append(entry)
    labels = {
        "app.kubernetes.io/component": controller or "flux-operator",
        "app.kubernetes.io/instance": "flux-system",
        "app.kubernetes.io/managed-by": "flux-operator",
        "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/version": FLUX_VERSION,
        "fluxcd.controlplane.io/name": "flux",
        "fluxcd.controlplane.io/namespace": "flux-system",
    }
    if group == "fluxcd.controlplane.io":
        labels = {"app.kubernetes.io/name": "flux-operator", "app.kubernetes.io/version": "v0.33.0"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta("apiextensions.k8s.io", "CustomResourceDefinition", plural + "." + group, None, days(41),
                         labels, {"controller-gen.kubebuilder.io/version": "v0.19.0"}, 1),
        "spec": {
            "group": group,
            "names": names,
            "scope": scope,
            "versions": vs,
        },
    }


def crds():
    src = "source.toolkit.fluxcd.io"
    url = {"jsonPath": ".spec.url", "name": "URL", "type": "string"}
    chart = [
        {"jsonPath": ".spec.chart", "name": "Chart", "type": "string"},
        {"jsonPath": ".spec.version", "name": "Version", "type": "string"},
    ]
    out = [
        crd(src, "Bucket", "buckets", v1_and_v1beta2(
            [{"jsonPath": ".spec.endpoint", "name": "Endpoint", "type": "string"}] + AGE_READY_STATUS
        ), controller="source-controller"),
        crd(src, "ExternalArtifact", "externalartifacts", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS + [{"jsonPath": ".spec.sourceRef.name", "name": "Source", "type": "string"}]},
        ], controller="source-controller"),
        crd(src, "GitRepository", "gitrepositories", v1_and_v1beta2([url] + AGE_READY_STATUS), short=["gitrepo"], controller="source-controller"),
        crd(src, "HelmChart", "helmcharts", v1_and_v1beta2(
            chart + [
                {"jsonPath": ".spec.sourceRef.kind", "name": "Source Kind", "type": "string"},
                {"jsonPath": ".spec.sourceRef.name", "name": "Source Name", "type": "string"},
            ] + AGE_READY_STATUS,
            chart + AGE_READY_STATUS,
        ), short=["hc"], controller="source-controller"),
        crd(src, "HelmRepository", "helmrepositories", v1_and_v1beta2([url] + AGE_READY_STATUS), short=["helmrepo"], controller="source-controller"),
        crd(src, "OCIRepository", "ocirepositories", v1_and_v1beta2([url] + READY_STATUS_AGE), short=["ocirepo"], controller="source-controller"),
        crd("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS},
        ], short=["ks"], controller="kustomize-controller"),
        crd("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases", [
            {"name": "v2", "storage": True, "columns": AGE_READY_STATUS},
        ], short=["hr"], controller="helm-controller"),
        crd("notification.toolkit.fluxcd.io", "Alert", "alerts", [
            {"name": "v1beta3", "storage": True, "columns": [AGE_COL]},
        ], controller="notification-controller"),
        crd("notification.toolkit.fluxcd.io", "Provider", "providers", [
            {"name": "v1beta3", "storage": True, "columns": [AGE_COL]},
        ], controller="notification-controller"),
        crd("notification.toolkit.fluxcd.io", "Receiver", "receivers", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS},
        ], controller="notification-controller"),
        crd("image.toolkit.fluxcd.io", "ImagePolicy", "imagepolicies", v1_and_v1beta2(
            [
                {"jsonPath": ".spec.imageRepositoryRef.name", "name": "ImageRepository", "type": "string"},
                {"jsonPath": ".status.latestRef.tag", "name": "LatestTag", "type": "string"},
            ] + READY_STATUS_AGE,
            READY_STATUS_AGE,
        ), controller="image-reflector-controller"),
        crd("image.toolkit.fluxcd.io", "ImageRepository", "imagerepositories", v1_and_v1beta2(
            [
                {"jsonPath": ".spec.image", "name": "Image", "type": "string"},
                {"jsonPath": ".status.lastScanResult.tagCount", "name": "Tags", "type": "integer"},
                {"jsonPath": ".status.lastScanResult.scanTime", "name": "Last scan", "type": "string"},
            ] + READY_STATUS_AGE,
            READY_STATUS_AGE,
        ), controller="image-reflector-controller"),
        crd("image.toolkit.fluxcd.io", "ImageUpdateAutomation", "imageupdateautomations", v1_and_v1beta2(
            [
                {"jsonPath": ".status.lastAutomationRunTime", "name": "Last run", "type": "string"},
            ] + READY_STATUS_AGE,
            READY_STATUS_AGE,
        ), controller="image-automation-controller"),
        crd("fluxcd.controlplane.io", "FluxInstance", "fluxinstances", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS + [
                {"jsonPath": ".status.lastAttemptedRevision", "name": "Revision", "type": "string"}]},
        ]),
        crd("fluxcd.controlplane.io", "FluxReport", "fluxreports", [
            {"name": "v1", "storage": True, "columns": [
                {"jsonPath": ".spec.distribution.entitlement", "name": "Entitlement", "type": "string"},
            ] + AGE_READY_STATUS},
        ]),
        crd("fluxcd.controlplane.io", "ResourceSet", "resourcesets", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS},
        ], short=["rset"]),
        crd("fluxcd.controlplane.io", "ResourceSetInputProvider", "resourcesetinputproviders", [
            {"name": "v1", "storage": True, "columns": AGE_READY_STATUS},
        ], short=["rsip"]),
        crd("source.extensions.fluxcd.io", "ArtifactGenerator", "artifactgenerators", [
            {"name": "v1beta1", "storage": True, "columns": AGE_READY_STATUS},
        ], short=["ag"], controller="source-watcher"),
    ]
    add("00-crds.yaml", *out)


# ---------------------------------------------------------------------------------------------
# Namespaces and nodes
# ---------------------------------------------------------------------------------------------

NODES = ["prod-eu1-cp-7xk2q", "prod-eu1-pool-a-4d8fm", "prod-eu1-pool-a-9hw3c"]


def namespaces_and_nodes():
    objs = []
    for ns, created, labels in [
        ("default", days(41), {}),
        ("kube-system", days(41), {}),
        ("flux-system", days(40), {"app.kubernetes.io/instance": "flux-system", "app.kubernetes.io/part-of": "flux",
                                   "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}),
        ("apps", days(35), dict(FLUX_LABELS, **{"toolkit.fluxcd.io/tenant": "dev-team"})),
        ("monitoring", days(35), dict(FLUX_LABELS)),
        ("cert-manager", days(38), dict(FLUX_LABELS)),
    ]:
        lbl = {"kubernetes.io/metadata.name": ns}
        lbl.update(labels)
        objs.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta("", "Namespace", ns, None, created, lbl),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })
    for i, node in enumerate(NODES):
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node,
            "kubernetes.io/os": "linux",
            "topology.kubernetes.io/region": "eu-west-1",
            "topology.kubernetes.io/zone": "eu-west-1" + "abc"[i],
        }
        if i == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
        objs.append({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta("", "Node", node, None, days(41), labels,
                             {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}),
            "spec": {"podCIDR": "10.244.%d.0/24" % i, "providerID": "aws:///eu-west-1%s/i-0%s" % ("abc"[i], hexdigest(node, 16))},
            "status": {
                "addresses": [{"address": "10.0.%d.1%d" % (i, i), "type": "InternalIP"}, {"address": node, "type": "Hostname"}],
                "allocatable": {"cpu": "3920m", "ephemeral-storage": "95551679124", "memory": "15257616Ki", "pods": "110"},
                "capacity": {"cpu": "4", "ephemeral-storage": "103677440Ki", "memory": "16308240Ki", "pods": "110"},
                "conditions": [
                    {"lastHeartbeatTime": at(1), "lastTransitionTime": at(days(41)), "message": "kubelet has sufficient memory available", "reason": "KubeletHasSufficientMemory", "status": "False", "type": "MemoryPressure"},
                    {"lastHeartbeatTime": at(1), "lastTransitionTime": at(days(41)), "message": "kubelet is posting ready status", "reason": "KubeletReady", "status": "True", "type": "Ready"},
                ],
                "nodeInfo": {
                    "architecture": "amd64", "bootID": uid("", "boot", "", node), "containerRuntimeVersion": "containerd://2.1.4",
                    "kernelVersion": "6.8.0-1036-aws", "kubeProxyVersion": "", "kubeletVersion": "v1.33.4",
                    "machineID": hexdigest("machine" + node, 32), "operatingSystem": "linux", "osImage": "Ubuntu 24.04.3 LTS",
                    "systemUUID": uid("", "system", "", node),
                },
            },
        })
    add("00-namespaces.yaml", *objs)


# ---------------------------------------------------------------------------------------------
# Flux sources
# ---------------------------------------------------------------------------------------------

def sources():
    g = "source.toolkit.fluxcd.io/v1"
    objs = []
    # GitRepository: the cluster's own repository (healthy).
    objs.append(flux_obj(g, "GitRepository", "flux-system", "flux-system", {
        "interval": "1m0s",
        "ref": {"branch": "main"},
        "secretRef": {"name": "flux-system"},
        "timeout": "60s",
        "url": "ssh://git@github.com/acme-corp/fleet-infra.git",
    }, {
        "artifact": artifact("GitRepository", "flux-system", "flux-system", MAIN_REV, MAIN_SHA + ".tar.gz", 8, 94211),
        "conditions": [
            ready("stored artifact for revision '%s'" % MAIN_REV, 8),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for revision '%s'" % MAIN_REV, 8),
        ],
        "observedGeneration": 1,
    }, created=days(40), labels={"fluxcd.controlplane.io/name": "flux", "fluxcd.controlplane.io/namespace": "flux-system"}))
    # GitRepository: app charts repository (healthy, tag ref).
    webapp_rev = "v3.8.1@sha1:" + sha1("webapp/v3.8.1")
    objs.append(flux_obj(g, "GitRepository", "webapp", "apps", {
        "interval": "5m0s",
        "ref": {"tag": "v3.8.1"},
        "secretRef": {"name": "webapp-git-auth"},
        "url": "https://github.com/acme-corp/webapp.git",
        "ignore": "/*\n!/charts/\n",
    }, {
        "artifact": artifact("GitRepository", "apps", "webapp", webapp_rev, sha1("webapp/v3.8.1") + ".tar.gz", 45, 18733),
        "conditions": [
            ready("stored artifact for revision '%s'" % webapp_rev, days(2)),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for revision '%s'" % webapp_rev, days(2)),
        ],
        "observedGeneration": 1,
    }, created=days(34)))
    # GitRepository: private infra repo whose deploy key was rotated away (auth failure).
    auth_err = ("failed to checkout and determine revision: unable to clone 'ssh://git@github.com/acme-corp/infra-private.git': "
                "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain")
    objs.append(flux_obj(g, "GitRepository", "infra-private", "flux-system", {
        "interval": "5m0s",
        "ref": {"branch": "main"},
        "secretRef": {"name": "infra-private-deploy-key"},
        "timeout": "60s",
        "url": "ssh://git@github.com/acme-corp/infra-private.git",
    }, {
        "artifact": artifact("GitRepository", "flux-system", "infra-private", "main@sha1:" + sha1("infra-private/88"), sha1("infra-private/88") + ".tar.gz", days(3), 40233),
        "conditions": [
            cond("Reconciling", "True", "ProgressingWithRetry", "building artifact: " + auth_err, 90, 2),
            cond("Ready", "False", "GitOperationFailed", auth_err, 90, 2),
            cond("FetchFailed", "True", "GitOperationFailed", auth_err, 90, 2),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for revision 'main@sha1:%s'" % sha1("infra-private/88"), days(3), 1),
        ],
        "observedGeneration": 1,
    }, created=days(21), generation=2))
    # OCIRepositories.
    pod_dig = "latest@" + sha256("podinfo-manifests")
    objs.append(flux_obj(g, "OCIRepository", "podinfo", "apps", {
        "interval": "10m0s",
        "provider": "generic",
        "ref": {"semver": "6.9.x"},
        "url": "oci://ghcr.io/stefanprodan/manifests/podinfo",
    }, {
        "artifact": dict(artifact("OCIRepository", "apps", "podinfo", "6.9.2@" + sha256("podinfo-manifests-692"), hexdigest("podinfo-oci", 64) + ".tar.gz", 30, 1536),
                         metadata={
                             "org.opencontainers.image.created": "2026-10-02T11:03:27Z",
                             "org.opencontainers.image.revision": "6.9.2/" + sha1("podinfo/6.9.2"),
                             "org.opencontainers.image.source": "https://github.com/stefanprodan/podinfo",
                         }),
        "conditions": [
            ready("stored artifact for digest '6.9.2@%s'" % sha256("podinfo-manifests-692"), days(4)),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for digest '6.9.2@%s'" % sha256("podinfo-manifests-692"), days(4)),
        ],
        "observedGeneration": 1,
        "url": "http://source-controller.flux-system.svc.cluster.local./ocirepository/apps/podinfo/latest.tar.gz",
    }, created=days(34)))
    del pod_dig
    tag_err = "failed to pull artifact from 'oci://ghcr.io/acme-corp/manifests/webapp': couldn't find tag \"v2.4.0\""
    objs.append(flux_obj(g, "OCIRepository", "webapp-config", "apps", {
        "interval": "5m0s",
        "ref": {"tag": "v2.4.0"},
        "secretRef": {"name": "ghcr-auth"},
        "url": "oci://ghcr.io/acme-corp/manifests/webapp",
    }, {
        "artifact": artifact("OCIRepository", "apps", "webapp-config", "v2.3.9@" + sha256("webapp-config-239"), hexdigest("webapp-oci", 64) + ".tar.gz", days(6), 2210),
        "conditions": [
            cond("Reconciling", "True", "ProgressingWithRetry", "processing object: new generation 3 -> 4", 52, 4),
            cond("Ready", "False", "OCIOperationFailed", tag_err, 52, 4),
            cond("FetchFailed", "True", "OCIOperationFailed", tag_err, 52, 4),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for digest 'v2.3.9@%s'" % sha256("webapp-config-239"), days(6), 3),
        ],
        "observedGeneration": 3,
    }, created=days(33), generation=4))
    objs.append(flux_obj(g, "OCIRepository", "cert-manager", "flux-system", {
        "interval": "12h0m0s",
        "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
        "ref": {"semver": "1.19.x"},
        "url": "oci://quay.io/jetstack/charts/cert-manager",
    }, {
        "artifact": artifact("OCIRepository", "flux-system", "cert-manager", "v1.19.1@" + sha256("cert-manager-chart"), hexdigest("cm-oci", 64) + ".tgz", days(9), 102448),
        "conditions": [
            ready("stored artifact for digest 'v1.19.1@%s'" % sha256("cert-manager-chart"), days(9)),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact for digest 'v1.19.1@%s'" % sha256("cert-manager-chart"), days(9)),
        ],
        "observedGeneration": 1,
    }, created=days(38)))
    # HelmRepositories.
    for name, url, ago in [("podinfo", "https://stefanprodan.github.io/podinfo", 25), ("prometheus-community", "https://prometheus-community.github.io/helm-charts", 41)]:
        rev = sha256("index/" + name)
        objs.append(flux_obj(g, "HelmRepository", name, "flux-system", {"interval": "1h0m0s", "url": url}, {
            "artifact": artifact("HelmRepository", "flux-system", name, rev, "index-%s.yaml" % hexdigest("index/" + name, 64), ago, 412088 if name != "podinfo" else 36920),
            "conditions": [
                ready("stored artifact: revision '%s'" % rev, days(1)),
                cond("ArtifactInStorage", "True", "Succeeded", "stored artifact: revision '%s'" % rev, days(1)),
            ],
            "observedGeneration": 1,
            "url": "http://source-controller.flux-system.svc.cluster.local./helmrepository/flux-system/%s/index.yaml" % name,
        }, created=days(36)))
    # An OCI HelmRepository is a static object: the controller writes no artifact nor conditions.
    objs.append(flux_obj(g, "HelmRepository", "bitnami", "flux-system", {
        "interval": "1h0m0s", "provider": "generic", "type": "oci", "url": "oci://registry-1.docker.io/bitnamicharts",
    }, {}, created=days(30), finalizers=False))
    # HelmCharts, made by helm-controller from the HelmReleases' spec.chart templates.
    for ns, hr, chart, version, repo_kind, repo, got, ok_msg in [
        ("apps", "podinfo", "podinfo", "6.9.x", "HelmRepository", "podinfo", "6.9.2", None),
        ("monitoring", "kube-prometheus-stack", "kube-prometheus-stack", "79.x", "HelmRepository", "prometheus-community", "79.4.1", None),
        ("apps", "redis", "redis", "20.1.4", "HelmRepository", "bitnami", "20.1.4", None),
        ("apps", "webapp-frontend", "./charts/webapp", "*", "GitRepository", "webapp", "3.8.1", None),
        ("apps", "metrics-exporter", "metrics-exporter", "2.x", "HelmRepository", "podinfo", None,
         "invalid chart reference: failed to get chart version for remote reference: no 'metrics-exporter' chart with version matching '2.x' found"),
    ]:
        name = "%s-%s" % (ns, hr)
        spec = {"chart": chart, "interval": "10m0s", "reconcileStrategy": "ChartVersion" if repo_kind != "GitRepository" else "Revision",
                "sourceRef": {"kind": repo_kind, "name": repo}, "version": version}
        owner_labels = {"helm.toolkit.fluxcd.io/name": hr, "helm.toolkit.fluxcd.io/namespace": ns}
        if ok_msg is None:
            chart_name = chart.split("/")[-1]
            status = {
                "artifact": artifact("HelmChart", "flux-system", name, got, "%s-%s.tgz" % (chart_name, got), days(3), 15890),
                "conditions": [
                    ready("pulled '%s' chart with version '%s'" % (chart_name, got), days(3), reason="ChartPullSucceeded"),
                    cond("ArtifactInStorage", "True", "ChartPullSucceeded", "pulled '%s' chart with version '%s'" % (chart_name, got), days(3)),
                ],
                "observedChartName": chart_name,
                "observedGeneration": 1,
                "observedSourceArtifactRevision": webapp_rev if repo_kind == "GitRepository" else sha256("index/" + repo),
                "url": "http://source-controller.flux-system.svc.cluster.local./helmchart/flux-system/%s/latest.tgz" % name,
            }
        else:
            status = {
                "conditions": [
                    cond("Reconciling", "True", "ProgressingWithRetry", "processing object: new generation 0 -> 1", 200),
                    cond("Ready", "False", "InvalidChartReference", ok_msg, 200),
                    cond("FetchFailed", "True", "InvalidChartReference", ok_msg, 200),
                ],
                "observedGeneration": 1,
            }
        o = flux_obj(g, "HelmChart", name, "flux-system", spec, status, created=days(30) if ok_msg is None else 200)
        o["metadata"]["labels"] = owner_labels
        objs.append(o)
    # Buckets.
    rev = sha256("bucket/terraform-outputs")
    objs.append(flux_obj(g, "Bucket", "terraform-outputs", "flux-system", {
        "bucketName": "acme-prod-terraform-outputs", "endpoint": "s3.eu-west-1.amazonaws.com", "interval": "5m0s",
        "provider": "aws", "region": "eu-west-1",
    }, {
        "artifact": artifact("Bucket", "flux-system", "terraform-outputs", rev, hexdigest("bucket-tf", 64) + ".tar.gz", 4, 8192),
        "conditions": [
            ready("stored artifact: revision '%s'" % rev, days(5)),
            cond("ArtifactInStorage", "True", "Succeeded", "stored artifact: revision '%s'" % rev, days(5)),
        ],
        "observedGeneration": 1,
    }, created=days(29)))
    bucket_err = "failed to confirm existence of 'cluster-backups' bucket: Access Denied."
    objs.append(flux_obj(g, "Bucket", "cluster-backups", "flux-system", {
        "bucketName": "cluster-backups", "endpoint": "minio.storage.acme.internal:9000", "interval": "10m0s",
        "provider": "generic", "secretRef": {"name": "minio-credentials"},
    }, {
        "conditions": [
            cond("Reconciling", "True", "ProgressingWithRetry", "processing object: new generation 1 -> 2", days(2), 2),
            cond("Ready", "False", "BucketOperationFailed", bucket_err, days(2), 2),
            cond("FetchFailed", "True", "BucketOperationFailed", bucket_err, days(2), 2),
        ],
        "observedGeneration": 1,
    }, created=days(12), generation=2))
    # ExternalArtifacts, produced by ArtifactGenerators.
    for name, gen, ok in [("podinfo-config", "podinfo", True), ("platform-policies", "policies", False)]:
        rev = "latest@" + sha256("ea/" + name)
        status = {"conditions": [], "observedGeneration": 1}
        if ok:
            status["artifact"] = artifact("ExternalArtifact", "flux-system", name, rev, hexdigest("ea/" + name, 64) + ".tar.gz", 8, 3120)
            status["conditions"] = [ready("stored artifact for revision '%s'" % rev, 8)]
        else:
            status["conditions"] = [cond("Ready", "False", "SourceNotReady",
                                         "ArtifactGenerator 'flux-system/policies' failed to produce the artifact", 90)]
        o = flux_obj(g, "ExternalArtifact", name, "flux-system", {
            "sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator", "name": gen},
        }, status, created=days(15), finalizers=False)
        o["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "source-watcher", "source.extensions.fluxcd.io/generator": gen}
        objs.append(o)
    add("sources.yaml", *objs)


# ---------------------------------------------------------------------------------------------
# Kustomizations
# ---------------------------------------------------------------------------------------------

def inv(*entries):
    return {"entries": [{"id": i, "v": v} for i, v in entries]}


def kustomizations():
    g = "kustomize.toolkit.fluxcd.io/v1"
    objs = []
    src = {"kind": "GitRepository", "name": "flux-system"}

    def ks(name, spec, status, **kw):
        base = {"interval": "10m0s", "path": "./clusters/production", "prune": True, "sourceRef": src, "timeout": "5m0s"}
        base.update(spec)
        return flux_obj(g, "Kustomization", name, kw.pop("ns", "flux-system"), base, status, **kw)

    ok = "Applied revision: " + MAIN_REV
    objs.append(ks("flux-system", {"path": "./clusters/production"}, {
        "conditions": [ready(ok, 8, reason="ReconciliationSucceeded")],
        "inventory": inv(
            ("_apps__Namespace", "v1"), ("_monitoring__Namespace", "v1"), ("_cert-manager__Namespace", "v1"),
            ("flux-system_infra-controllers_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_infra-configs_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_monitoring-controllers_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_monitoring-configs_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_tenants_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_platform-addons_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
            ("flux-system_flux-system_source.toolkit.fluxcd.io_GitRepository", "v1"),
            ("flux-system_infra-private_source.toolkit.fluxcd.io_GitRepository", "v1"),
            ("flux-system_podinfo_source.toolkit.fluxcd.io_HelmRepository", "v1"),
            ("flux-system_prometheus-community_source.toolkit.fluxcd.io_HelmRepository", "v1"),
            ("flux-system_bitnami_source.toolkit.fluxcd.io_HelmRepository", "v1"),
            ("flux-system_on-call_notification.toolkit.fluxcd.io_Alert", "v1beta3"),
            ("flux-system_slack_notification.toolkit.fluxcd.io_Provider", "v1beta3"),
        ),
        "lastAppliedRevision": MAIN_REV,
        "lastAttemptedRevision": MAIN_REV,
        "observedGeneration": 1,
    }, created=days(40), labels={"fluxcd.controlplane.io/name": "flux", "fluxcd.controlplane.io/namespace": "flux-system"}))
    objs.append(ks("infra-controllers", {"path": "./infrastructure/controllers", "wait": True, "interval": "1h0m0s"}, {
        "conditions": [ready(ok, 8, reason="ReconciliationSucceeded"),
                       cond("Healthy", "True", "Succeeded", "Health check passed in 10.084s", 8)],
        "inventory": inv(("cert-manager_cert-manager_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("flux-system_cert-manager_source.toolkit.fluxcd.io_OCIRepository", "v1")),
        "lastAppliedRevision": MAIN_REV, "lastAttemptedRevision": MAIN_REV, "observedGeneration": 1,
    }))
    objs.append(ks("infra-configs", {"path": "./infrastructure/configs", "dependsOn": [{"name": "infra-controllers"}]}, {
        "conditions": [ready(ok, 8, reason="ReconciliationSucceeded")],
        "inventory": inv(("_letsencrypt-prod_cert-manager.io_ClusterIssuer", "v1"), ("_letsencrypt-staging_cert-manager.io_ClusterIssuer", "v1")),
        "lastAppliedRevision": MAIN_REV, "lastAttemptedRevision": MAIN_REV, "observedGeneration": 1,
    }))
    health_err = "health check failed after 5m0.041s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']"
    objs.append(ks("monitoring-controllers", {"path": "./monitoring/controllers", "wait": True, "interval": "1h0m0s", "timeout": "5m0s"}, {
        "conditions": [
            cond("Ready", "False", "HealthCheckFailed", health_err, 33),
            cond("Healthy", "False", "HealthCheckFailed", health_err, 33),
        ],
        "inventory": inv(("monitoring_kube-prometheus-stack_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("monitoring_kube-state-metrics_apps_Deployment", "v1"),
                         ("monitoring_kube-state-metrics__ServiceAccount", "v1"),
                         ("monitoring_kube-state-metrics__Service", "v1")),
        "lastAppliedRevision": MAIN_REV, "lastAttemptedRevision": MAIN_REV, "observedGeneration": 1,
    }))
    dep_err = "dependency 'flux-system/monitoring-controllers' is not ready"
    objs.append(ks("monitoring-configs", {"path": "./monitoring/configs", "dependsOn": [{"name": "monitoring-controllers"}]}, {
        "conditions": [cond("Ready", "False", "DependencyNotReady", dep_err, 32)],
        "inventory": inv(("monitoring_flux-grafana-dashboards__ConfigMap", "v1")),
        "lastAppliedRevision": "main@sha1:" + PREV_SHA, "lastAttemptedRevision": "main@sha1:" + PREV_SHA, "observedGeneration": 1,
    }))
    path_err = "kustomization path not found: stat /tmp/kustomization-1395421538/clusters/production/tenants: no such file or directory"
    objs.append(ks("tenants", {"path": "./clusters/production/tenants", "serviceAccountName": "kustomize-controller"}, {
        "conditions": [cond("Ready", "False", "ArtifactFailed", path_err, 8, 2)],
        "lastAttemptedRevision": MAIN_REV, "observedGeneration": 2,
    }, generation=2, created=days(3)))
    objs.append(ks("apps", {"path": "./apps/production", "dependsOn": [{"name": "infra-configs"}], "wait": True}, {
        "conditions": [ready(ok, 8, reason="ReconciliationSucceeded"),
                       cond("Healthy", "True", "Succeeded", "Health check passed in 3.052s", 8)],
        "inventory": inv(("apps_podinfo_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
                         ("apps_webapp_kustomize.toolkit.fluxcd.io_Kustomization", "v1"),
                         ("apps_redis_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("apps_webapp-frontend_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("apps_metrics-exporter_helm.toolkit.fluxcd.io_HelmRelease", "v2"),
                         ("apps_podinfo_source.toolkit.fluxcd.io_OCIRepository", "v1"),
                         ("apps_webapp-config_source.toolkit.fluxcd.io_OCIRepository", "v1"),
                         ("apps_webapp_source.toolkit.fluxcd.io_GitRepository", "v1")),
        "lastAppliedRevision": MAIN_REV, "lastAttemptedRevision": MAIN_REV, "observedGeneration": 1,
    }))
    # platform-addons: applied from the private infra repository, whose deploy key was rotated
    # away; it stays Ready on the last revision the GitRepository stored (3 days old), so what
    # runs in the cluster silently stops following Git (the first scripted investigation).
    private_rev = "main@sha1:" + sha1("infra-private/88")
    objs.append(ks("platform-addons", {"path": "./addons/production", "sourceRef": {"kind": "GitRepository", "name": "infra-private"},
                                       "interval": "10m0s", "wait": True}, {
        "conditions": [ready("Applied revision: " + private_rev, days(3), reason="ReconciliationSucceeded"),
                       cond("Healthy", "True", "Succeeded", "Health check passed in 4.117s", days(3))],
        "inventory": inv(("monitoring_blackbox-exporter-config__ConfigMap", "v1"), ("monitoring_blackbox-exporter__Service", "v1"),
                         ("monitoring_blackbox-exporter_apps_Deployment", "v1")),
        "lastAppliedRevision": private_rev, "lastAttemptedRevision": private_rev, "observedGeneration": 1,
    }, created=days(21)))
    oci_rev = "6.9.2@" + sha256("podinfo-manifests-692")
    objs.append(ks("podinfo", {"path": "./", "sourceRef": {"kind": "OCIRepository", "name": "podinfo"}, "targetNamespace": "apps",
                               "interval": "30m0s", "wait": True, "healthChecks": []}, {
        "conditions": [ready("Applied revision: " + oci_rev, days(4), reason="ReconciliationSucceeded"),
                       cond("Healthy", "True", "Succeeded", "Health check passed in 20.11s", days(4))],
        "inventory": inv(("apps_podinfo-config__ConfigMap", "v1"), ("apps_podinfo-canary__Service", "v1"),
                         ("apps_podinfo-canary_autoscaling_HorizontalPodAutoscaler", "v2")),
        "lastAppliedRevision": oci_rev, "lastAttemptedRevision": oci_rev, "observedGeneration": 1,
    }, ns="apps", labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))
    objs[-1]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "apps"
    objs.append(ks("webapp", {"path": "./overlays/production", "sourceRef": {"kind": "OCIRepository", "name": "webapp-config"},
                              "targetNamespace": "apps", "interval": "5m0s"}, {
        "conditions": [cond("Ready", "False", "ArtifactFailed", "Source artifact not found, retrying in 30s", 51, 1)],
        "lastAppliedRevision": "v2.3.9@" + sha256("webapp-config-239"),
        "lastAttemptedRevision": "v2.3.9@" + sha256("webapp-config-239"),
        "observedGeneration": 1,
        "inventory": inv(("apps_webapp-config__ConfigMap", "v1")),
    }, ns="apps"))
    objs[-1]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "apps"
    add("kustomizations.yaml", *objs)


# ---------------------------------------------------------------------------------------------
# Helm: HelmReleases and the storage Secrets Helm writes
# ---------------------------------------------------------------------------------------------

def manifest_docs(docs):
    out = ""
    for source, d in docs:
        out += "---\n# Source: %s\n" % source + "\n".join(emit(d)) + "\n"
    return out


def deployment_manifest(name, ns_less_labels, containers, replicas=1, chart=None, release=None):
    labels = {"app.kubernetes.io/instance": release, "app.kubernetes.io/name": name}
    labels.update(ns_less_labels)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"labels": labels, "name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {"containers": containers},
            },
        },
    }


def container(name, image, port=None, args=None):
    c = {"image": image, "imagePullPolicy": "IfNotPresent", "name": name}
    if args:
        c["args"] = args
    if port:
        c["ports"] = [{"containerPort": port, "name": "http", "protocol": "TCP"}]
    return c


def service_manifest(name, port, release):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"labels": {"app.kubernetes.io/instance": release, "app.kubernetes.io/name": name}, "name": name},
            "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": "http"}],
                     "selector": {"app.kubernetes.io/name": name}, "type": "ClusterIP"}}


HELM_RELEASES = []  # filled by helm(); used for storage secrets, events and logs


def release_payload(rel, version, status, chart_version, app_version, deployed_ago, first_ago, values, manifest, description, notes=""):
    chart_name = rel["chart"]
    templates = [{"name": "templates/" + src.split("/templates/")[-1],
                  "data": base64.b64encode(("{{/* %s */}}\n" % src).encode()).decode()}
                 for src in rel["sources"]]
    first = NOW - dt.timedelta(minutes=first_ago)
    last = NOW - dt.timedelta(minutes=deployed_ago)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d" % t.microsecond + "000Z"
    return {
        "name": rel["release"],
        "info": {
            "first_deployed": fmt(first),
            "last_deployed": fmt(last),
            "deleted": "",
            "description": description,
            "status": status,
            "notes": notes,
        },
        "chart": {
            "metadata": {
                "name": chart_name,
                "home": rel["home"],
                "sources": [rel["home"]],
                "version": chart_version,
                "description": rel["description"],
                "maintainers": [{"name": rel["maintainer"]}],
                "apiVersion": "v2",
                "appVersion": app_version,
                "type": "application",
            },
            "lock": None,
            "templates": templates,
            "values": rel["default_values"],
            "schema": None,
            "files": [],
        },
        "config": values,
        "manifest": manifest,
        "version": version,
        "namespace": rel["namespace"],
    }


def storage_secret(rel, version, status, payload, modified_ago):
    """A Secret exactly as Helm's secret driver stores a release: data.release is the base64 text of
    the gzipped release JSON (Secret data is base64 once more on the wire)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    encoded = base64.b64encode(gz)
    name = "sh.helm.release.v1.%s.v%d" % (rel["release"], version)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("", "Secret", name, rel["storage"], modified_ago,
                         {"modifiedAt": str(int((NOW - dt.timedelta(minutes=modified_ago)).timestamp())),
                          "name": rel["release"], "owner": "helm", "status": status, "version": str(version)}),
        "data": {"release": base64.b64encode(encoded).decode()},
        "type": "helm.sh/release.v1",
    }


def released(ns, release, version, chart, chart_version, action, ago, history, revision, config, helm_chart=None):
    """The status helm-controller writes after a successful install or upgrade."""
    reason = "InstallSucceeded" if action == "install" else "UpgradeSucceeded"
    message = "Helm %s succeeded for release %s/%s.v%d with chart %s@%s" % (action, ns, release, version, chart, chart_version)
    status = {
        "conditions": [ready(message, ago, reason=reason), cond("Released", "True", reason, message, ago)],
        "history": history,
        "lastAttemptedConfigDigest": sha256(config),
        "lastAttemptedGeneration": 1,
        "lastAttemptedReleaseAction": action,
        "lastAttemptedRevision": revision,
        "observedGeneration": 1,
        "storageNamespace": ns,
    }
    if helm_chart:
        status["helmChart"] = helm_chart
    return status


def helm():
    g = "helm.toolkit.fluxcd.io/v2"
    objs, secrets = [], []

    def hr_labels(name, ns):
        return {"helm.sh/chart": name, "app.kubernetes.io/managed-by": "Helm",
                "helm.toolkit.fluxcd.io/name": name, "helm.toolkit.fluxcd.io/namespace": ns}

    # podinfo: healthy, three revisions in history, chart from an HTTPS HelmRepository.
    podinfo = {
        "hr": "podinfo", "namespace": "apps", "release": "podinfo", "storage": "apps", "chart": "podinfo",
        "home": "https://github.com/stefanprodan/podinfo", "description": "Podinfo Helm chart for Kubernetes",
        "maintainer": "stefanprodan", "default_values": {"replicaCount": 1, "image": {"repository": "ghcr.io/stefanprodan/podinfo", "tag": ""}},
        "sources": ["podinfo/templates/service.yaml", "podinfo/templates/deployment.yaml", "podinfo/templates/hpa.yaml"],
    }
    podinfo_values = {"replicaCount": 2, "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}, "ui": {"message": "Production"}}
    pm = manifest_docs([
        ("podinfo/templates/service.yaml", service_manifest("podinfo", 9898, "podinfo")),
        ("podinfo/templates/deployment.yaml", deployment_manifest("podinfo", {"helm.sh/chart": "podinfo-6.9.2"}, [
            container("podinfo", "ghcr.io/stefanprodan/podinfo:6.9.2", 9898, ["./podinfo", "--port=9898", "--level=info"])], 2, release="podinfo")),
        ("podinfo/templates/hpa.yaml", {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                                        "metadata": {"name": "podinfo"},
                                        "spec": {"maxReplicas": 4, "minReplicas": 2,
                                                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}}}),
    ])
    hist = []
    for v, cv, ago, st in [(3, "6.9.2", days(4), "deployed"), (2, "6.9.1", days(12), "superseded"), (1, "6.8.0", days(34), "superseded")]:
        payload = release_payload(podinfo, v, st, cv, cv, ago, days(34), podinfo_values, pm.replace("6.9.2", cv),
                                  "Upgrade complete" if v > 1 else "Install complete")
        secrets.append(storage_secret(podinfo, v, st, payload, ago))
        hist.append({"appVersion": cv, "chartName": "podinfo", "chartVersion": cv, "configDigest": sha256("podinfo-values"),
                     "digest": sha256("podinfo-rel-%d" % v), "firstDeployed": at(days(34)), "lastDeployed": at(ago),
                     "name": "podinfo", "namespace": "apps", "status": st, "version": v})
    objs.append(flux_obj(g, "HelmRelease", "podinfo", "apps", {
        "chart": {"spec": {"chart": "podinfo", "interval": "10m0s", "reconcileStrategy": "ChartVersion",
                           "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}, "version": "6.9.x"}},
        "install": {"remediation": {"retries": 3}},
        "interval": "30m0s",
        "upgrade": {"remediation": {"retries": 3, "remediateLastFailure": True}},
        "values": podinfo_values,
    }, released("apps", "podinfo", 3, "podinfo", "6.9.2", "upgrade", days(4), hist, "6.9.2", "podinfo-values",
                "flux-system/apps-podinfo"), created=days(34), labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))

    # webapp-frontend: release name "frontend" differs from the chart name "webapp"; chart from Git.
    frontend = {
        "hr": "webapp-frontend", "namespace": "apps", "release": "frontend", "storage": "apps", "chart": "webapp",
        "home": "https://github.com/acme-corp/webapp", "description": "Acme web application",
        "maintainer": "platform-team", "default_values": {"nginx": {"enabled": True}, "replicaCount": 1},
        "sources": ["webapp/templates/deployment.yaml", "webapp/templates/service.yaml", "webapp/templates/cronjob.yaml", "webapp/templates/configmap.yaml"],
    }
    fvalues = {"replicaCount": 1, "nginx": {"enabled": True}, "cacheWarmer": {"schedule": "*/15 * * * *"}, "ingress": {"host": "shop.acme.io"}}
    fm = manifest_docs([
        ("webapp/templates/configmap.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frontend-nginx"},
                                             "data": {"default.conf": "server {\n  listen 8080;\n  location / { proxy_pass http://127.0.0.1:3000; }\n}\n"}}),
        ("webapp/templates/service.yaml", service_manifest("frontend", 80, "frontend")),
        ("webapp/templates/deployment.yaml", deployment_manifest("frontend", {"helm.sh/chart": "webapp-3.8.1"}, [
            container("frontend", "ghcr.io/acme-corp/webapp-frontend:3.8.1", 3000),
            container("nginx", "docker.io/library/nginx:1.29.3-alpine", 8080)], release="frontend")),
        ("webapp/templates/cronjob.yaml", {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "frontend-cache-warmer"},
                                           "spec": {"schedule": "*/15 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                                               "containers": [container("warmer", "ghcr.io/acme-corp/webapp-tools:1.4.0", args=["warm", "--url=http://frontend"])],
                                               "restartPolicy": "OnFailure"}}}}}}),
    ])
    fhist = []
    for v, ago, st in [(3, days(2), "deployed"), (2, days(9), "superseded")]:
        payload = release_payload(frontend, v, st, "3.8.1" if v == 3 else "3.7.0", "3.8.1" if v == 3 else "3.7.0", ago, days(30), fvalues,
                                  fm if v == 3 else fm.replace("3.8.1", "3.7.0"), "Upgrade complete")
        secrets.append(storage_secret(frontend, v, st, payload, ago))
        fhist.append({"appVersion": "3.8.1" if v == 3 else "3.7.0", "chartName": "webapp", "chartVersion": "3.8.1" if v == 3 else "3.7.0",
                      "configDigest": sha256("frontend-values"), "digest": sha256("frontend-rel-%d" % v),
                      "firstDeployed": at(days(30)), "lastDeployed": at(ago), "name": "frontend", "namespace": "apps", "status": st, "version": v})
    objs.append(flux_obj(g, "HelmRelease", "webapp-frontend", "apps", {
        "chart": {"spec": {"chart": "./charts/webapp", "reconcileStrategy": "Revision",
                           "sourceRef": {"kind": "GitRepository", "name": "webapp"}}},
        "interval": "10m0s",
        "releaseName": "frontend",
        "values": fvalues,
        "valuesFrom": [{"kind": "Secret", "name": "frontend-env", "valuesKey": "values.yaml"}],
    }, released("apps", "frontend", 3, "webapp", "3.8.1", "upgrade", days(2), fhist, "3.8.1", "frontend-values",
                "flux-system/apps-webapp-frontend"), created=days(30), labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))

    # redis: install retries exhausted (the StatefulSet never became ready).
    redis = {
        "hr": "redis", "namespace": "apps", "release": "redis", "storage": "apps", "chart": "redis",
        "home": "https://bitnami.com", "description": "Redis(R) is an open source, advanced key-value store.",
        "maintainer": "Broadcom, Inc. All Rights Reserved.", "default_values": {"architecture": "replication", "auth": {"enabled": True}},
        "sources": ["redis/templates/secret.yaml", "redis/templates/master/service.yaml", "redis/templates/master/application.yaml"],
    }
    rvalues = {"architecture": "standalone", "auth": {"existingSecret": ""}, "master": {"persistence": {"size": "8Gi"}}}
    rm = manifest_docs([
        ("redis/templates/secret.yaml", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis"}, "type": "Opaque",
                                         "data": {"redis-password": base64.b64encode(b"Zk9wcXJzdEhlbGxv-prod").decode()}}),
        ("redis/templates/master/service.yaml", service_manifest("redis-master", 6379, "redis")),
        ("redis/templates/master/application.yaml", {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "redis-master"},
                                                     "spec": {"replicas": 1, "serviceName": "redis-headless",
                                                              "selector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
                                                              "template": {"spec": {"containers": [container("redis", "docker.io/bitnami/redis:7.4.1-debian-12-r2", 6379)]}}}}),
    ])
    payload = release_payload(redis, 4, "failed", "20.1.4", "7.4.1", 41, 41, rvalues, rm,
                              "Release \"redis\" failed: context deadline exceeded")
    secrets.append(storage_secret(redis, 4, "failed", payload, 41))
    install_err = "Helm install failed for release apps/redis with chart redis@20.1.4: context deadline exceeded"
    objs.append(flux_obj(g, "HelmRelease", "redis", "apps", {
        "chart": {"spec": {"chart": "redis", "reconcileStrategy": "ChartVersion",
                           "sourceRef": {"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}, "version": "20.1.4"}},
        "install": {"remediation": {"retries": 3}, "timeout": "5m0s"},
        "interval": "10m0s",
        "values": rvalues,
    }, {
        "conditions": [
            cond("Stalled", "True", "RetriesExceeded", "Failed to install after 4 attempt(s)", 41),
            cond("Ready", "False", "InstallFailed", install_err, 41),
            cond("Released", "False", "InstallFailed", install_err, 41),
            cond("Remediated", "True", "UninstallSucceeded", "Helm uninstall succeeded for release apps/redis.v3 with chart redis@20.1.4", 47),
        ],
        "failures": 4,
        "helmChart": "flux-system/apps-redis",
        "history": [
            {"appVersion": "7.4.1", "chartName": "redis", "chartVersion": "20.1.4", "configDigest": sha256("redis-values"),
             "digest": sha256("redis-rel-4"), "firstDeployed": at(41), "lastDeployed": at(41), "name": "redis", "namespace": "apps",
             "status": "failed", "version": 4},
            {"appVersion": "7.4.1", "chartName": "redis", "chartVersion": "20.1.4", "configDigest": sha256("redis-values"),
             "digest": sha256("redis-rel-3"), "firstDeployed": at(52), "lastDeployed": at(52), "name": "redis", "namespace": "apps",
             "status": "uninstalled", "version": 3},
        ],
        "installFailures": 4,
        "lastAttemptedConfigDigest": sha256("redis-values"),
        "lastAttemptedGeneration": 1,
        "lastAttemptedReleaseAction": "install",
        "lastAttemptedRevision": "20.1.4",
        "observedGeneration": 1,
        "storageNamespace": "apps",
    }, created=75, labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))

    # metrics-exporter: its chart version does not exist.
    chart_err = ("HelmChart 'flux-system/apps-metrics-exporter' is not ready: invalid chart reference: failed to get chart version "
                 "for remote reference: no 'metrics-exporter' chart with version matching '2.x' found")
    objs.append(flux_obj(g, "HelmRelease", "metrics-exporter", "apps", {
        "chart": {"spec": {"chart": "metrics-exporter", "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}, "version": "2.x"}},
        "interval": "10m0s",
    }, {
        "conditions": [
            cond("Reconciling", "True", "ProgressingWithRetry", "Fulfilling prerequisites", 199),
            cond("Ready", "False", "ArtifactFailed", chart_err, 199),
        ],
        "helmChart": "flux-system/apps-metrics-exporter",
        "observedGeneration": 1,
    }, created=200, labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))

    # kube-prometheus-stack: healthy, in its own namespace.
    kps = {
        "hr": "kube-prometheus-stack", "namespace": "monitoring", "release": "kube-prometheus-stack", "storage": "monitoring",
        "chart": "kube-prometheus-stack", "home": "https://github.com/prometheus-operator/kube-prometheus",
        "description": "kube-prometheus-stack collects Kubernetes manifests, Grafana dashboards, and Prometheus rules.",
        "maintainer": "prometheus-community", "default_values": {"grafana": {"enabled": True}},
        "sources": ["kube-prometheus-stack/templates/prometheus-operator/deployment.yaml",
                    "kube-prometheus-stack/charts/prometheus-node-exporter/templates/daemonset.yaml"],
    }
    kvalues = {"grafana": {"enabled": False}, "kube-state-metrics": {"enabled": False}, "prometheus": {"prometheusSpec": {"retention": "15d"}}}
    km = manifest_docs([
        ("kube-prometheus-stack/templates/prometheus-operator/serviceaccount.yaml",
         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-prometheus-stack-operator"}}),
        ("kube-prometheus-stack/templates/prometheus-operator/clusterrole.yaml",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kube-prometheus-stack-operator"},
          "rules": [{"apiGroups": ["monitoring.coreos.com"], "resources": ["*"], "verbs": ["*"]}]}),
        ("kube-prometheus-stack/templates/prometheus-operator/deployment.yaml",
         deployment_manifest("kube-prometheus-stack-operator", {}, [container("kube-prometheus-stack", "quay.io/prometheus-operator/prometheus-operator:v0.86.2", 10250)], release="kube-prometheus-stack")),
        ("kube-prometheus-stack/charts/prometheus-node-exporter/templates/daemonset.yaml",
         {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-prometheus-stack-prometheus-node-exporter", "namespace": "monitoring"},
          "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "prometheus-node-exporter"}},
                   "template": {"spec": {"containers": [container("node-exporter", "quay.io/prometheus/node-exporter:v1.10.2", 9100)]}}}}),
    ])
    payload = release_payload(kps, 1, "deployed", "79.4.1", "v0.86.2", days(9), days(9), kvalues, km, "Install complete")
    secrets.append(storage_secret(kps, 1, "deployed", payload, days(9)))
    objs.append(flux_obj(g, "HelmRelease", "kube-prometheus-stack", "monitoring", {
        "chart": {"spec": {"chart": "kube-prometheus-stack", "sourceRef": {"kind": "HelmRepository", "name": "prometheus-community", "namespace": "flux-system"}, "version": "79.x"}},
        "install": {"crds": "Create"},
        "interval": "1h0m0s",
        "upgrade": {"crds": "CreateReplace"},
        "values": kvalues,
    }, released("monitoring", "kube-prometheus-stack", 1, "kube-prometheus-stack", "79.4.1", "install", days(9),
                [{"appVersion": "v0.86.2", "chartName": "kube-prometheus-stack", "chartVersion": "79.4.1", "configDigest": sha256("kps-values"),
                     "digest": sha256("kps-rel-1"), "firstDeployed": at(days(9)), "lastDeployed": at(days(9)), "name": "kube-prometheus-stack",
                     "namespace": "monitoring", "status": "deployed", "version": 1}],
                "79.4.1", "kps-values", "flux-system/monitoring-kube-prometheus-stack"), created=days(9), labels={"kustomize.toolkit.fluxcd.io/name": "monitoring-controllers"}))

    # cert-manager: chart from an OCIRepository (chartRef).
    cm = {
        "hr": "cert-manager", "namespace": "cert-manager", "release": "cert-manager", "storage": "cert-manager", "chart": "cert-manager",
        "home": "https://cert-manager.io", "description": "A Helm chart for cert-manager", "maintainer": "cert-manager-maintainers",
        "default_values": {"crds": {"enabled": False}},
        "sources": ["cert-manager/templates/deployment.yaml", "cert-manager/templates/cainjector-deployment.yaml", "cert-manager/templates/webhook-deployment.yaml"],
    }
    cvalues = {"crds": {"enabled": True, "keep": True}, "replicaCount": 1}
    cmm = manifest_docs([
        ("cert-manager/templates/serviceaccount.yaml", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "cert-manager", "namespace": "cert-manager"}}),
        ("cert-manager/templates/rbac.yaml", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cert-manager-controller-issuers"},
                                              "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["issuers", "issuers/status"], "verbs": ["update", "patch"]}]}),
        ("cert-manager/templates/deployment.yaml", deployment_manifest("cert-manager", {}, [container("cert-manager-controller", "quay.io/jetstack/cert-manager-controller:v1.19.1", 9402)], release="cert-manager")),
        ("cert-manager/templates/cainjector-deployment.yaml", deployment_manifest("cert-manager-cainjector", {}, [container("cert-manager-cainjector", "quay.io/jetstack/cert-manager-cainjector:v1.19.1")], release="cert-manager")),
        ("cert-manager/templates/webhook-deployment.yaml", deployment_manifest("cert-manager-webhook", {}, [container("cert-manager-webhook", "quay.io/jetstack/cert-manager-webhook:v1.19.1", 10250)], release="cert-manager")),
    ])
    payload = release_payload(cm, 2, "deployed", "v1.19.1", "v1.19.1", days(9), days(38), cvalues, cmm, "Upgrade complete")
    secrets.append(storage_secret(cm, 2, "deployed", payload, days(9)))
    objs.append(flux_obj(g, "HelmRelease", "cert-manager", "cert-manager", {
        "chartRef": {"kind": "OCIRepository", "name": "cert-manager", "namespace": "flux-system"},
        "install": {"strategy": {"name": "RetryOnFailure", "retryInterval": "2m"}},
        "interval": "12h0m0s",
        "values": cvalues,
    }, released("cert-manager", "cert-manager", 2, "cert-manager", "v1.19.1", "upgrade", days(9),
                [{"appVersion": "v1.19.1", "chartName": "cert-manager", "chartVersion": "v1.19.1", "configDigest": sha256("cm-values"),
                     "digest": sha256("cm-rel-2"), "firstDeployed": at(days(38)), "lastDeployed": at(days(9)), "name": "cert-manager",
                     "namespace": "cert-manager", "ociDigest": sha256("cert-manager-chart"), "status": "deployed", "version": 2},
                    {"appVersion": "v1.18.2", "chartName": "cert-manager", "chartVersion": "v1.18.2", "configDigest": sha256("cm-values"),
                     "digest": sha256("cm-rel-1"), "firstDeployed": at(days(38)), "lastDeployed": at(days(38)), "name": "cert-manager",
                     "namespace": "cert-manager", "status": "superseded", "version": 1}],
                "v1.19.1@" + sha256("cert-manager-chart"), "cm-values"), created=days(38), labels={"kustomize.toolkit.fluxcd.io/name": "infra-controllers"}))
    add("helmreleases.yaml", *objs)
    add("helm-storage.yaml", *secrets)


# ---------------------------------------------------------------------------------------------
# Notification, image automation, Flux Operator, source-watcher
# ---------------------------------------------------------------------------------------------

def notification():
    objs = []
    b3 = "notification.toolkit.fluxcd.io/v1beta3"
    # v1beta3 Providers and Alerts are static: the controller writes no status.
    objs.append(flux_obj(b3, "Provider", "slack", "flux-system", {
        "address": "https://slack.com/api/chat.postMessage", "channel": "prod-deployments", "secretRef": {"name": "slack-bot-token"}, "type": "slack",
    }, {}, finalizers=False))
    objs.append(flux_obj(b3, "Provider", "github-status", "flux-system", {
        "address": "https://github.com/acme-corp/fleet-infra", "secretRef": {"name": "github-status-token"}, "type": "github",
    }, {}, finalizers=False))
    objs.append(flux_obj(b3, "Alert", "on-call", "flux-system", {
        "eventSeverity": "error",
        "eventSources": [{"kind": "Kustomization", "name": "*"}, {"kind": "HelmRelease", "name": "*", "namespace": "apps"},
                         {"kind": "GitRepository", "name": "*"}],
        "providerRef": {"name": "slack"},
        "summary": "Production cluster eu-west-1",
    }, {}, finalizers=False))
    objs.append(flux_obj(b3, "Alert", "deployments", "flux-system", {
        "eventMetadata": {"cluster": "prod-eu1", "env": "production"},
        "eventSeverity": "info",
        "eventSources": [{"kind": "Kustomization", "name": "flux-system"}],
        "inclusionList": [".*succeeded.*"],
        "providerRef": {"name": "github-status"},
    }, {}, finalizers=False))
    for o in objs:
        del o["status"]
    v1 = "notification.toolkit.fluxcd.io/v1"
    path = "/hook/" + hexdigest("receiver/github")
    objs.append(flux_obj(v1, "Receiver", "github-receiver", "flux-system", {
        "events": ["ping", "push"], "interval": "10m0s",
        "resources": [{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "flux-system"}],
        "secretRef": {"name": "github-webhook-token"}, "type": "github",
    }, {
        "conditions": [ready("Receiver initialized for path: " + path, days(40))],
        "observedGeneration": 1,
        "webhookPath": path,
    }))
    objs.append(flux_obj(v1, "Receiver", "harbor-receiver", "flux-system", {
        "interval": "10m0s",
        "resources": [{"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "name": "webapp-api"}],
        "secretRef": {"name": "harbor-webhook-token"}, "type": "harbor",
    }, {
        "conditions": [cond("Ready", "False", "TokenNotFound",
                            "unable to read token from secret 'flux-system/harbor-webhook-token' error: secrets \"harbor-webhook-token\" not found", days(6))],
        "observedGeneration": 1,
    }, created=days(6)))
    add("notification.yaml", *objs)


def image_automation():
    g = "image.toolkit.fluxcd.io/v1"
    objs = []
    objs.append(flux_obj(g, "ImageRepository", "podinfo", "flux-system", {
        "exclusionList": ["^.*\\.sig$"], "image": "ghcr.io/stefanprodan/podinfo", "interval": "5m0s", "provider": "generic",
    }, {
        "canonicalImageName": "ghcr.io/stefanprodan/podinfo",
        "conditions": [ready("successful scan: found 61 tags", 3)],
        "lastScanResult": {"latestTags": ["latest", "6.9.2", "6.9.1", "6.9.0", "6.8.0", "6.7.1", "6.7.0", "6.6.3", "6.6.2", "6.6.1"],
                           "scanTime": at(3), "tagCount": 61, "revision": sha256("podinfo-tags")},
        "observedExclusionList": ["^.*\\.sig$"],
        "observedGeneration": 1,
    }))
    auth_err = ("failed to get tags for harbor.acme.internal/webapp/api: GET https://harbor.acme.internal/v2/webapp/api/tags/list?n=1000: "
                "UNAUTHORIZED: unauthorized to access repository: webapp/api, action: pull: unauthorized to access repository: webapp/api, action: pull")
    objs.append(flux_obj(g, "ImageRepository", "webapp-api", "flux-system", {
        "image": "harbor.acme.internal/webapp/api", "interval": "5m0s", "secretRef": {"name": "harbor-robot"},
    }, {
        "canonicalImageName": "harbor.acme.internal/webapp/api",
        "conditions": [cond("Ready", "False", "AuthenticationFailed", auth_err, days(2))],
        "lastScanResult": {"latestTags": ["1.12.0", "1.11.4", "1.11.3"], "scanTime": at(days(2) + 10), "tagCount": 27},
        "observedGeneration": 1,
    }, created=days(20)))
    objs.append(flux_obj(g, "ImagePolicy", "podinfo", "flux-system", {
        "imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": "6.9.x"}},
    }, {
        "conditions": [ready("Latest image tag for ghcr.io/stefanprodan/podinfo resolved to 6.9.2", days(4))],
        "latestRef": {"digest": sha256("podinfo-image-6.9.2"), "name": "ghcr.io/stefanprodan/podinfo", "tag": "6.9.2"},
        "observedGeneration": 1,
        "observedPreviousRef": {"name": "ghcr.io/stefanprodan/podinfo", "tag": "6.9.1"},
    }))
    objs.append(flux_obj(g, "ImagePolicy", "webapp-api", "flux-system", {
        "imageRepositoryRef": {"name": "webapp-api"}, "policy": {"semver": {"range": ">=1.0.0"}},
    }, {
        "conditions": [cond("Ready", "False", "DependencyNotReady", "referenced ImageRepository 'flux-system/webapp-api' is not ready", days(2))],
        "latestRef": {"name": "harbor.acme.internal/webapp/api", "tag": "1.12.0"},
        "observedGeneration": 1,
    }, created=days(20)))
    objs.append(flux_obj(g, "ImageUpdateAutomation", "flux-system", "flux-system", {
        "git": {"checkout": {"ref": {"branch": "main"}},
                "commit": {"author": {"email": "fluxcdbot@users.noreply.github.com", "name": "fluxcdbot"},
                           "messageTemplate": "Automated image update\n\n{{ range .Changed.Changes }}- {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}"},
                "push": {"branch": "main"}},
        "interval": "30m0s",
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        "update": {"path": "./apps/production", "strategy": "Setters"},
    }, {
        "conditions": [ready("repository up-to-date", 12)],
        "lastAutomationRunTime": at(12),
        "lastPushCommit": sha1("fleet-infra/image-update/podinfo-6.9.2"),
        "lastPushTime": at(days(4)),
        "observedGeneration": 1,
        "observedPolicies": {"podinfo": {"name": "ghcr.io/stefanprodan/podinfo", "tag": "6.9.2"}},
        "observedSourceRevision": MAIN_REV,
    }))
    push_err = ("failed to push to remote: unable to push to 'https://github.com/acme-corp/webapp.git': "
                "remote: Permission to acme-corp/webapp.git denied to fluxcdbot. (403)")
    objs.append(flux_obj(g, "ImageUpdateAutomation", "webapp", "apps", {
        "git": {"checkout": {"ref": {"branch": "main"}}, "commit": {"author": {"email": "fluxcdbot@users.noreply.github.com", "name": "fluxcdbot"}},
                "push": {"branch": "image-updates"}},
        "interval": "30m0s",
        "sourceRef": {"kind": "GitRepository", "name": "webapp"},
        "update": {"path": "./charts/webapp", "strategy": "Setters"},
    }, {
        "conditions": [cond("Ready", "False", "GitOperationFailed", push_err, 31)],
        "lastAutomationRunTime": at(31),
        "observedGeneration": 1,
    }, created=days(16)))
    add("image-automation.yaml", *objs)


def flux_operator():
    g = "fluxcd.controlplane.io/v1"
    components = ["source-controller", "kustomize-controller", "helm-controller", "notification-controller",
                  "image-reflector-controller", "image-automation-controller"]
    images = {
        "source-controller": "v1.7.2", "kustomize-controller": "v1.7.1", "helm-controller": "v1.4.2",
        "notification-controller": "v1.7.3", "image-reflector-controller": "v1.0.2", "image-automation-controller": "v1.0.2",
    }
    fi_inv = [("_%s.%s_apiextensions.k8s.io_CustomResourceDefinition" % (p, grp), "v1") for p, grp in [
        ("buckets", "source.toolkit.fluxcd.io"), ("gitrepositories", "source.toolkit.fluxcd.io"), ("helmcharts", "source.toolkit.fluxcd.io"),
        ("helmrepositories", "source.toolkit.fluxcd.io"), ("ocirepositories", "source.toolkit.fluxcd.io"),
        ("externalartifacts", "source.toolkit.fluxcd.io"), ("kustomizations", "kustomize.toolkit.fluxcd.io"),
        ("helmreleases", "helm.toolkit.fluxcd.io"), ("alerts", "notification.toolkit.fluxcd.io"), ("providers", "notification.toolkit.fluxcd.io"),
        ("receivers", "notification.toolkit.fluxcd.io"), ("imagerepositories", "image.toolkit.fluxcd.io"),
        ("imagepolicies", "image.toolkit.fluxcd.io"), ("imageupdateautomations", "image.toolkit.fluxcd.io")]]
    fi_inv += [("flux-system_%s__ServiceAccount" % c, "v1") for c in components]
    fi_inv += [("flux-system_%s_apps_Deployment" % c, "v1") for c in components]
    fi_inv += [("flux-system_flux-system_source.toolkit.fluxcd.io_GitRepository", "v1"),
               ("flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization", "v1")]
    digest = sha256("flux-manifests-" + FLUX_VERSION)
    fi = {
        "apiVersion": g, "kind": "FluxInstance",
        "metadata": meta("fluxcd.controlplane.io", "FluxInstance", "flux", "flux-system", days(40), None,
                         {"fluxcd.controlplane.io/reconcileEvery": "1h", "fluxcd.controlplane.io/reconcileArtifactEvery": "10m",
                          "fluxcd.controlplane.io/reconcileTimeout": "5m"}, 3, ["fluxcd.controlplane.io/finalizer"]),
        "spec": {
            "cluster": {"domain": "cluster.local", "multitenant": False, "networkPolicy": True, "type": "aws"},
            "components": components,
            "distribution": {"artifact": "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests", "registry": "ghcr.io/fluxcd", "version": "2.7.x"},
            "kustomize": {"patches": [{"patch": "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --concurrent=10\n",
                                       "target": {"kind": "Deployment", "name": "(kustomize|helm)-controller"}}]},
            "migrateResources": True,
            "sync": {"interval": "1m", "kind": "GitRepository", "path": "clusters/production", "pullSecret": "flux-system",
                     "ref": "refs/heads/main", "url": "ssh://git@github.com/acme-corp/fleet-infra.git"},
            "wait": True,
        },
        "status": {
            "components": [{"digest": sha256("image/" + c), "name": c, "repository": "ghcr.io/fluxcd/" + c, "tag": images[c]} for c in components],
            "conditions": [ready("Reconciliation finished in 4s", 27, 3, reason="ReconciliationSucceeded")],
            "history": [{"digest": digest, "firstReconciled": at(days(14)), "lastReconciled": at(27), "lastReconciledDuration": "4.105s",
                         "lastReconciledStatus": "ReconciliationSucceeded", "metadata": {"flux": FLUX_VERSION}, "totalReconciliations": 337}],
            "inventory": {"entries": [{"id": i, "v": v} for i, v in fi_inv]},
            "lastAppliedRevision": FLUX_VERSION + "@" + digest,
            "lastArtifactRevision": "latest@" + sha256("operator-manifests-latest"),
            "lastAttemptedRevision": FLUX_VERSION + "@" + digest,
            "observedGeneration": 3,
        },
    }
    def stats(kind, running, failing, suspended=0, size=None):
        s = {"failing": failing, "running": running, "suspended": suspended}
        if size:
            s["totalSize"] = size
        return s
    report = {
        "apiVersion": g, "kind": "FluxReport",
        "metadata": meta("fluxcd.controlplane.io", "FluxReport", "flux", "flux-system", days(40),
                         {"app.kubernetes.io/managed-by": "flux-operator"}, {"fluxcd.controlplane.io/reconcileEvery": "5m"}, 1),
        "spec": {
            "cluster": {"nodes": 3, "platform": "linux/amd64", "serverVersion": "v1.33.4"},
            "components": [{"image": "ghcr.io/fluxcd/%s:%s@%s" % (c, images[c], sha256("image/" + c)), "name": c,
                            "ready": True, "status": "Current Deployment is available. Replicas: 1"} for c in components],
            "distribution": {"entitlement": "Issued by controlplane", "managedBy": "flux-operator", "status": "Installed", "version": FLUX_VERSION},
            "operator": {"apiVersion": "fluxcd.controlplane.io/v1", "platform": "linux/amd64", "version": "v0.33.0"},
            "reconcilers": [
                {"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet", "stats": stats("ResourceSet", 2, 1)},
                {"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSetInputProvider", "stats": stats("ResourceSetInputProvider", 2, 1)},
                {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "stats": stats("HelmRelease", 6, 2)},
                {"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy", "stats": stats("ImagePolicy", 2, 1)},
                {"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "stats": stats("ImageRepository", 2, 1)},
                {"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation", "stats": stats("ImageUpdateAutomation", 2, 1)},
                {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "stats": stats("Kustomization", 10, 4)},
                {"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver", "stats": stats("Receiver", 2, 1)},
                {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "stats": stats("Alert", 2, 0)},
                {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider", "stats": stats("Provider", 2, 0)},
                {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator", "stats": stats("ArtifactGenerator", 2, 1)},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket", "stats": stats("Bucket", 2, 1, size="8.0 KiB")},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact", "stats": stats("ExternalArtifact", 2, 1, size="3.0 KiB")},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "stats": stats("GitRepository", 3, 1, size="149.6 KiB")},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart", "stats": stats("HelmChart", 5, 1, size="62.1 KiB")},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "stats": stats("HelmRepository", 3, 0, size="438.5 KiB")},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "stats": stats("OCIRepository", 3, 1, size="103.7 KiB")},
            ],
            "sync": {"id": "kustomization/flux-system", "path": "clusters/production", "ready": True,
                     "source": "ssh://git@github.com/acme-corp/fleet-infra.git", "status": "Applied revision: " + MAIN_REV},
        },
        "status": {
            "conditions": [ready("Reporting finished in 241ms", 2, reason="ReconciliationSucceeded")],
        },
    }
    objs = [fi, report]
    objs.append(flux_obj(g, "ResourceSetInputProvider", "preview-prs", "flux-system", {
        "defaultValues": {"chart": "webapp"},
        "filter": {"labels": ["deploy/preview"], "limit": 10},
        "secretRef": {"name": "github-pr-reader"},
        "type": "GitHubPullRequest",
        "url": "https://github.com/acme-corp/webapp",
    }, {
        "conditions": [ready("Reconciliation finished in 812ms", 6, reason="ReconciliationSucceeded")],
        "exportedInputs": [
            {"author": "dana-k", "branch": "feat/checkout-v2", "id": "1187", "sha": sha1("pr/1187"), "title": "Checkout v2 flow"},
            {"author": "li-wei", "branch": "fix/cart-rounding", "id": "1192", "sha": sha1("pr/1192"), "title": "Fix rounding in cart totals"},
        ],
        "lastExportedRevision": sha256("pr-inputs"),
        "observedGeneration": 1,
    }, created=days(15)))
    rsip_err = "failed to list pull requests: GET https://gitlab.acme.internal/api/v4/projects/platform%2Fteams/merge_requests?state=opened: 401 {message: 401 Unauthorized}"
    objs.append(flux_obj(g, "ResourceSetInputProvider", "team-onboarding", "flux-system", {
        "secretRef": {"name": "gitlab-token"}, "type": "GitLabMergeRequest", "url": "https://gitlab.acme.internal/platform/teams",
    }, {
        "conditions": [cond("Ready", "False", "ReconciliationFailed", rsip_err, 73)],
        "observedGeneration": 1,
    }, created=days(7)))
    objs.append(flux_obj(g, "ResourceSet", "preview-envs", "flux-system", {
        "inputsFrom": [{"kind": "ResourceSetInputProvider", "name": "preview-prs"}],
        "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "preview-<< inputs.id >>"}},
                      {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                       "metadata": {"name": "webapp", "namespace": "preview-<< inputs.id >>"},
                       "spec": {"chart": {"spec": {"chart": "./charts/webapp", "sourceRef": {"kind": "GitRepository", "name": "webapp", "namespace": "apps"}}},
                                "interval": "10m", "values": {"image": {"tag": "<< inputs.sha >>"}}}}],
        "serviceAccountName": "flux-operator",
        "wait": True,
    }, {
        "conditions": [ready("Reconciliation finished in 1.21s", 6, reason="ReconciliationSucceeded")],
        "history": [{"digest": sha256("rset-preview"), "firstReconciled": at(days(15)), "lastReconciled": at(6), "lastReconciledDuration": "1.21s",
                     "lastReconciledStatus": "ReconciliationSucceeded", "metadata": {"inputs": "2", "resources": "4"}, "totalReconciliations": 1290}],
        "inventory": {"entries": [{"id": "_preview-1187__Namespace", "v": "v1"}, {"id": "_preview-1192__Namespace", "v": "v1"},
                                  {"id": "preview-1187_webapp_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"},
                                  {"id": "preview-1192_webapp_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]},
        "lastAppliedRevision": sha256("rset-preview"),
        "observedGeneration": 1,
    }, created=days(15)))
    tmpl_err = 'failed to build resources: template: teams:4:23: executing "teams" at <inputs.team>: map has no entry for key "team"'
    objs.append(flux_obj(g, "ResourceSet", "tenants", "flux-system", {
        "inputs": [{"name": "payments"}, {"name": "search"}],
        "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "<< inputs.team >>"}}],
    }, {
        "conditions": [cond("Ready", "False", "BuildFailed", tmpl_err, 18, 3)],
        "observedGeneration": 3,
    }, created=days(7), generation=3))
    g2 = "source.extensions.fluxcd.io/v1beta1"
    objs.append(flux_obj(g2, "ArtifactGenerator", "podinfo", "flux-system", {
        "artifacts": [{"copy": [{"from": "@manifests/kustomize/**", "to": "@artifact/"}, {"from": "@config/podinfo/*.yaml", "to": "@artifact/config/"}],
                       "name": "podinfo-config", "originRevision": "@manifests"}],
        "sources": [{"alias": "manifests", "kind": "OCIRepository", "name": "podinfo", "namespace": "apps"},
                    {"alias": "config", "kind": "GitRepository", "name": "flux-system"}],
    }, {
        "conditions": [ready("reconciliation succeeded, generated 1 artifact(s)", 8, reason="ReconciliationSucceeded")],
        "inventory": [{"digest": sha256("ea/podinfo-config"), "filename": hexdigest("ea/podinfo-config", 64) + ".tar.gz",
                       "name": "podinfo-config", "namespace": "flux-system"}],
        "observedGeneration": 1,
        "observedSourcesDigest": sha256("ag-sources"),
    }, created=days(15)))
    objs.append(flux_obj(g2, "ArtifactGenerator", "policies", "flux-system", {
        "artifacts": [{"copy": [{"from": "@infra/policies/**", "to": "@artifact/"}], "name": "platform-policies"}],
        "sources": [{"alias": "infra", "kind": "GitRepository", "name": "infra-private"}],
    }, {
        "conditions": [cond("Ready", "False", "SourceFetchFailed", "source GitRepository 'flux-system/infra-private' is not ready", 90)],
        "observedGeneration": 1,
    }, created=days(15)))
    add("flux-operator.yaml", *objs)


# ---------------------------------------------------------------------------------------------
# Diagnosis: failures whose root cause is another object, multi-line messages, a stale report
# (get_kubernetes_resources follows the chain; get_flux_instance checks the report against
# live state). Kept apart from the objects above so other additions merge without conflict.
# ---------------------------------------------------------------------------------------------

def diagnosis_chains():
    src, ksg, hrg = "source.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2"
    # grafana: its HelmChart was never created, and the HelmRepository the chart template names
    # does not exist either: the root cause is two hops away.
    grafana_err = 'could not get HelmChart object: HelmChart.source.toolkit.fluxcd.io "apps-grafana" not found'
    add("helmreleases.yaml", flux_obj(hrg, "HelmRelease", "grafana", "apps", {
        "chart": {"spec": {"chart": "grafana", "interval": "1h", "reconcileStrategy": "ChartVersion",
                           "sourceRef": {"kind": "HelmRepository", "name": "grafana", "namespace": "flux-system"}, "version": "10.1.x"}},
        "interval": "30m0s",
    }, {
        "conditions": [cond("Ready", "False", "ArtifactFailed", grafana_err, 35)],
        "helmChart": "flux-system/apps-grafana",
        "observedGeneration": 1,
    }, created=days(1), labels={"kustomize.toolkit.fluxcd.io/name": "apps"}))
    event("apps", hrg, "HelmRelease", "grafana", "ArtifactFailed", grafana_err, "Warning", "helm-controller", count=8, first=35, last=4)
    # shop-payments: its GitRepository (payments) cannot resolve the Git host; the cause is on
    # the message's second line (a summary that keeps only the first line loses it).
    dns_err = ("failed to checkout and determine revision: unable to clone 'https://git.acme.internal/payments/deploy.git':\n"
               'Get "https://git.acme.internal/payments/deploy.git/info/refs?service=git-upload-pack": '
               "dial tcp: lookup git.acme.internal on 10.96.0.10:53: no such host")
    add("sources.yaml", flux_obj(src, "GitRepository", "payments", "apps", {
        "interval": "5m0s", "ref": {"branch": "main"}, "timeout": "60s",
        "url": "https://git.acme.internal/payments/deploy.git",
    }, {
        "conditions": [cond("Ready", "False", "GitOperationFailed", dns_err, 22),
                       cond("FetchFailed", "True", "GitOperationFailed", dns_err, 22)],
        "observedGeneration": 1,
    }, created=days(2)))
    event("apps", src, "GitRepository", "payments", "GitOperationFailed", dns_err, "Warning", "source-controller", count=5, first=22, last=2)
    add("kustomizations.yaml", flux_obj(ksg, "Kustomization", "shop-payments", "apps", {
        "interval": "10m0s", "path": "./production", "prune": True, "timeout": "5m0s",
        "sourceRef": {"kind": "GitRepository", "name": "payments"},
    }, {
        "conditions": [cond("Ready", "False", "ArtifactFailed", "Source artifact not found, retrying in 30s", 21)],
        "observedGeneration": 1,
    }, created=days(2)))
    # storefront: a build error whose later lines are indented (kustomize's nested errors).
    build_err = ("kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'deploy.yaml': "
                 "missing Resource metadata':\n  error converting YAML to JSON: yaml: line 12: did not find expected key\n"
                 "  in file ./production/deploy.yaml")
    add("kustomizations.yaml", flux_obj(ksg, "Kustomization", "storefront", "apps", {
        "interval": "10m0s", "path": "./storefront", "prune": True, "timeout": "5m0s",
        "sourceRef": {"kind": "GitRepository", "name": "webapp"},
    }, {
        "conditions": [cond("Ready", "False", "BuildFailed", build_err, 12),
                       cond("Stalled", "True", "BuildFailed", build_err, 12)],
        "observedGeneration": 1,
    }, created=days(6)))
    # observability waits for apps/webapp, which waits for an OCI artifact that cannot be
    # pulled: dependency, then that dependency's source.
    add("kustomizations.yaml", flux_obj(ksg, "Kustomization", "observability", "flux-system", {
        "interval": "10m0s", "path": "./observability", "prune": True, "timeout": "5m0s",
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        "dependsOn": [{"name": "webapp", "namespace": "apps"}],
    }, {
        "conditions": [cond("Ready", "False", "DependencyNotReady", "dependency 'apps/webapp' is not ready", 30)],
        "observedGeneration": 1,
    }, created=days(9)))
    # team-envs: its input provider cannot list merge requests.
    add("flux-operator.yaml", flux_obj("fluxcd.controlplane.io/v1", "ResourceSet", "team-envs", "flux-system", {
        "inputsFrom": [{"kind": "ResourceSetInputProvider", "name": "team-onboarding"}],
        "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-<< inputs.id >>"}}],
    }, {
        "conditions": [cond("Ready", "False", "ReconciliationFailed",
                            "failed to get inputs: ResourceSetInputProvider 'flux-system/team-onboarding' is not ready", 70)],
        "observedGeneration": 1,
    }, created=days(7)))


def stale_flux_report():
    """The FluxReport as the issue met it: written 41 minutes ago, it says helm-controller is not
    ready (its Deployment is available), names kustomize-controller v1.7.0 (the pod runs v1.7.1)
    and counts no failing objects for four kinds that have some."""
    report = next(o for o in OBJECTS["flux-operator.yaml"] if o["kind"] == "FluxReport")
    spec = report["spec"]
    for c in spec["components"]:
        if c["name"] == "helm-controller":
            c["ready"] = False
            c["status"] = "Failed: Deployment does not have minimum availability."
        if c["name"] == "kustomize-controller":
            c["image"] = c["image"].replace(":v1.7.1@", ":v1.7.0@")
    for r in spec["reconcilers"]:
        if r["kind"] in ("ImagePolicy", "Receiver", "OCIRepository", "ResourceSetInputProvider"):
            r["stats"]["failing"] = 0
    report["status"]["conditions"] = [ready("Reporting finished in 241ms", 41, reason="ReconciliationSucceeded")]
    report["metadata"]["managedFields"] = [{
        "apiVersion": "fluxcd.controlplane.io/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}},
        "manager": "flux-operator", "operation": "Apply", "time": at(41)}]


# ---------------------------------------------------------------------------------------------
# Workloads: controllers and apps (Deployments, StatefulSets, Pods), Services, ServiceAccounts
# ---------------------------------------------------------------------------------------------

REPLICASETS = []  # every Deployment's current ReplicaSet, written to replicasets.yaml
POD_IPS = iter("10.244.%d.%d" % (1 + i % 2, 10 + i) for i in range(200))
PODS = []  # (ns, name, [containers]) for metrics


def container_specs(containers):
    """Container specs as the API server stores them (defaults filled in)."""
    out = []
    for c in containers:
        sc = {"image": c["image"], "imagePullPolicy": "IfNotPresent", "name": c["name"]}
        if c.get("args"):
            sc["args"] = c["args"]
        if c.get("port"):
            sc["ports"] = [{"containerPort": c["port"], "name": c.get("port_name", "http"), "protocol": "TCP"}]
        sc["resources"] = c.get("resources", {"limits": {"memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "64Mi"}})
        sc["terminationMessagePath"] = "/dev/termination-log"
        sc["terminationMessagePolicy"] = "File"
        out.append(sc)
    return out


def pod_template_spec(containers, sa, init_containers=None, restart_policy="Always"):
    spec = {"containers": container_specs(containers), "dnsPolicy": "ClusterFirst", "restartPolicy": restart_policy,
            "schedulerName": "default-scheduler", "securityContext": {"fsGroup": 1337},
            "serviceAccount": sa, "serviceAccountName": sa, "terminationGracePeriodSeconds": 10}
    if init_containers:
        spec["initContainers"] = init_containers
    return spec


def container_status(pod, c, started, override=None):
    """A running, ready container status; `override` replaces fields (state, ready, ...)."""
    image = c["image"]
    st = {"containerID": "containerd://" + hexdigest("cid/%s/%s" % (pod, c["name"])), "image": image,
          "imageID": image.split(":")[0] + "@" + sha256("img/" + image), "lastState": {},
          "name": c["name"], "ready": True, "restartCount": 0, "started": True, "state": {"running": {"startedAt": started}}}
    if override:
        st.update(override)
    return st


def pod_object(ns, pod, template_spec, labels, owner_kind, owner_name, created, started, statuses, node_name,
               generate_name, phase="Running", annotations=None):
    """A scheduled pod owned by `owner_kind/owner_name`; PODS records it for the metrics."""
    all_ready = all(s["ready"] for s in statuses)
    ip = next(POD_IPS)
    node_index = NODES.index(node_name)
    pod_spec = dict(template_spec)
    pod_spec["enableServiceLinks"] = True
    pod_spec["nodeName"] = node_name
    pod_spec["preemptionPolicy"] = "PreemptLowerPriority"
    pod_spec["priority"] = 0
    pod_spec["tolerations"] = [
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}]
    group = "" if owner_kind == "Node" else ("batch" if owner_kind == "Job" else "apps")
    ready_reason = {"reason": "PodCompleted"} if phase in ("Succeeded", "Failed") else {}
    pod_obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": meta("", "Pod", pod, ns, created, labels, annotations, None, None,
                         [{"apiVersion": "batch/v1" if owner_kind == "Job" else "apps/v1", "blockOwnerDeletion": True, "controller": True,
                           "kind": owner_kind, "name": owner_name, "uid": uid(group, owner_kind, ns, owner_name)}],
                         {"generateName": generate_name}),
        "spec": pod_spec,
        "status": {
            "conditions": [
                {"lastProbeTime": None, "lastTransitionTime": started, "status": "False" if phase in ("Succeeded", "Failed") else "True",
                 "type": "PodReadyToStartContainers"},
                dict({"lastProbeTime": None, "lastTransitionTime": started, "status": "True", "type": "Initialized"}, **ready_reason),
                dict({"lastProbeTime": None, "lastTransitionTime": started, "status": "True" if all_ready else "False", "type": "Ready"}, **ready_reason),
                dict({"lastProbeTime": None, "lastTransitionTime": started, "status": "True" if all_ready else "False", "type": "ContainersReady"}, **ready_reason),
                {"lastProbeTime": None, "lastTransitionTime": started, "status": "True", "type": "PodScheduled"},
            ],
            "containerStatuses": statuses,
            "hostIP": "10.0.%d.1%d" % (node_index, node_index),
            "phase": phase,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "qosClass": "Burstable",
            "startTime": started,
        },
    }
    PODS.append((ns, pod, [s["name"] for s in statuses], all_ready and phase == "Running"))
    return pod_obj


def workload(ns, name, containers, replicas=1, labels=None, created=days(30), node=1, pod_status=None,
             kind="Deployment", pod_names=None, restarts=None, init_containers=None, sa=None, pod_annotations=None):
    """A Deployment, StatefulSet or DaemonSet and its pods; returns objects."""
    lbl = labels or {"app": name}
    selector = dict(lbl)
    group = "apps"
    h = rs_hash(ns + name)
    if kind == "DaemonSet":
        replicas = len(NODES)
    ready_n = replicas if pod_status is None else 0
    template_spec = pod_template_spec(containers, sa or name, init_containers)
    template_meta = {"labels": lbl}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    workload_meta = meta(group, kind, name, ns, created, dict(lbl),
                         {"deployment.kubernetes.io/revision": "3"} if kind == "Deployment" else None, 3)
    status = {"availableReplicas": ready_n, "observedGeneration": 3, "readyReplicas": ready_n, "replicas": replicas, "updatedReplicas": replicas}
    if kind == "Deployment":
        status["conditions"] = [
            {"lastTransitionTime": at(created), "lastUpdateTime": at(days(4)), "message": 'ReplicaSet "%s-%s" has successfully progressed.' % (name, h),
             "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"},
            {"lastTransitionTime": at(days(4)) if ready_n else at(38), "lastUpdateTime": at(days(4)) if ready_n else at(38),
             "message": "Deployment has minimum availability." if ready_n else "Deployment does not have minimum availability.",
             "reason": "MinimumReplicasAvailable" if ready_n else "MinimumReplicasUnavailable",
             "status": "True" if ready_n else "False", "type": "Available"},
        ]
        if not ready_n:
            status.pop("availableReplicas")
            status.pop("readyReplicas")
            status["unavailableReplicas"] = replicas
        spec = {"progressDeadlineSeconds": 600, "replicas": replicas, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": selector}, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": {"metadata": template_meta, "spec": template_spec}}
    elif kind == "DaemonSet":
        status = {"currentNumberScheduled": replicas, "desiredNumberScheduled": replicas, "numberAvailable": ready_n, "numberMisscheduled": 0,
                  "numberReady": ready_n, "observedGeneration": 3, "updatedNumberScheduled": replicas}
        spec = {"revisionHistoryLimit": 10, "selector": {"matchLabels": selector}, "template": {"metadata": template_meta, "spec": template_spec},
                "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"}}
    else:
        status = {"availableReplicas": ready_n, "collisionCount": 0, "currentReplicas": replicas, "currentRevision": "%s-%s" % (name, h),
                  "observedGeneration": 3, "readyReplicas": ready_n, "replicas": replicas, "updateRevision": "%s-%s" % (name, h), "updatedReplicas": replicas}
        spec = {"podManagementPolicy": "OrderedReady", "replicas": replicas, "selector": {"matchLabels": selector},
                "serviceName": name.replace("-master", "-headless"), "template": {"metadata": template_meta, "spec": template_spec},
                "updateStrategy": {"type": "RollingUpdate"}}
    objs = [{"apiVersion": "apps/v1", "kind": kind, "metadata": workload_meta, "spec": spec, "status": status}]
    owner_kind, owner_name = ("ReplicaSet", "%s-%s" % (name, h)) if kind == "Deployment" else (kind, name)
    if kind == "Deployment":
        # The Deployment's current ReplicaSet, which owns its pods (replicasets.yaml).
        rs_labels = dict(lbl, **{"pod-template-hash": h})
        rs_meta = meta("apps", "ReplicaSet", owner_name, ns, days(4) if created > days(4) else created, rs_labels,
                       {"deployment.kubernetes.io/desired-replicas": str(replicas), "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                        "deployment.kubernetes.io/revision": "3"}, 1,
                       owner=[{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "Deployment",
                               "name": name, "uid": uid("apps", "Deployment", ns, name)}])
        rs_template = {"metadata": dict(template_meta, labels=rs_labels), "spec": template_spec}
        rs_status = {"availableReplicas": ready_n, "fullyLabeledReplicas": replicas, "observedGeneration": 1,
                     "readyReplicas": ready_n, "replicas": replicas}
        if not ready_n:
            rs_status.pop("availableReplicas")
            rs_status.pop("readyReplicas")
        REPLICASETS.append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta,
                            "spec": {"replicas": replicas, "selector": {"matchLabels": rs_labels}, "template": rs_template},
                            "status": rs_status})
    if kind == "DaemonSet":
        names = pod_names or ["%s-%s" % (name, pod_suffix(ns + name + str(i))) for i in range(replicas)]
    else:
        names = pod_names or ["%s-%s-%s" % (name, h, pod_suffix(ns + name + str(i))) for i in range(replicas)]
    for i, pod in enumerate(names):
        started = at(days(4) if kind in ("Deployment", "DaemonSet") else 40, i * 7)
        statuses = []
        for c in containers:
            st = container_status(pod, c, started, (pod_status or {}).get(c["name"]))
            if restarts and c["name"] in restarts:
                st["restartCount"] = restarts[c["name"]]
            statuses.append(st)
        pod_labels = dict(lbl)
        if kind == "Deployment":
            pod_labels["pod-template-hash"] = h
        elif kind == "DaemonSet":
            pod_labels["controller-revision-hash"] = h
            pod_labels["pod-template-generation"] = "3"
        else:
            pod_labels["apps.kubernetes.io/pod-index"] = str(i)
            pod_labels["controller-revision-hash"] = "%s-%s" % (name, h)
            pod_labels["statefulset.kubernetes.io/pod-name"] = pod
        node_name = NODES[i] if kind == "DaemonSet" else NODES[1 + (node + i) % 2]
        generate_name = owner_name + "-" if kind == "Deployment" else name + "-"
        objs.append(pod_object(ns, pod, template_spec, pod_labels, owner_kind, owner_name,
                               days(4) if kind in ("Deployment", "DaemonSet") else 45, started, statuses, node_name,
                               generate_name, annotations=pod_annotations))
    return objs


def service(ns, name, port, selector, labels=None, created=days(30)):
    ip = "10.96.%d.%d" % (len(name) % 200, (sum(map(ord, name)) % 250) + 1)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("", "Service", name, ns, created, labels or {"app": name}),
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": "http"}], "selector": selector,
                     "sessionAffinity": "None", "type": "ClusterIP"},
            "status": {"loadBalancer": {}}}


def service_account(ns, name, labels=None, created=days(30)):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("", "ServiceAccount", name, ns, created, labels)}


CONTROLLER_PODS = {}


def controllers():
    objs = []
    versions = {"source-controller": "v1.7.2", "kustomize-controller": "v1.7.1", "helm-controller": "v1.4.2",
                "notification-controller": "v1.7.3", "image-reflector-controller": "v1.0.2", "image-automation-controller": "v1.0.2"}
    for c, v in versions.items():
        labels = {"app": c, "app.kubernetes.io/component": c, "app.kubernetes.io/instance": "flux-system", "app.kubernetes.io/managed-by": "flux-operator",
                  "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": FLUX_VERSION, "control-plane": "controller",
                  "fluxcd.controlplane.io/name": "flux", "fluxcd.controlplane.io/namespace": "flux-system"}
        args = ["--events-addr=http://notification-controller.flux-system.svc.cluster.local./", "--watch-all-namespaces=true",
                "--log-level=info", "--log-encoding=json", "--enable-leader-election"]
        if c in ("kustomize-controller", "helm-controller"):
            args.append("--concurrent=10")
        if c == "source-controller":
            args += ["--storage-path=/data", "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local."]
        ws = workload("flux-system", c, [{"name": "manager", "image": "ghcr.io/fluxcd/%s:%s@%s" % (c, v, sha256("image/" + c)), "args": args,
                                           "port": 9440, "port_name": "healthz",
                                           "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}}],
                      labels={"app": c}, created=days(40), node=len(objs))
        ws[0]["metadata"]["labels"] = labels
        objs.extend(ws)
        CONTROLLER_PODS[c] = ws[1]["metadata"]["name"]
        objs.append(service_account("flux-system", c, {"app.kubernetes.io/instance": "flux-system", "app.kubernetes.io/part-of": "flux"}, days(40)))
    op = workload("flux-system", "flux-operator", [{"name": "manager", "image": "ghcr.io/controlplaneio-fluxcd/flux-operator:v0.33.0",
                                                    "args": ["--log-level=info", "--log-encoding=json"], "port": 8080}],
                  labels={"app.kubernetes.io/name": "flux-operator", "app.kubernetes.io/instance": "flux-operator"}, created=days(40), node=0)
    objs.extend(op)
    CONTROLLER_PODS["flux-operator"] = op[1]["metadata"]["name"]
    objs.append(service_account("flux-system", "flux-operator", None, days(40)))
    for c, port in [("source-controller", 80), ("notification-controller", 80), ("webhook-receiver", 80)]:
        objs.append(service("flux-system", c, port, {"app": c.replace("webhook-receiver", "notification-controller")},
                            {"app.kubernetes.io/part-of": "flux", "control-plane": "controller"}, days(40)))
    add("flux-controllers.yaml", *objs)


def apps_workloads():
    objs = []
    # helm-controller labels what it installs with the HelmRelease's name, which differs from the
    # Helm release name when spec.releaseName is set (webapp-frontend installs release frontend).
    helm_labels = lambda rel, hr=None: {"app.kubernetes.io/instance": rel, "app.kubernetes.io/managed-by": "Helm",
                                        "helm.toolkit.fluxcd.io/name": hr or rel, "helm.toolkit.fluxcd.io/namespace": "apps"}
    # Helm itself annotates every object of a release with the release's name and namespace.
    def helm_annotate(obj, rel, ns="apps"):
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations.update({"meta.helm.sh/release-name": rel, "meta.helm.sh/release-namespace": ns})
        obj["metadata"]["annotations"] = dict(sorted(annotations.items()))
        return obj
    p = workload("apps", "podinfo", [{"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.9.2", "port": 9898,
                                      "args": ["./podinfo", "--port=9898", "--level=info"]}], replicas=2,
                 labels={"app.kubernetes.io/name": "podinfo"}, created=days(34))
    p[0]["metadata"]["labels"] = dict(p[0]["metadata"]["labels"], **helm_labels("podinfo"))
    p[0]["metadata"]["annotations"].update({"meta.helm.sh/release-name": "podinfo", "meta.helm.sh/release-namespace": "apps"})
    objs.extend(p)
    objs.append(service("apps", "podinfo", 9898, {"app.kubernetes.io/name": "podinfo"}, dict({"app.kubernetes.io/name": "podinfo"}, **helm_labels("podinfo"))))
    # A pod with two containers.
    f = workload("apps", "frontend", [{"name": "frontend", "image": "ghcr.io/acme-corp/webapp-frontend:3.8.1", "port": 3000},
                                      {"name": "nginx", "image": "docker.io/library/nginx:1.29.3-alpine", "port": 8080, "port_name": "proxy"}],
                 labels={"app.kubernetes.io/name": "frontend"}, created=days(30),
                 init_containers=[{"name": "migrate", "image": "ghcr.io/acme-corp/webapp-tools:1.4.0", "args": ["migrate", "--wait"],
                                   "imagePullPolicy": "IfNotPresent"}])
    f[0]["metadata"]["labels"] = dict(f[0]["metadata"]["labels"], **helm_labels("frontend", "webapp-frontend"))
    helm_annotate(f[0], "frontend")
    objs.extend(f)
    objs.append(helm_annotate(service("apps", "frontend", 80, {"app.kubernetes.io/name": "frontend"},
                                      dict({"app.kubernetes.io/name": "frontend"}, **helm_labels("frontend", "webapp-frontend"))), "frontend"))
    # redis-master-0: crash-looping; its previous container exited with an error.
    crash = {"redis": {
        "ready": False, "started": False,
        "state": {"waiting": {"message": "back-off 5m0s restarting failed container=redis pod=redis-master-0_apps(%s)" % uid("", "Pod", "apps", "redis-master-0"),
                              "reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"containerID": "containerd://" + hexdigest("redis-crash-7"), "exitCode": 1, "finishedAt": at(4),
                                     "reason": "Error", "startedAt": at(4, 2)}},
    }}
    r = workload("apps", "redis-master", [{"name": "redis", "image": "docker.io/bitnami/redis:7.4.1-debian-12-r2", "port": 6379, "port_name": "redis"}],
                 labels={"app.kubernetes.io/component": "master", "app.kubernetes.io/instance": "redis", "app.kubernetes.io/name": "redis"},
                 kind="StatefulSet", pod_names=["redis-master-0"], pod_status=crash, restarts={"redis": 7}, created=46, sa="redis")
    r[0]["metadata"]["labels"].update(helm_labels("redis"))
    helm_annotate(r[0], "redis")
    objs.extend(r)
    objs.append(helm_annotate(service("apps", "redis-master", 6379, {"app.kubernetes.io/name": "redis"}, helm_labels("redis"), created=46), "redis"))
    objs.append(helm_annotate(service_account("apps", "redis", helm_labels("redis"), 46), "redis"))
    # monitoring: kube-state-metrics stuck on an image that cannot be pulled (health check failure).
    pull = {"kube-state-metrics": {
        "ready": False, "started": False, "imageID": "",
        "state": {"waiting": {"message": 'Back-off pulling image "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.1"', "reason": "ImagePullBackOff"}},
    }}
    k = workload("monitoring", "kube-state-metrics", [{"name": "kube-state-metrics", "image": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.1", "port": 8080}],
                 labels={"app.kubernetes.io/name": "kube-state-metrics"}, pod_status=pull, created=40)
    k[0]["metadata"]["labels"].update(FLUX_LABELS)
    k[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "monitoring-controllers"
    objs.extend(k)
    op = workload("monitoring", "kube-prometheus-stack-operator", [{"name": "kube-prometheus-stack", "image": "quay.io/prometheus-operator/prometheus-operator:v0.86.2", "port": 10250, "port_name": "https"}],
                  labels={"app": "kube-prometheus-stack-operator", "release": "kube-prometheus-stack"}, created=days(9))
    # Installed by a helm-controller that did not label what it installs yet: Helm's own
    # release annotations are all that tie it to its HelmRelease.
    op[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
    helm_annotate(op[0], "kube-prometheus-stack", "monitoring")
    objs.extend(op)
    cm = workload("cert-manager", "cert-manager", [{"name": "cert-manager-controller", "image": "quay.io/jetstack/cert-manager-controller:v1.19.1", "port": 9402, "port_name": "http-metrics",
                                                    "args": ["--v=2", "--cluster-resource-namespace=$(POD_NAMESPACE)", "--leader-election-namespace=kube-system"]}],
                  labels={"app.kubernetes.io/instance": "cert-manager", "app.kubernetes.io/name": "cert-manager"}, created=days(38))
    objs.extend(cm)
    add("workloads.yaml", *objs)
    return {"podinfo": [o["metadata"]["name"] for o in p[1:]], "frontend": f[1]["metadata"]["name"],
            "ksm": k[1]["metadata"]["name"], "cert-manager": cm[1]["metadata"]["name"]}


def job(ns, name, containers, started_ago, seconds, failed=False, owner=None, labels=None, backoff_limit=6):
    """A Job that ran one pod to completion (or failure) `started_ago` minutes ago; returns [job, pod]."""
    job_uid = uid("batch", "Job", ns, name)
    selector = {"batch.kubernetes.io/controller-uid": job_uid}
    pod_labels = {"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": name,
                  "controller-uid": job_uid, "job-name": name}
    template_spec = pod_template_spec(containers, "default", restart_policy="Never")
    template_spec.pop("securityContext")
    start, finish = at(started_ago), at(started_ago, -seconds)
    if failed:
        conditions = [
            {"lastProbeTime": finish, "lastTransitionTime": finish, "message": "Job has reached the specified backoff limit",
             "reason": "BackoffLimitExceeded", "status": "True", "type": "FailureTarget"},
            {"lastProbeTime": finish, "lastTransitionTime": finish, "message": "Job has reached the specified backoff limit",
             "reason": "BackoffLimitExceeded", "status": "True", "type": "Failed"}]
        status = {"conditions": conditions, "failed": 1, "ready": 0, "startTime": start, "terminating": 0, "uncountedTerminatedPods": {}}
    else:
        conditions = [
            {"lastProbeTime": finish, "lastTransitionTime": finish, "message": "Reached expected number of succeeded pods",
             "reason": "CompletionsReached", "status": "True", "type": "SuccessCriteriaMet"},
            {"lastProbeTime": finish, "lastTransitionTime": finish, "message": "Reached expected number of succeeded pods",
             "reason": "CompletionsReached", "status": "True", "type": "Complete"}]
        status = {"completionTime": finish, "conditions": conditions, "ready": 0, "startTime": start, "succeeded": 1,
                  "terminating": 0, "uncountedTerminatedPods": {}}
    job_labels = dict(pod_labels)
    job_labels.update(labels or {})
    spec = {"backoffLimit": backoff_limit, "completionMode": "NonIndexed", "completions": 1, "manualSelector": False,
            "parallelism": 1, "podReplacementPolicy": "TerminatingOrFailed", "selector": {"matchLabels": selector},
            "suspend": False, "template": {"metadata": {"labels": dict(pod_labels)}, "spec": template_spec}}
    owner_refs = None
    if owner:
        owner_refs = [{"apiVersion": "batch/v1", "blockOwnerDeletion": True, "controller": True, "kind": "CronJob",
                       "name": owner, "uid": uid("batch", "CronJob", ns, owner)}]
    job_obj = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": meta("batch", "Job", name, ns, started_ago, job_labels, None, 1, None, owner_refs),
               "spec": spec, "status": status}
    pod = "%s-%s" % (name, pod_suffix("job/" + ns + name))
    exit_code = 1 if failed else 0
    statuses = [container_status(pod, c, start, {
        "ready": False, "started": False,
        "state": {"terminated": {"containerID": "containerd://" + hexdigest("cid/%s/%s" % (pod, c["name"])), "exitCode": exit_code,
                                 "finishedAt": finish, "reason": "Error" if failed else "Completed", "startedAt": start}}})
                for c in containers]
    pod_obj = pod_object(ns, pod, template_spec, pod_labels, "Job", name, started_ago, start, statuses, NODES[1 + started_ago % 2],
                         name + "-", phase="Failed" if failed else "Succeeded")
    return [job_obj, pod_obj]


def batch_and_daemon_workloads():
    """A DaemonSet, a Job, a CronJob with two runs (the latest failed) and a two-container pod with a
    default-container annotation, with their pods and logs: what get_kubernetes_logs resolves."""
    objs = []
    # Two containers, the default one named by the annotation kubectl honours.
    api = workload("apps", "api", [{"name": "api", "image": "ghcr.io/acme-corp/webapp-api:2.11.0", "port": 8080},
                                   {"name": "oauth2-proxy", "image": "quay.io/oauth2-proxy/oauth2-proxy:v7.12.0", "port": 4180, "port_name": "proxy"}],
                   labels={"app.kubernetes.io/name": "api"}, created=days(12),
                   pod_annotations={"kubectl.kubernetes.io/default-container": "api"})
    objs.extend(api)
    api_pod = api[1]["metadata"]["name"]
    for m in range(12, 0, -3):
        log("apps", api_pod, "api", m, 0, json.dumps({"time": at_milli(m), "level": "INFO", "msg": "GET /v1/orders", "status": 200,
                                                     "duration_ms": 9 + m}, separators=(",", ":")))
        log("apps", api_pod, "oauth2-proxy", m, 1, '10.244.1.1:%d - - [%s] api.acme.example GET - "/oauth2/auth" HTTP/1.1 "kube-probe/1.33" 202 0 0.001'
            % (42000 + m, (NOW - dt.timedelta(minutes=m, seconds=1)).strftime("%Y/%m/%d %H:%M:%S")))
    log("apps", api_pod, "api", 2, 30, json.dumps({"time": at_milli(2, 30), "level": "ERROR", "msg": "payment provider timeout",
                                                  "order": "A-1042", "error": "context deadline exceeded"}, separators=(",", ":")))
    # A DaemonSet: one pod per node.
    ne = workload("monitoring", "node-exporter", [{"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.10.2", "port": 9100,
                                                   "port_name": "metrics", "args": ["--path.rootfs=/host/root", "--web.listen-address=[$(HOST_IP)]:9100"]}],
                  labels={"app.kubernetes.io/name": "node-exporter"}, kind="DaemonSet", created=days(35))
    ne[0]["metadata"]["labels"].update(FLUX_LABELS)
    ne[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "monitoring-controllers"
    objs.extend(ne)
    for i, o in enumerate(ne[1:]):
        pod = o["metadata"]["name"]
        log("monitoring", pod, "node-exporter", days(4), -i, 'ts=%s caller=node_exporter.go:193 level=info msg="Starting node_exporter" version="(version=1.10.2)"' % at_milli(days(4), -i))
        log("monitoring", pod, "node-exporter", days(4), -i - 1, 'ts=%s caller=tls_config.go:347 level=info msg="Listening on" address=[10.0.%d.1%d]:9100' % (at_milli(days(4), -i - 1), i, i))
        if i == 2:
            log("monitoring", pod, "node-exporter", 17, 0, 'ts=%s caller=collector.go:169 level=error msg="collector failed" name=hwmon duration_seconds=0.002 err="open /host/sys/class/hwmon/hwmon3/temp1_input: no such device"' % at_milli(17))
    # A Job run once by hand.
    migrate = job("apps", "db-migrate", [{"name": "migrate", "image": "ghcr.io/acme-corp/webapp-tools:1.4.0", "args": ["migrate", "--to=latest"]}],
                  started_ago=days(2), seconds=41, labels={"app.kubernetes.io/name": "db-migrate"})
    objs.extend(migrate)
    mpod = migrate[1]["metadata"]["name"]
    log("apps", mpod, "migrate", days(2), -2, "connecting to postgres://orders-db.apps.svc:5432/orders")
    log("apps", mpod, "migrate", days(2), -30, "applied 20261119_add_order_index (28.4s)")
    log("apps", mpod, "migrate", days(2), -40, "migrations: 43 applied, 0 pending")
    # A CronJob: the 04:00 run succeeded, the 05:00 run failed (the newest Job is the one to read).
    backup_containers = [{"name": "backup", "image": "ghcr.io/acme-corp/pg-backup:0.9.1", "args": ["--bucket=s3://acme-backups/orders"]}]
    template = {"metadata": {}, "spec": {"backoffLimit": 0, "template": {"metadata": {}, "spec": pod_template_spec(backup_containers, "default", restart_policy="Never")}}}
    template["spec"]["template"]["spec"].pop("securityContext")
    runs = []
    for minutes_ago, failed in ((90, False), (30, True)):
        scheduled = NOW - dt.timedelta(minutes=minutes_ago)
        runs.append(job("apps", "backup-%d" % (int(scheduled.timestamp()) // 60), backup_containers, minutes_ago,
                        seconds=12 if failed else 95, failed=failed, owner="backup", backoff_limit=0))
    cron = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": meta("batch", "CronJob", "backup", "apps", days(20), {"app.kubernetes.io/name": "backup"}, None, 1),
            "spec": {"concurrencyPolicy": "Forbid", "failedJobsHistoryLimit": 1, "jobTemplate": template, "schedule": "0 * * * *",
                     "successfulJobsHistoryLimit": 3, "suspend": False},
            "status": {"lastScheduleTime": at(30), "lastSuccessfulTime": at(90, -95)}}
    objs.append(cron)
    for run in runs:
        objs.extend(run)
    ok_pod, failed_pod = runs[0][1]["metadata"]["name"], runs[1][1]["metadata"]["name"]
    log("apps", ok_pod, "backup", 90, -1, "pg_dump: dumping database orders (schema public)")
    log("apps", ok_pod, "backup", 90, -94, "upload complete: s3://acme-backups/orders/%s.sql.gz (412 MiB)" % (NOW - dt.timedelta(minutes=90)).strftime("%Y%m%dT%H%M"))
    log("apps", failed_pod, "backup", 30, -1, "pg_dump: dumping database orders (schema public)")
    log("apps", failed_pod, "backup", 30, -11, 'pg_dump: error: connection to server at "orders-db.apps.svc" (10.96.41.7), port 5432 failed: FATAL:  password authentication failed for user "backup"')
    add("workloads.yaml", *objs)


def platform_addons():
    """What Kustomization flux-system/platform-addons applied from infra-private: a Deployment, its
    Service and ConfigMap in monitoring, carrying kustomize-controller's owner labels."""
    labels = dict(FLUX_LABELS, **{"kustomize.toolkit.fluxcd.io/name": "platform-addons"})
    app = {"app.kubernetes.io/name": "blackbox-exporter"}
    b = workload("monitoring", "blackbox-exporter", [{"name": "blackbox-exporter", "image": "quay.io/prometheus/blackbox-exporter:v0.27.0",
                                                      "port": 9115, "args": ["--config.file=/config/blackbox.yaml"]}],
                 labels=app, created=days(21))
    b[0]["metadata"]["labels"].update(labels)
    pod = b[1]["metadata"]["name"]
    log("monitoring", pod, "blackbox-exporter", days(3), 0, 'ts=%s caller=main.go:91 level=info msg="Starting blackbox_exporter" version="(version=0.27.0)"' % at_milli(days(3)))
    log("monitoring", pod, "blackbox-exporter", days(3), -1, 'ts=%s caller=main.go:227 level=info msg="Loaded config file"' % at_milli(days(3), -1))
    svc = service("monitoring", "blackbox-exporter", 9115, app, dict(app, **labels), created=days(21))
    cfg = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": meta("", "ConfigMap", "blackbox-exporter-config", "monitoring", days(21), dict(labels)),
           "data": {"blackbox.yaml": "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"}}
    add("workloads.yaml", *b, svc)
    add("configmaps.yaml", cfg)


# ---------------------------------------------------------------------------------------------
# Secrets and ConfigMaps
# ---------------------------------------------------------------------------------------------

def b64(s):
    return base64.b64encode(s.encode()).decode()


def last_applied(obj):
    o = {k: v for k, v in obj.items() if k != "metadata"}
    o["metadata"] = {"annotations": {}, "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]}
    o["metadata"]["annotations"] = {k: v for k, v in obj["metadata"].get("annotations", {}).items()
                                    if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if not o["metadata"]["annotations"]:
        del o["metadata"]["annotations"]
    return json.dumps(o, separators=(",", ":"), sort_keys=True) + "\n"


def secrets_and_configmaps():
    objs = []

    def secret(ns, name, data, type_="Opaque", labels=None, kubectl=False, created=days(30), string_data_applied=None):
        s = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("", "Secret", name, ns, created, labels), "data": data, "type": type_}
        if kubectl:
            applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": type_}
            if string_data_applied:
                applied["stringData"] = string_data_applied
            else:
                applied["data"] = data
            s["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last_applied(applied)}
        return s

    ssh_key = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
               "QyNTUxOQAAACDVd7sFh2mX4sQ0Y1dL0g7tZ0S2fB7pWq1sY3kTJm8bfAAAAJgt2cMJLdnD\n"
               "CQAAAAtzc2gtZWQyNTUxOQAAACDVd7sFh2mX4sQ0Y1dL0g7tZ0S2fB7pWq1sY3kTJm8bfA\n-----END OPENSSH PRIVATE KEY-----\n")
    objs.append(secret("flux-system", "flux-system", {
        "identity": b64(ssh_key),
        "identity.pub": b64("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINV3uwWHaZfixDRjV0vSDu1nRLZ8HularWxjeRMmbxt8 flux@prod-eu1\n"),
        "known_hosts": b64("github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=\n"),
    }, created=days(40)))
    objs.append(secret("flux-system", "slack-bot-token", {"token": b64("xoxb-2081177324-5519340011234-Hc8UPmK3wZ1qLkS0d9Vf2gTe")},
                       kubectl=True, string_data_applied={"token": "xoxb-2081177324-5519340011234-Hc8UPmK3wZ1qLkS0d9Vf2gTe"}, created=days(36)))
    objs.append(secret("flux-system", "github-webhook-token", {"token": b64("4c2f0e9a7b1d5e3f8a6c2b9d1e7f3a5c")}, kubectl=True, created=days(40)))
    objs.append(secret("flux-system", "minio-credentials", {"accesskey": b64("flux-reader"), "secretkey": b64("Qm9ndXMtYnV0LXJlYWxpc3RpYy1zZWNyZXQ")},
                       kubectl=True, created=days(12)))
    docker = json.dumps({"auths": {"ghcr.io": {"username": "acme-ci", "password": "ghp_T3stT0kenN0tRealButL00ksReal000000", "auth": b64("acme-ci:ghp_T3stT0kenN0tRealButL00ksReal000000")}}})
    objs.append(secret("apps", "ghcr-auth", {".dockerconfigjson": b64(docker)}, "kubernetes.io/dockerconfigjson", created=days(33)))
    objs.append(secret("apps", "webapp-git-auth", {"username": b64("git"), "password": b64("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz")},
                       kubectl=True, created=days(34)))
    objs.append(secret("apps", "frontend-env", {"values.yaml": b64("database:\n  url: postgres://webapp:S3cr3t-Pr0d-Pa55@db.acme.internal:5432/shop\nstripe:\n  apiKey: sk_live_51NotARealKeyButShapedLikeOne\n")},
                       kubectl=True, created=days(30)))
    objs.append(secret("apps", "postgres-credentials", {"username": b64("webapp"), "password": b64("S3cr3t-Pr0d-Pa55")},
                       kubectl=True, string_data_applied={"username": "webapp", "password": "S3cr3t-Pr0d-Pa55"}, created=days(35)))
    objs.append(secret("apps", "webapp-tls", {"tls.crt": b64("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFakeButValidLookingCertificateDataA0GCSqGSIb3\n-----END CERTIFICATE-----\n"),
                                              "tls.key": b64("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeKeyMaterialForTestsOnlyNotAKeyAtAll0123456789oAoGCCqG\n-----END EC PRIVATE KEY-----\n")},
                       "kubernetes.io/tls", {"controller.cert-manager.io/fao": "true"}, created=days(28)))
    objs.append(secret("flux-system", "sops-age", {"age.agekey": b64("# created: 2026-10-10T09:00:00Z\n# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nAGE-SECRET-KEY-1QQ8NX2D9V5Q4T7YH6ZP3W0JF5K8M2R7C4L9S1E6A3U0B5D8G2H7KJ4TFLM\n")},
                       created=days(40)))
    cms = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("", "ConfigMap", "kube-root-ca.crt", ns, days(40), None,
                                                                      {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}),
         "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIQ0Bl5S1dTfEwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE\n-----END CERTIFICATE-----\n"}}
        for ns in ("flux-system", "apps", "monitoring")
    ]
    cfg = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": meta("", "ConfigMap", "podinfo-config", "apps", days(4), {"kustomize.toolkit.fluxcd.io/name": "podinfo", "kustomize.toolkit.fluxcd.io/namespace": "apps"}),
           "data": {"PODINFO_UI_COLOR": "#34577c", "PODINFO_UI_MESSAGE": "Greetings from production"}}
    dash = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta("", "ConfigMap", "flux-grafana-dashboards", "monitoring", days(9), dict(FLUX_LABELS, **{"grafana_dashboard": "1", "kustomize.toolkit.fluxcd.io/name": "monitoring-configs"})),
            "data": {"flux-control-plane.json": json.dumps({"title": "Flux Control Plane", "uid": "flux-cp", "panels": [{"type": "stat", "title": "Reconcilers"}]})}}
    applied_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("", "ConfigMap", "cluster-settings", "flux-system", days(40)),
                  "data": {"CLUSTER_NAME": "prod-eu1", "CLUSTER_REGION": "eu-west-1", "CLUSTER_DOMAIN": "prod.acme.io"}}
    applied_cm["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last_applied(applied_cm)}
    add("secrets.yaml", *objs)
    add("configmaps.yaml", *cms, cfg, dash, applied_cm)


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------

def event(ns, obj_api, kind, name, reason, message, type_="Normal", component=None, count=1, first=60, last=None,
          annotations=None, series=False):
    last = first if last is None else last
    group = obj_api.split("/")[0] if "/" in obj_api else ""
    key = "%s.%s" % (name, hexdigest("ev/%s/%s/%s/%s/%s" % (ns, kind, name, reason, message), 16))
    e = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": meta("", "Event", key, ns, first, None, annotations),
        "involvedObject": {"apiVersion": obj_api, "kind": kind, "name": name, "namespace": ns, "uid": uid(group, kind, ns, name)},
        "message": message,
        "reason": reason,
        "reportingComponent": component or "",
        "reportingInstance": "",
        "source": {"component": component} if component else {},
        "type": type_,
    }
    if series:
        # Written through events.k8s.io (kube-scheduler, kubelet): eventTime and series, no timestamps.
        e["eventTime"] = at_micro(first)
        e["firstTimestamp"] = None
        e["lastTimestamp"] = None
        e["reportingComponent"] = component
        e["reportingInstance"] = component + "-" + NODES[0]
        e["action"] = "Binding" if reason == "Scheduled" else "Pulling"
        if count > 1:
            e["series"] = {"count": count, "lastObservedTime": at_micro(last)}
    else:
        e["count"] = count
        e["eventTime"] = None
        e["firstTimestamp"] = at(first)
        e["lastTimestamp"] = at(last)
    EVENTS.append(e)


def at_micro(minutes_ago):
    t = NOW - dt.timedelta(minutes=minutes_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % (hash_micro(minutes_ago))


def hash_micro(n):
    return int(hexdigest("micro%s" % n, 8), 16) % 1000000


def events(workload_names):
    src, ks, hr = "source.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2"
    rev = {"source.toolkit.fluxcd.io/revision": MAIN_REV}
    ks_rev = {"kustomize.toolkit.fluxcd.io/revision": MAIN_REV}
    # Healthy objects: ReconciliationSucceeded noise (the tools must skip it) and real news.
    event("flux-system", src, "GitRepository", "flux-system", "NewArtifact",
          "stored artifact for commit 'Merge pull request #482 from acme-corp/bump-podinfo'", component="source-controller", first=8, annotations=rev)
    event("flux-system", ks, "Kustomization", "flux-system", "ReconciliationSucceeded", "Reconciliation finished in 1.734s, next run in 10m0s",
          component="kustomize-controller", count=212, first=days(2), last=8, annotations=ks_rev)
    event("flux-system", ks, "Kustomization", "flux-system", "Progressing",
          "Kustomization/flux-system/tenants configured\nKustomization/flux-system/apps unchanged", component="kustomize-controller", first=8, annotations=ks_rev)
    event("flux-system", ks, "Kustomization", "infra-controllers", "ReconciliationSucceeded", "Reconciliation finished in 10.512s, next run in 1h0m0s",
          component="kustomize-controller", count=49, first=days(2), last=8, annotations=ks_rev)
    event("flux-system", ks, "Kustomization", "apps", "ReconciliationSucceeded", "Reconciliation finished in 3.311s, next run in 10m0s",
          component="kustomize-controller", count=288, first=days(2), last=8, annotations=ks_rev)
    # Failures.
    event("flux-system", src, "GitRepository", "infra-private", "GitOperationFailed",
          "failed to checkout and determine revision: unable to clone 'ssh://git@github.com/acme-corp/infra-private.git': ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain",
          "Warning", "source-controller", count=19, first=90, last=2)
    event("apps", src, "OCIRepository", "webapp-config", "OCIOperationFailed",
          "failed to pull artifact from 'oci://ghcr.io/acme-corp/manifests/webapp': couldn't find tag \"v2.4.0\"",
          "Warning", "source-controller", count=11, first=52, last=3)
    event("flux-system", src, "Bucket", "cluster-backups", "BucketOperationFailed",
          "failed to confirm existence of 'cluster-backups' bucket: Access Denied.", "Warning", "source-controller", count=288, first=days(2), last=6)
    event("flux-system", src, "HelmChart", "apps-metrics-exporter", "InvalidChartReference",
          "invalid chart reference: failed to get chart version for remote reference: no 'metrics-exporter' chart with version matching '2.x' found",
          "Warning", "source-controller", count=20, first=199, last=9)
    event("flux-system", ks, "Kustomization", "monitoring-controllers", "HealthCheckFailed",
          "health check failed after 5m0.041s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']",
          "Warning", "kustomize-controller", count=1, first=33, annotations=ks_rev)
    event("flux-system", ks, "Kustomization", "monitoring-controllers", "Progressing",
          "Deployment/monitoring/kube-state-metrics configured", component="kustomize-controller", first=38, annotations=ks_rev)
    event("flux-system", ks, "Kustomization", "monitoring-configs", "DependencyNotReady",
          "Dependencies do not meet ready condition, retrying in 30s", component="kustomize-controller", count=64, first=32, last=1)
    event("flux-system", ks, "Kustomization", "tenants", "ArtifactFailed",
          "kustomization path not found: stat /tmp/kustomization-1395421538/clusters/production/tenants: no such file or directory",
          "Warning", "kustomize-controller", count=3, first=8, last=1, annotations=ks_rev)
    event("apps", ks, "Kustomization", "webapp", "ArtifactFailed", "Source artifact not found, retrying in 30s",
          "Warning", "kustomize-controller", count=7, first=51, last=4)
    event("apps", ks, "Kustomization", "podinfo", "ReconciliationSucceeded", "Reconciliation finished in 514ms, next run in 30m0s",
          component="kustomize-controller", count=190, first=days(4), last=20)
    event("apps", hr, "HelmRelease", "redis", "InstallFailed",
          "Helm install failed for release apps/redis with chart redis@20.1.4: context deadline exceeded\n\nLast Helm logs:\n\nwaiting for 1 resources with timeout of 5m0s\nStatefulSet is not ready: apps/redis-master. 0 out of 1 expected pods are ready",
          "Warning", "helm-controller", count=4, first=72, last=41, annotations={"helm.toolkit.fluxcd.io/revision": "20.1.4", "helm.toolkit.fluxcd.io/token": hexdigest("redis-token", 40)})
    event("apps", hr, "HelmRelease", "redis", "UninstallSucceeded",
          "Helm uninstall succeeded for release apps/redis.v3 with chart redis@20.1.4", component="helm-controller", count=3, first=67, last=47)
    event("apps", hr, "HelmRelease", "redis", "RetriesExceeded", "Failed to install after 4 attempt(s)", "Warning", "helm-controller", first=41)
    event("apps", hr, "HelmRelease", "metrics-exporter", "ArtifactFailed",
          "HelmChart 'flux-system/apps-metrics-exporter' is not ready: invalid chart reference: failed to get chart version for remote reference: no 'metrics-exporter' chart with version matching '2.x' found",
          "Warning", "helm-controller", count=20, first=199, last=9)
    event("apps", hr, "HelmRelease", "podinfo", "UpgradeSucceeded",
          "Helm upgrade succeeded for release apps/podinfo.v3 with chart podinfo@6.9.2", component="helm-controller", first=days(4),
          annotations={"helm.toolkit.fluxcd.io/revision": "6.9.2"})
    event("apps", hr, "HelmRelease", "webapp-frontend", "UpgradeSucceeded",
          "Helm upgrade succeeded for release apps/frontend.v3 with chart webapp@3.8.1", component="helm-controller", first=days(2))
    event("flux-system", "notification.toolkit.fluxcd.io/v1", "Receiver", "harbor-receiver", "TokenNotFound",
          "unable to read token from secret 'flux-system/harbor-webhook-token' error: secrets \"harbor-webhook-token\" not found",
          "Warning", "notification-controller", count=40, first=days(6), last=20)
    event("flux-system", "image.toolkit.fluxcd.io/v1", "ImageRepository", "webapp-api", "AuthenticationFailed",
          "failed to get tags for harbor.acme.internal/webapp/api: GET https://harbor.acme.internal/v2/webapp/api/tags/list?n=1000: UNAUTHORIZED: unauthorized to access repository: webapp/api, action: pull",
          "Warning", "image-reflector-controller", count=577, first=days(2), last=3)
    event("flux-system", "image.toolkit.fluxcd.io/v1", "ImageRepository", "podinfo", "Succeeded", "successful scan: found 61 tags",
          component="image-reflector-controller", count=1150, first=days(4), last=3)
    event("flux-system", "image.toolkit.fluxcd.io/v1", "ImagePolicy", "podinfo", "Succeeded",
          "Latest image tag for ghcr.io/stefanprodan/podinfo updated from 6.9.1 to 6.9.2", component="image-reflector-controller", first=days(4))
    event("apps", "image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation", "webapp", "GitOperationFailed",
          "failed to push to remote: unable to push to 'https://github.com/acme-corp/webapp.git': remote: Permission to acme-corp/webapp.git denied to fluxcdbot. (403)",
          "Warning", "image-automation-controller", count=2, first=61, last=31)
    event("flux-system", "fluxcd.controlplane.io/v1", "ResourceSet", "tenants", "BuildFailed",
          'failed to build resources: template: teams:4:23: executing "teams" at <inputs.team>: map has no entry for key "team"',
          "Warning", "flux-operator", count=12, first=days(1), last=18)
    event("flux-system", "fluxcd.controlplane.io/v1", "ResourceSetInputProvider", "team-onboarding", "ReconciliationFailed",
          "failed to list pull requests: GET https://gitlab.acme.internal/api/v4/projects/platform%2Fteams/merge_requests?state=opened: 401 {message: 401 Unauthorized}",
          "Warning", "flux-operator", count=30, first=days(1), last=13)
    event("flux-system", "fluxcd.controlplane.io/v1", "FluxInstance", "flux", "ReconciliationSucceeded", "Reconciliation finished in 4s",
          component="flux-operator", count=337, first=days(14), last=27)
    event("flux-system", "source.extensions.fluxcd.io/v1beta1", "ArtifactGenerator", "policies", "SourceFetchFailed",
          "source GitRepository 'flux-system/infra-private' is not ready", "Warning", "source-watcher", count=18, first=90, last=5)
    # Pods, with events.k8s.io-style series from the kubelet and scheduler.
    event("apps", "v1", "Pod", "redis-master-0", "BackOff", "Back-off restarting failed container redis in pod redis-master-0_apps(%s)" % uid("", "Pod", "apps", "redis-master-0"),
          "Warning", "kubelet", count=31, first=44, last=1, series=True)
    event("apps", "v1", "Pod", "redis-master-0", "Scheduled", "Successfully assigned apps/redis-master-0 to " + NODES[2],
          component="default-scheduler", first=45, series=True)
    ksm = workload_names["ksm"]
    event("monitoring", "v1", "Pod", ksm, "Failed",
          'Failed to pull image "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.1": rpc error: code = NotFound desc = failed to pull and unpack image "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.1": not found',
          "Warning", "kubelet", count=9, first=39, last=2)
    event("monitoring", "v1", "Pod", ksm, "BackOff", 'Back-off pulling image "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.1"',
          "Normal", "kubelet", count=160, first=39, last=1, series=True)
    EVENTS.sort(key=lambda e: (e["metadata"]["namespace"], e["metadata"]["name"]))
    add("events.yaml", *EVENTS)


# ---------------------------------------------------------------------------------------------
# Pod logs and metrics
# ---------------------------------------------------------------------------------------------

def log(ns, pod, container, ts_min, ts_sec, text, previous=False):
    LOGS.setdefault((ns, pod, container, previous), []).append((at_nano(ts_min, ts_sec), text))


def flux_line(ts_min, ts_sec, level, msg, controller, group, kind, name, ns, extra=None):
    d = {"level": level, "ts": at_milli(ts_min, ts_sec), "msg": msg, "controller": controller, "controllerGroup": group,
         "controllerKind": kind, kind: {"name": name, "namespace": ns}, "namespace": ns, "name": name,
         "reconcileID": uid("rid", kind, ns, "%s/%s/%s" % (name, ts_min, ts_sec))}
    if extra:
        d.update(extra)
    return json.dumps(d, separators=(",", ":"))


def controller_logs(pods):
    sc, kc, hc = CONTROLLER_PODS["source-controller"], CONTROLLER_PODS["kustomize-controller"], CONTROLLER_PODS["helm-controller"]
    ns = "flux-system"
    startup = lambda pod, name: [
        log(ns, pod, "manager", 60 * 24 * 4 + 5, 0, json.dumps({"level": "info", "ts": at_milli(60 * 24 * 4 + 5), "logger": "setup", "msg": "starting manager"}, separators=(",", ":"))),
        log(ns, pod, "manager", 60 * 24 * 4 + 5, -1, json.dumps({"level": "info", "ts": at_milli(60 * 24 * 4 + 5, -1), "msg": "attempting to acquire leader lease flux-system/%s-leader-election..." % name}, separators=(",", ":"))),
        log(ns, pod, "manager", 60 * 24 * 4 + 4, 50, json.dumps({"level": "info", "ts": at_milli(60 * 24 * 4 + 4, 50), "msg": "successfully acquired lease flux-system/%s-leader-election" % name}, separators=(",", ":"))),
    ]
    startup(sc, "source-controller")
    g = "source.toolkit.fluxcd.io"
    auth_err = ("failed to checkout and determine revision: unable to clone 'ssh://git@github.com/acme-corp/infra-private.git': "
                "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain")
    for m in range(90, 0, -5):
        log(ns, sc, "manager", m, 12, flux_line(m, 12, "error", "Reconciler error", "gitrepository", g, "GitRepository", "infra-private", ns,
                                               {"error": auth_err}))
        if m % 10 == 0:
            log(ns, sc, "manager", m, 40, flux_line(m, 40, "info", "no changes since last reconcilation: observed revision '%s'" % MAIN_REV,
                                                   "gitrepository", g, "GitRepository", "flux-system", ns))
        if m <= 52 and m % 15 in (0, 7):
            log(ns, sc, "manager", m, 30, flux_line(m, 30, "error", "Reconciler error", "ocirepository", g, "OCIRepository", "webapp-config", "apps",
                                                               {"error": "failed to pull artifact from 'oci://ghcr.io/acme-corp/manifests/webapp': couldn't find tag \"v2.4.0\""}))
    log(ns, sc, "manager", 8, 5, flux_line(8, 5, "info", "stored artifact for commit 'Merge pull request #482 from acme-corp/bump-podinfo'",
                                           "gitrepository", g, "GitRepository", "flux-system", ns))
    log(ns, sc, "manager", 6, 1, flux_line(6, 1, "error", "Reconciler error", "bucket", g, "Bucket", "cluster-backups", ns,
                                           {"error": "failed to confirm existence of 'cluster-backups' bucket: Access Denied."}))
    startup(kc, "kustomize-controller")
    g = "kustomize.toolkit.fluxcd.io"
    for m in (38, 28, 18, 8):
        log(ns, kc, "manager", m, 3, flux_line(m, 3, "info", "server-side apply for cluster definitions completed", "kustomization", g, "Kustomization", "flux-system", ns,
                                               {"output": {"Kustomization/flux-system/apps": "unchanged", "Kustomization/flux-system/tenants": "configured"}}))
        log(ns, kc, "manager", m, 1, flux_line(m, 1, "info", "Reconciliation finished in 1.734s, next run in 10m0s", "kustomization", g, "Kustomization", "flux-system", ns,
                                               {"revision": MAIN_REV}))
    log(ns, kc, "manager", 38, 0, flux_line(38, 0, "info", "server-side apply completed", "kustomization", g, "Kustomization", "monitoring-controllers", ns,
                                            {"output": {"Deployment/monitoring/kube-state-metrics": "configured", "HelmRelease/monitoring/kube-prometheus-stack": "unchanged"}, "revision": MAIN_REV}))
    log(ns, kc, "manager", 33, 0, flux_line(33, 0, "error", "Reconciliation failed after 5m0.041s, next try in 1h0m0s", "kustomization", g, "Kustomization", "monitoring-controllers", ns,
                                            {"revision": MAIN_REV, "error": "health check failed after 5m0.041s: timeout waiting for: [Deployment/monitoring/kube-state-metrics status: 'InProgress']"}))
    for m in range(32, 0, -2):
        log(ns, kc, "manager", m, 20, flux_line(m, 20, "info", "Dependencies do not meet ready condition, retrying in 30s", "kustomization", g, "Kustomization", "monitoring-configs", ns))
    for m in (8, 5, 1):
        log(ns, kc, "manager", m, 9, flux_line(m, 9, "error", "Reconciliation failed after 38ms, next try in 10m0s", "kustomization", g, "Kustomization", "tenants", ns,
                                               {"revision": MAIN_REV, "error": "kustomization path not found: stat /tmp/kustomization-1395421538/clusters/production/tenants: no such file or directory"}))
    for m in (51, 38, 24, 4):
        log(ns, kc, "manager", m, 44, flux_line(m, 44, "info", "Source artifact not found, retrying in 30s", "kustomization", g, "Kustomization", "webapp", "apps"))
    startup(hc, "helm-controller")
    g = "helm.toolkit.fluxcd.io"
    rel_err = "Helm install failed for release apps/redis with chart redis@20.1.4: context deadline exceeded"
    for attempt, m in enumerate((72, 62, 52, 41)):
        log(ns, hc, "manager", m + 5, 0, flux_line(m + 5, 0, "info", "running 'install' action with timeout of 5m0s", "helmrelease", g, "HelmRelease", "redis", "apps"))
        log(ns, hc, "manager", m, 0, flux_line(m, 0, "error", "Reconciler error", "helmrelease", g, "HelmRelease", "redis", "apps", {"error": rel_err}))
        if attempt < 3:
            log(ns, hc, "manager", m, -5, flux_line(m, -5, "info", "running 'uninstall' action with timeout of 5m0s", "helmrelease", g, "HelmRelease", "redis", "apps"))
    log(ns, hc, "manager", 41, -1, flux_line(41, -1, "error", "Failed to install after 4 attempt(s)", "helmrelease", g, "HelmRelease", "redis", "apps",
                                                {"error": "install retries exhausted"}))
    for m in range(199, 0, -10):
        log(ns, hc, "manager", m, 2, flux_line(m, 2, "error", "Reconciler error", "helmrelease", g, "HelmRelease", "metrics-exporter", "apps",
                                                  {"error": "HelmChart 'flux-system/apps-metrics-exporter' is not ready: invalid chart reference: failed to get chart version for remote reference: no 'metrics-exporter' chart with version matching '2.x' found"}))
    for m in (30, 20):
        log(ns, hc, "manager", m, 33, flux_line(m, 33, "info", "release in-sync with desired state", "helmrelease", g, "HelmRelease", "podinfo", "apps"))
    nc = CONTROLLER_PODS["notification-controller"]
    startup(nc, "notification-controller")
    for m in (41, 33, 31):
        log(ns, nc, "manager", m, 1, json.dumps({"level": "info", "ts": at_milli(m, 1), "logger": "event-server", "msg": "dispatching event",
                                                 "eventInvolvedObject": {"kind": "HelmRelease" if m == 41 else "Kustomization", "name": "redis" if m == 41 else "monitoring-controllers"},
                                                 "provider": "flux-system/slack"}, separators=(",", ":")))
    log(ns, nc, "manager", 20, 0, json.dumps({"level": "error", "ts": at_milli(20), "msg": "Reconciler error", "controller": "receiver", "controllerGroup": "notification.toolkit.fluxcd.io",
                                              "controllerKind": "Receiver", "Receiver": {"name": "harbor-receiver", "namespace": ns}, "namespace": ns, "name": "harbor-receiver",
                                              "error": "unable to read token from secret 'flux-system/harbor-webhook-token' error: secrets \"harbor-webhook-token\" not found"}, separators=(",", ":")))
    irc = CONTROLLER_PODS["image-reflector-controller"]
    startup(irc, "image-reflector-controller")
    for m in range(30, 0, -5):
        log(ns, irc, "manager", m, 7, flux_line(m, 7, "info", "successful scan: found 61 tags", "imagerepository", "image.toolkit.fluxcd.io", "ImageRepository", "podinfo", ns))
        log(ns, irc, "manager", m, 9, flux_line(m, 9, "error", "Reconciler error", "imagerepository", "image.toolkit.fluxcd.io", "ImageRepository", "webapp-api", ns,
                                                {"error": "failed to get tags for harbor.acme.internal/webapp/api: GET https://harbor.acme.internal/v2/webapp/api/tags/list?n=1000: UNAUTHORIZED: unauthorized to access repository: webapp/api, action: pull"}))
    iac = CONTROLLER_PODS["image-automation-controller"]
    startup(iac, "image-automation-controller")
    log(ns, iac, "manager", 31, 4, flux_line(31, 4, "error", "Reconciler error", "imageupdateautomation", "image.toolkit.fluxcd.io", "ImageUpdateAutomation", "webapp", "apps",
                                                {"error": "failed to push to remote: unable to push to 'https://github.com/acme-corp/webapp.git': remote: Permission to acme-corp/webapp.git denied to fluxcdbot. (403)"}))
    log(ns, iac, "manager", 12, 0, flux_line(12, 0, "info", "no changes made in working directory; no commit", "imageupdateautomation", "image.toolkit.fluxcd.io", "ImageUpdateAutomation", "flux-system", ns))
    fo = CONTROLLER_PODS["flux-operator"]
    log(ns, fo, "manager", 27, 4, json.dumps({"level": "info", "ts": at_milli(27, 4), "msg": "Reconciliation finished in 4s", "controller": "fluxinstance",
                                              "controllerGroup": "fluxcd.controlplane.io", "controllerKind": "FluxInstance",
                                              "FluxInstance": {"name": "flux", "namespace": ns}, "namespace": ns, "name": "flux", "revision": FLUX_VERSION + "@" + sha256("flux-manifests-" + FLUX_VERSION)}, separators=(",", ":")))
    log(ns, fo, "manager", 18, 0, json.dumps({"level": "error", "ts": at_milli(18), "msg": "Reconciler error", "controller": "resourceset", "controllerGroup": "fluxcd.controlplane.io",
                                              "controllerKind": "ResourceSet", "ResourceSet": {"name": "tenants", "namespace": ns}, "namespace": ns, "name": "tenants",
                                              "error": 'failed to build resources: template: teams:4:23: executing "teams" at <inputs.team>: map has no entry for key "team"'}, separators=(",", ":")))
    # Apps.
    for i, pod in enumerate(pods["podinfo"]):
        for m in range(20, 0, -4):
            log("apps", pod, "podinfo", m, i, json.dumps({"level": "info", "ts": at_milli(m, i), "caller": "http/logging.go:36", "msg": "request started",
                                                          "proto": "HTTP/1.1", "uri": "/healthz", "method": "GET", "remote": "10.244.1.1:%d" % (41000 + m)}, separators=(",", ":")))
    # A handler panicked; net/http recovered and logged it with the goroutine's stack, one line
    # per frame: the entry a grep for "panic" must return whole.
    stack = [
        "%s http: panic serving 10.244.1.1:41234: runtime error: invalid memory address or nil pointer dereference" % (NOW - dt.timedelta(minutes=10)).strftime("%Y/%m/%d %H:%M:%S"),
        "goroutine 8123 [running]:",
        "net/http.(*conn).serve.func1()",
        "\t/usr/local/go/src/net/http/server.go:1947 +0xbe",
        "panic({0x1a2b3c0?, 0x2d4e5f0?})",
        "\t/usr/local/go/src/runtime/panic.go:785 +0x132",
        "github.com/stefanprodan/podinfo/pkg/api.(*Server).echoHandler(0xc0001a4000, {0x1f5c7a8, 0xc0004c6000}, 0xc0002b8000)",
        "\t/workspace/pkg/api/echo.go:41 +0x1d2",
        "net/http.HandlerFunc.ServeHTTP(0xc0001b2a80?, {0x1f5c7a8?, 0xc0004c6000?}, 0xc0002b8000?)",
        "\t/usr/local/go/src/net/http/server.go:2294 +0x29",
        "created by net/http.(*Server).Serve in goroutine 1",
        "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
    ]
    for text in stack:
        log("apps", pods["podinfo"][0], "podinfo", 10, 0, text)
    fp = pods["frontend"]
    for m in range(15, 0, -3):
        log("apps", fp, "frontend", m, 0, "[%s] GET /api/products 200 %dms" % (at_milli(m), 20 + m))
        log("apps", fp, "nginx", m, 0, '10.244.2.1 - - [%s] "GET / HTTP/1.1" 200 5124 "-" "kube-probe/1.33"' % (NOW - dt.timedelta(minutes=m)).strftime("%d/%b/%Y:%H:%M:%S +0000"))
    log("apps", fp, "migrate", days(4), 0, "migrations: 42 applied, 0 pending")
    # redis: the previous (crashed) container and the current one.
    for prev, m in ((True, 9), (False, 4)):
        log("apps", "redis-master-0", "redis", m, 2, "redis 05:2%d:01.01 INFO  ==> ** Starting Redis setup **" % m, previous=prev)
        log("apps", "redis-master-0", "redis", m, 1, "1:C 21 Nov 2026 05:2%d:02.104 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo" % m, previous=prev)
        log("apps", "redis-master-0", "redis", m, 0.5, "*** FATAL CONFIG FILE ERROR (Redis 7.4.1) ***", previous=prev)
        log("apps", "redis-master-0", "redis", m, 0.4, "Reading the configuration file, at line 2", previous=prev)
        log("apps", "redis-master-0", "redis", m, 0.3, ">>> 'requirepass'", previous=prev)
        log("apps", "redis-master-0", "redis", m, 0.2, "wrong number of arguments", previous=prev)
    cmp = pods["cert-manager"]
    for m in (300, 120, 30):
        log("cert-manager", cmp, "cert-manager-controller", m, 0,
            'I1121 %s       1 controller.go:162] "re-queuing item due to optimistic locking on resource" logger="cert-manager.controller" key="apps/webapp-tls"'
            % (NOW - dt.timedelta(minutes=m)).strftime("%H:%M:%S.000000"))


def write_logs():
    for (ns, pod, container, previous), lines in sorted(LOGS.items()):
        d = os.path.join(ROOT, "logs", ns, pod)
        os.makedirs(d, exist_ok=True)
        lines = sorted(lines, key=lambda l: l[0])
        name = container + (".previous.log" if previous else ".log")
        with open(os.path.join(d, name), "w") as f:
            for ts, text in lines:
                f.write("%s %s\n" % (ts, text))


def metrics():
    objs = []
    for ns, pod, containers, ready_ in PODS:
        if not ready_:
            continue  # metrics-server reports no usage for containers that are not running
        usage = []
        for c in containers:
            h = int(hexdigest("m/%s/%s" % (pod, c), 8), 16)
            usage.append({"name": c, "usage": {"cpu": "%dn" % (1_000_000 + h % 90_000_000), "memory": "%dKi" % (8000 + h % 250_000)}})
        objs.append({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                     "metadata": {"creationTimestamp": at(0), "name": pod, "namespace": ns},
                     "timestamp": at(0, 14), "window": "10.232s", "containers": usage})
    for i, node in enumerate(NODES):
        objs.append({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
                     "metadata": {"creationTimestamp": at(0), "labels": {"kubernetes.io/hostname": node}, "name": node},
                     "timestamp": at(0, 11), "window": "20.061s",
                     "usage": {"cpu": "%dn" % (210_000_000 + i * 97_000_000), "memory": "%dKi" % (2_911_044 + i * 812_300)}})
    add("metrics.yaml", *objs)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    crds()
    namespaces_and_nodes()
    sources()
    kustomizations()
    helm()
    notification()
    image_automation()
    flux_operator()
    diagnosis_chains()
    stale_flux_report()
    controllers()
    names = apps_workloads()
    batch_and_daemon_workloads()
    secrets_and_configmaps()
    platform_addons()
    events(names)
    controller_logs(names)
    add("replicasets.yaml", *REPLICASETS)
    metrics()
    comments = {
        "00-crds.yaml": "The Flux CustomResourceDefinitions (schemas abbreviated; names, versions, scope and printer columns as shipped).",
        "00-namespaces.yaml": "Namespaces and nodes.",
        "sources.yaml": "Flux sources: GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket, ExternalArtifact.",
        "kustomizations.yaml": "Flux Kustomizations, healthy and failing (health check, dependency, path not found, source not ready).",
        "helmreleases.yaml": "Flux HelmReleases, healthy and failing (install retries exhausted, chart not found).",
        "helm-storage.yaml": "Helm storage Secrets (driver: secret), data.release = base64(base64(gzip(release JSON))).",
        "notification.yaml": "Flux notification: Providers, Alerts, Receivers.",
        "image-automation.yaml": "Flux image automation: ImageRepository, ImagePolicy, ImageUpdateAutomation.",
        "flux-operator.yaml": "Flux Operator: FluxInstance, FluxReport, ResourceSets, ResourceSetInputProviders; source-watcher ArtifactGenerators.",
        "flux-controllers.yaml": "The Flux controllers and the operator: Deployments, Pods, ServiceAccounts, Services in flux-system.",
        "replicasets.yaml": "The current ReplicaSet of every Deployment: the owner of its pods, owned by the Deployment.",
        "workloads.yaml": "Application workloads: Deployments, a StatefulSet, a DaemonSet, a Job, a CronJob with its Jobs, their Pods and Services.",
        "secrets.yaml": "Secrets (some applied with kubectl, so their last-applied annotation holds the secret data).",
        "configmaps.yaml": "ConfigMaps.",
        "events.yaml": "core/v1 Events: Flux reconciliation noise and failures, kubelet and scheduler series.",
        "metrics.yaml": "metrics.k8s.io PodMetrics and NodeMetrics (metrics-server).",
    }
    for name, objs in OBJECTS.items():
        write_yaml(name, objs, comments[name])
    write_logs()


if __name__ == "__main__":
    main()
