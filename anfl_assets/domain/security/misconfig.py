"""Risky infrastructure settings in Kubernetes manifests, Helm templates, Dockerfiles, compose
files and Terraform.

`scan_misconfig(path, content, infra_kind)` -> `RiskFinding`s, each with the line of the
offending key (or of the block / instruction it belongs to when the problem is something
missing), the resource (``Deployment/api container worker``, ``aws_security_group.web``,
``stage runtime``, ``service db``) and a message saying exactly what is wrong. Messages name
keys, never their values: a literal password in an env var is reported as "env DB_PASSWORD
has a literal value", nothing more.

What is read, by `infra_kind` as classified (`classification_rules.yaml`):

* ``kubernetes``: multi-document YAML (or JSON); every document with ``kind`` is checked,
  ``kind: List`` items too. Pod specs are found in Pods, workload templates
  (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ...), CronJob job templates and
  PodTemplates; containers, initContainers and ephemeralContainers.
* ``helm``: YAML files under ``templates/`` are checked best-effort: whole-line template
  actions (``{{- if ... }}``, ``{{- toYaml ... | nindent 8 }}``) are blanked and inline
  ``{{ ... }}`` replaced by a marker, keeping line numbers; the result is checked only for
  settings written out explicitly (``privileged: true``, ``hostNetwork: true``, ...) because
  what is missing may come from values. Values files, helpers and charts are not checked.
* ``dockerfile``: instructions (line continuations, ``# escape=``, BuildKit heredocs), stages
  and the stage chain of the final image (``FROM base AS final`` inherits ``USER``).
* ``compose``: ``services`` of a compose file.
* ``terraform``: ``.tf`` (HCL2, via python-hcl2) resources, data sources, providers and the
  ``terraform { backend }`` block; lines from a scan of the source.
* ``None``: decided from the path and content: a Dockerfile by name, ``*.tf``, a compose file by
  name, YAML/JSON with top-level ``apiVersion`` and ``kind``.

Other kinds (``ci``, ``ansible``) give no findings. Files over MAX_BYTES are not read, nor
YAML over PURE_YAML_MAX_BYTES that only the slow pure-Python loader can read safely. Malformed
or unexpected input never raises: it gives the findings of what could be read (a YAML stream
broken in its third document still reports the first two) or none.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from anfl_assets.domain.enrich.config_patterns import _yaml_loader_for, is_secret_key_name, looks_like_secret_value
from anfl_assets.domain.enrich.dependencies import split_image, strip_hcl_comments, yaml_scalar
from anfl_assets.domain.security import RiskFinding

# Changes whenever this module's source does (so cached results are redone after an upgrade).
RULESET_VERSION = "misconfig-1-" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
MAX_BYTES = 4 * 1024 * 1024   # larger infrastructure files are not read (generated bundles)
PURE_YAML_MAX_BYTES = 1024 * 1024

RULES: dict[str, tuple[str, str]] = {
    # Kubernetes (and Helm templates)
    "k8s-privileged-container": ("Privileged container", "critical"),
    "k8s-allow-privilege-escalation": ("Container allows privilege escalation", "high"),
    "k8s-privilege-escalation-not-blocked": ("Container does not block privilege escalation", "low"),
    "k8s-host-namespace": ("Pod shares a host namespace (network, PID or IPC)", "high"),
    "k8s-hostpath-volume": ("Pod mounts a host path", "high"),
    "k8s-container-runtime-socket": ("Pod mounts the container runtime socket", "critical"),
    "k8s-run-as-root": ("Container runs as root (runAsUser 0)", "high"),
    "k8s-root-not-prevented": ("Container may run as root (runAsNonRoot not set)", "low"),
    "k8s-image-tag-latest": ("Container image uses the latest tag or no tag", "medium"),
    "k8s-missing-resource-limits": ("Container has no memory limit", "low"),
    "k8s-dangerous-capabilities": ("Container adds dangerous Linux capabilities", "high"),
    "k8s-secret-in-env": ("Secret-like env var with a literal value", "high"),
    "k8s-default-namespace": ("Object placed in the default namespace", "low"),
    "k8s-service-exposed": ("Service exposed outside the cluster (LoadBalancer/NodePort)", "low"),
    "k8s-cluster-admin-binding": ("Binding grants cluster-admin", "high"),
    "k8s-rbac-wildcard": ("RBAC rule allows every verb on every resource", "high"),
    # Dockerfile
    "docker-no-user": ("Final image runs as root (no USER instruction)", "medium"),
    "docker-user-root": ("Final image runs as root (USER root)", "high"),
    "docker-image-tag-latest": ("Base image uses the latest tag or no tag", "medium"),
    "docker-add-remote-url": ("ADD downloads from a URL without a checksum", "medium"),
    "docker-curl-pipe-shell": ("Downloaded script piped into a shell", "high"),
    "docker-apt-unpinned": ("apt-get install without pinned versions", "low"),
    "docker-secret-in-env": ("Secret-like ENV/ARG with a literal value", "high"),
    "docker-expose-ssh": ("Image exposes SSH (port 22)", "low"),
    # docker compose
    "compose-privileged": ("Privileged compose service", "critical"),
    "compose-host-namespace": ("Compose service shares a host namespace", "high"),
    "compose-container-runtime-socket": ("Compose service mounts the container runtime socket", "critical"),
    "compose-secret-in-env": ("Secret-like compose environment variable with a literal value", "high"),
    # Terraform
    "tf-open-ingress-admin-ports": ("Ingress from the whole internet to SSH/RDP or all ports", "critical"),
    "tf-open-ingress": ("Ingress from the whole internet", "high"),
    "tf-aws-s3-public-acl": ("S3 bucket with a public ACL", "high"),
    "tf-aws-s3-public-access-block-disabled": ("S3 public access block switched off", "high"),
    "tf-aws-s3-no-encryption": ("S3 bucket without server-side encryption configuration", "low"),
    "tf-aws-rds-unencrypted": ("RDS storage not encrypted", "high"),
    "tf-aws-rds-public": ("RDS instance publicly accessible", "high"),
    "tf-aws-ebs-unencrypted": ("EBS volume not encrypted", "medium"),
    "tf-aws-iam-wildcard-policy": ("IAM policy allows every action on every resource", "critical"),
    "tf-aws-cloudtrail-logging-disabled": ("CloudTrail logging disabled", "high"),
    "tf-provider-hardcoded-credentials": ("Credentials written into a provider or backend block", "critical"),
    "tf-aws-kms-rotation-disabled": ("KMS key rotation not enabled", "medium"),
    "tf-gcp-storage-public": ("GCS bucket readable by allUsers/allAuthenticatedUsers", "high"),
    "tf-gcp-sql-public": ("Cloud SQL instance open to 0.0.0.0/0", "high"),
    "tf-azure-storage-public": ("Azure storage allows public blob access", "high"),
}


def _finding(rule: str, line: int | None, message: str, resource: str | None,
             severity: str | None = None) -> RiskFinding:
    title, default = RULES[rule]
    return RiskFinding(rule=rule, title=title, severity=severity or default, line=line, message=message,
                       resource=resource)


# ======================================================================================
# entry point
# ======================================================================================
def scan_misconfig(path: str, content: bytes, infra_kind: str | None) -> list[RiskFinding]:
    """Misconfigurations in one infrastructure file; [] for anything else. Never raises."""
    try:
        if not isinstance(content, (bytes, bytearray)) or not content or len(content) > MAX_BYTES:
            return []
        content = bytes(content)
        if b"\x00" in content[:8192] and not content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return []   # binary
        scanner = _scanner_for(str(path or ""), content, infra_kind)
        if scanner is None:
            return []
        out: list[RiskFinding] = []
        scanner(str(path or ""), content, out)
    except Exception:  # noqa: BLE001 - a detector must never take the pipeline down
        return []
    return _dedupe(out)


def _dedupe(findings: list[RiskFinding]) -> list[RiskFinding]:
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.rule, f.line, f.resource, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    out.sort(key=lambda f: (f.line or 0, f.rule, f.resource or ""))
    return out


_DOCKERFILE_NAME = re.compile(r"^(?:docker|container)file(?:[.-][\w.-]+)?$|^[\w.-]+\.(?:docker|container)file$")
_NOT_DOCKERFILE = (".md", ".txt", ".rst", ".sh", ".py", ".json", ".yaml", ".yml", ".orig", ".dockerignore")
_COMPOSE_NAME = re.compile(r"^(?:docker-)?compose(?:[.-][\w.-]+)?\.ya?ml$")
_K8S_HEAD_RE = re.compile(rb"(?m)^[\"']?apiVersion[\"']?[ \t]*:")
_K8S_KIND_RE = re.compile(rb"(?m)^[\"']?kind[\"']?[ \t]*:")
_TEMPLATE_RE = re.compile(rb"(?<!\$)\{\{")


def _parts(path: str) -> tuple[list[str], str]:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[:-1], (parts[-1].lower() if parts else "")


def _scanner_for(path: str, content: bytes, infra_kind: str | None) -> Callable | None:
    dirs, name = _parts(path)
    is_yaml = name.endswith((".yaml", ".yml"))
    if infra_kind == "kubernetes":
        if _TEMPLATE_RE.search(content):
            return _scan_helm_template
        return _scan_k8s
    if infra_kind == "helm":
        return _scan_helm_template if is_yaml and "templates" in dirs else None
    if infra_kind == "dockerfile":
        return _scan_dockerfile
    if infra_kind == "compose":
        return _scan_compose
    if infra_kind == "terraform":
        return _scan_terraform
    if infra_kind is not None:
        return None
    # not classified: by name and content
    if _DOCKERFILE_NAME.match(name) and not name.endswith(_NOT_DOCKERFILE):
        return _scan_dockerfile
    if name.endswith(".tf"):
        return _scan_terraform
    if _COMPOSE_NAME.match(name):
        return _scan_compose
    if is_yaml or name.endswith(".json"):
        if _K8S_HEAD_RE.search(content) and _K8S_KIND_RE.search(content) or \
                (name.endswith(".json") and b'"apiVersion"' in content and b'"kind"' in content):
            if _TEMPLATE_RE.search(content):
                return _scan_helm_template if "templates" in dirs else None
            return _scan_k8s
    return None


def _decode(content: bytes) -> str:
    if content.startswith(codecs.BOM_UTF8):
        return content[3:].decode("utf-8", "replace")
    if content[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return content.decode("utf-16", "replace")
    return content.decode("utf-8", "replace")


# ======================================================================================
# shared: secret-like names and literal values
# ======================================================================================
_NOT_SECRET_SUFFIX_RE = re.compile(
    r"(?:[_.\-]|(?<=[a-z])(?=[A-Z]))(?i:file|path|dir|url|uri|endpoint|host|hostname|port|ttl|timeout|expiry"
    r"|expires|expiration|length|size|header|name|type|enabled|enable|disabled|ref|algorithm|algo|rotation|prefix"
    r"|field|mode|version|location|region|id|count|min|max|policy|format|provider|env|var|audience|issuer|scope"
    r"|scopes|realm|user|username|login|email|account|method|strategy|store|backend)$")
_KEY_SUFFIX_RE = re.compile(r"(?i)(?:^|[_.\-]|[a-z](?=[A-Z]))key$")
_PLACEHOLDER_RE = re.compile(
    r"(?i)^(?:|changeme|change[-_ ]?me|change[-_ ]?it|replace[-_ ]?me|todo|tbd|fixme|none|null|nil|undefined|empty"
    r"|secret|password|passwd|token|example|sample|dummy|placeholder|redacted|masked|test|testing|default"
    r"|x+|\*+|\.+|-+|<[^>]*>|\[[^\]]*\]|your[-_ a-z0-9]*|my[-_]?(?:secret|password|token)|true|false|yes|no)$")
_REFERENCE_RE = re.compile(r"\$\(|\$\{|^\$[A-Za-z_]|\{\{|ANFL_TPL|^%\(|^@Microsoft\.KeyVault|^arn:aws:secretsmanager")
_URL_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.I)
_URL_CREDS_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@", re.I)
_HEX_KEY_RE = re.compile(r"[0-9a-fA-F]{32,}")


def _secret_name(name: str) -> bool:
    """Does an env/ENV/ARG name look like it holds a secret (PASSWORD, SECRET, TOKEN, *_KEY, ...)?"""
    if not name or "public" in name.lower() or _NOT_SECRET_SUFFIX_RE.search(name):
        return False
    return is_secret_key_name(name) or bool(_KEY_SUFFIX_RE.search(name))


def _literal_secret(name: str, value: Any) -> bool:
    """A secret-like name with a literal (not referenced, not placeholder) value."""
    if not isinstance(value, str) or not _secret_name(name):
        return False
    v = value.strip().strip("'\"")
    if _PLACEHOLDER_RE.match(v) or _REFERENCE_RE.search(v) or v.isdigit():
        return False
    if _URL_RE.match(v):
        return bool(_URL_CREDS_RE.match(v))
    if v.startswith(("/", "./", "~/")) and " " not in v and len(v) < 200:
        return False   # a path to a mounted secret
    if is_secret_key_name(name):
        return len(v) >= 3
    # only a `*_KEY` name: the value must look like key material, not a cache key or a label
    return looks_like_secret_value(v) or _HEX_KEY_RE.fullmatch(v) is not None


# ======================================================================================
# YAML node helpers
# ======================================================================================
_BOOL_TRUE = {"true", "yes", "on", "y"}
_BOOL_FALSE = {"false", "no", "off", "n"}


def _get(node, key: str):
    """(key node, value node) of a mapping entry, or (None, None)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def _val(node, key: str):
    return _get(node, key)[1]


def _dig(node, *keys: str):
    for key in keys:
        node = _val(node, key)
        if node is None:
            return None
    return node


def _bool(node) -> bool | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
        low = node.value.lower()
        return True if low in _BOOL_TRUE else False if low in _BOOL_FALSE else None
    return None


def _int(node) -> int | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            try:
                return int(node.value.replace("_", ""))
            except ValueError:
                return None
    return None


def _seq(node) -> list:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _line(node) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _yaml_roots(text: str, raw: bytes) -> Iterator:
    """Documents of a YAML stream, stopping quietly at the first parse error. Streams that only
    the pure-Python loader may read (deeply nested or bracket-heavy, see `_yaml_loader_for`)
    are read up to PURE_YAML_MAX_BYTES: that loader needs seconds per megabyte."""
    loader = _yaml_loader_for(raw)
    if loader is yaml.SafeLoader and len(raw) > PURE_YAML_MAX_BYTES:
        return
    try:
        for root in yaml.compose_all(text, Loader=loader):
            if root is not None:
                yield root
    except (yaml.YAMLError, RecursionError, ValueError):
        return


# ======================================================================================
# Kubernetes
# ======================================================================================
_TPL = "ANFL_TPL"
_CONTAINER_KEYS = (("containers", "container"), ("initContainers", "init container"),
                   ("ephemeralContainers", "ephemeral container"))
_RUNTIME_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd/containerd.sock",
                    "/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/crio/crio.sock",
                    "/var/run/cri-dockerd.sock", "/var/run", "/run")
_DANGEROUS_CAPS = {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "SYS_RAWIO",
                   "BPF", "PERFMON", "SYS_BOOT", "MAC_ADMIN", "MAC_OVERRIDE", "SYS_TIME", "NET_RAW"}
_WORKLOAD_TEMPLATE = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "Node", "PersistentVolume", "StorageClass",
                   "CustomResourceDefinition", "PriorityClass", "MutatingWebhookConfiguration",
                   "ValidatingWebhookConfiguration", "APIService", "IngressClass", "RuntimeClass"}


def _scan_k8s(path: str, content: bytes, out: list, templated: bool = False) -> None:
    text = _decode(content)
    for root in _yaml_roots(text, content):
        _k8s_object(root, out, templated, 0)


def _scan_helm_template(path: str, content: bytes, out: list) -> None:
    text = _detemplate(_decode(content))
    _scan_k8s(path, text.encode("utf-8"), out, templated=True)


_TPL_LINE_RE = re.compile(r"(?m)^[ \t]*(?:-[ \t]*)?\{\{.*?\}\}[ \t]*(?:\{\{.*?\}\}[ \t]*)*$")
_TPL_INLINE_RE = re.compile(r"\{\{.*?\}\}")
_TPL_MULTILINE_RE = re.compile(r"\{\{(?:(?!\}\}).)*\n(?:.|\n)*?\}\}")


def _detemplate(text: str) -> str:
    """Go-template actions out of a Helm template, line numbers kept: multi-line actions and
    whole-line actions become blank lines, inline ones the marker ANFL_TPL."""
    text = _TPL_MULTILINE_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = _TPL_LINE_RE.sub("", text)
    return _TPL_INLINE_RE.sub(_TPL, text)


def _pod_spec(root, kind: str):
    spec = _val(root, "spec")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return _dig(spec, "jobTemplate", "spec", "template", "spec")
    if kind == "PodTemplate":
        return _dig(root, "template", "spec")
    found = _dig(spec, "template", "spec")
    if found is not None or kind in _WORKLOAD_TEMPLATE:
        return found
    # custom workloads (Argo Rollouts, Knative, ...): a template with containers
    if isinstance(_val(found, "containers"), yaml.SequenceNode):
        return found
    return None


def _k8s_object(root, out: list, templated: bool, depth: int) -> None:
    if not isinstance(root, yaml.MappingNode) or depth > 3:
        return
    kind = yaml_scalar(_val(root, "kind")) or ""
    if kind == "List" or (kind.endswith("List") and isinstance(_val(root, "items"), yaml.SequenceNode)):
        for item in _seq(_val(root, "items")):
            _k8s_object(item, out, templated, depth + 1)
        return
    if not kind:
        return
    meta = _val(root, "metadata")
    name = yaml_scalar(_val(meta, "name")) or "<unnamed>"
    if _TPL in name:
        name = "<templated>"
    res = f"{kind}/{name}"
    ns_node = _val(meta, "namespace")
    if yaml_scalar(ns_node) == "default" and kind not in _CLUSTER_SCOPED:
        out.append(_finding("k8s-default-namespace", _line(ns_node),
                            f"{res} is placed in the `default` namespace; give workloads their own namespace",
                            res))
    if kind == "Service":
        type_node = _dig(root, "spec", "type")
        stype = yaml_scalar(type_node)
        if stype in ("LoadBalancer", "NodePort"):
            out.append(_finding("k8s-service-exposed", _line(type_node),
                                f"Service {name} has type {stype}, reachable from outside the cluster", res))
        return
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        role_node = _dig(root, "roleRef", "name")
        if yaml_scalar(role_node) == "cluster-admin":
            out.append(_finding("k8s-cluster-admin-binding", _line(role_node),
                                f"{kind} {name} grants the cluster-admin role", res))
        return
    if kind in ("ClusterRole", "Role"):
        wild = [rule for rule in _seq(_val(root, "rules"))
                if "*" in {yaml_scalar(v) for v in _seq(_val(rule, "verbs"))}
                and "*" in {yaml_scalar(v) for v in _seq(_val(rule, "resources"))}]
        if wild:
            out.append(_finding("k8s-rbac-wildcard", _line(wild[0]),
                                f"{kind} {name} has {len(wild)} rule(s) allowing verbs [*] on resources [*]", res))
        return
    pod = _pod_spec(root, kind)
    if isinstance(pod, yaml.MappingNode):
        _pod_checks(pod, res, out, templated)


def _pod_checks(pod, res: str, out: list, templated: bool) -> None:
    shared = [(key, k) for key in ("hostNetwork", "hostPID", "hostIPC") for k, v in [_get(pod, key)] if _bool(v)]
    if shared:
        out.append(_finding("k8s-host-namespace", _line(shared[0][1]),
                            f"{res} sets {', '.join(key + ': true' for key, _ in shared)}", res))
    for vol in _seq(_val(pod, "volumes")):
        k, hp = _get(vol, "hostPath")
        if hp is None:
            continue
        hpath = yaml_scalar(_val(hp, "path")) or "?"
        vname = yaml_scalar(_val(vol, "name")) or "?"
        vres = f"{res} volume {vname}"
        if hpath.rstrip("/") in _RUNTIME_SOCKETS or hpath.endswith((".sock", "/docker.sock")):
            out.append(_finding("k8s-container-runtime-socket", _line(k),
                                f"{res} volume {vname} mounts the host's {hpath}: control of the node", vres))
        else:
            out.append(_finding("k8s-hostpath-volume", _line(k),
                                f"{res} volume {vname} mounts the host path {hpath}", vres))
    pod_sc = _val(pod, "securityContext")
    pod_user_k, pod_user = _get(pod_sc, "runAsUser")
    pod_nonroot_k, pod_nonroot = _get(pod_sc, "runAsNonRoot")
    for key, label in _CONTAINER_KEYS:
        for c in _seq(_val(pod, key)):
            if not isinstance(c, yaml.MappingNode):
                continue
            cname = yaml_scalar(_val(c, "name")) or "?"
            cres = f"{res} {label} {cname}"
            _container_checks(c, cres, label, out, templated, (pod_user_k, pod_user), (pod_nonroot_k, pod_nonroot))


def _container_checks(c, cres: str, label: str, out: list, templated: bool, pod_user, pod_nonroot) -> None:
    start = _line(c)
    sc_k, sc = _get(c, "securityContext")
    priv_k, priv = _get(sc, "privileged")
    privileged = bool(_bool(priv))
    if privileged:
        out.append(_finding("k8s-privileged-container", _line(priv_k),
                            f"{cres} runs privileged: full access to the host", cres))
    ape_k, ape = _get(sc, "allowPrivilegeEscalation")
    if _bool(ape):
        out.append(_finding("k8s-allow-privilege-escalation", _line(ape_k),
                            f"{cres} sets allowPrivilegeEscalation: true", cres))
    elif ape_k is None and not privileged and not templated:
        out.append(_finding("k8s-privilege-escalation-not-blocked", _line(sc_k) or start,
                            f"{cres} does not set securityContext.allowPrivilegeEscalation: false", cres))
    add_k, add = _get(_val(sc, "capabilities"), "add")
    caps = [(yaml_scalar(x) or "").upper().removeprefix("CAP_") for x in _seq(add)]
    bad = [cap for cap in caps if cap in _DANGEROUS_CAPS]
    if bad:
        out.append(_finding("k8s-dangerous-capabilities", _line(add_k),
                            f"{cres} adds capabilities {', '.join(bad)}", cres))
    # root: the container's settings override the pod's
    user_k, user = _get(sc, "runAsUser")
    if user_k is None:
        user_k, user = pod_user
    nonroot_k, nonroot = _get(sc, "runAsNonRoot")
    if nonroot_k is None:
        nonroot_k, nonroot = pod_nonroot
    uid = _int(user)
    if uid == 0:
        out.append(_finding("k8s-run-as-root", _line(user_k), f"{cres} runs as root (runAsUser: 0)", cres))
    elif not (_bool(nonroot) or (uid is not None and uid > 0)):
        if _bool(nonroot) is False:
            out.append(_finding("k8s-root-not-prevented", _line(nonroot_k),
                                f"{cres} sets runAsNonRoot: false; the image's user decides (often root)", cres))
        elif not templated and not privileged:
            out.append(_finding("k8s-root-not-prevented", _line(sc_k) or start,
                                f"{cres} sets neither runAsNonRoot: true nor a non-zero runAsUser", cres))
    img_node = _val(c, "image")
    image = yaml_scalar(img_node)
    if image and _TPL not in image and "$" not in image and "{" not in image:
        name, spec = split_image(image)
        if spec is None or spec == "latest":
            what = "the latest tag" if spec == "latest" else "no tag (implicitly latest)"
            out.append(_finding("k8s-image-tag-latest", _line(img_node),
                                f"{cres} uses image {name} with {what}; pin a version or digest", cres))
    if not templated and label != "ephemeral container":
        res_k, resources = _get(c, "resources")
        limits = _val(resources, "limits")
        if _val(limits, "memory") is None:
            what = "no resources.limits" if limits is None else "no memory limit in resources.limits"
            out.append(_finding("k8s-missing-resource-limits", _line(res_k) or start,
                                f"{cres} has {what}: one pod can exhaust the node", cres))
    for env in _seq(_val(c, "env")):
        ename = yaml_scalar(_val(env, "name"))
        v_node = _val(env, "value")
        if ename and _literal_secret(ename, yaml_scalar(v_node)):
            out.append(_finding("k8s-secret-in-env", _line(v_node),
                                f"{cres} env {ename} has a literal value; use valueFrom.secretKeyRef",
                                f"{cres} env {ename}"))


# ======================================================================================
# Dockerfile
# ======================================================================================
_ESCAPE_DIRECTIVE_RE = re.compile(r"(?:[ \t]*#[ \t]*\w+[ \t]*=.*\n)*?[ \t]*#[ \t]*escape[ \t]*=[ \t]*([`\\])", re.I)
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_NONROOT_BASE_RE = re.compile(r"(?i)nonroot|rootless|^cgr\.dev/chainguard/|distroless/[^:]*:debug-nonroot")
_ROOT_USERS = {"root", "0"}
_CURL_PIPE_RE = re.compile(
    r"(?i)\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+\S+\s+)*"
    r"(?:/usr)?(?:/bin/)?(?:ba|z|da|k|a)?sh\b"
    r"|(?:ba|z|da)?sh\s+-c\s+[\"']?\$\((?:curl|wget)\b"
    r"|\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+)?(?:python3?|perl|ruby|node)\b")
_APT_INSTALL_RE = re.compile(r"\bapt(?:-get)?\s+(?:[^&;|\n]*?\s)?install\b([^&;|\n]*)")


_URL_IN_TEXT_RE = re.compile(r"https?://[^\s|;&'\"()<>]+", re.I)


def _url_id(url: str) -> str:
    """scheme://host/path of a URL: no user info, query or fragment (they may hold tokens)."""
    m = re.match(r"(?i)([a-z][a-z0-9+.\-]*://)(?:[^/@\s]*@)?([^/?#\s]*)([^?#\s]*)", url.strip("'\""))
    return "".join(m.groups()) if m else "a URL"


def _docker_instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, OP, arguments) of each instruction; continuation lines joined, comment lines
    inside a continuation dropped, BuildKit heredoc bodies appended to their instruction."""
    m = _ESCAPE_DIRECTIVE_RE.match(text)
    escape = m.group(1) if m else "\\"
    lines = text.splitlines()
    n = len(lines)
    out: list[tuple[int, str, str]] = []
    i = 0
    while i < n:
        s = lines[i].strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        start = i + 1
        buf = ""
        while i < n:
            r = lines[i].rstrip()
            st = r.strip()
            i += 1
            if buf and (not st or st.startswith("#")):
                continue
            if r.endswith(escape):
                buf += r[:-1] + " "
                continue
            buf += r
            break
        parts = buf.strip().split(None, 1)
        op = parts[0].upper()
        rest = parts[1] if len(parts) > 1 else ""
        if op in ("RUN", "COPY", "ADD"):
            for hd in _HEREDOC_RE.finditer(rest):
                dash, term = hd.group(1), hd.group(3)
                body = []
                while i < n:
                    ln = lines[i]
                    i += 1
                    if (ln.lstrip("\t") if dash else ln).rstrip("\r") == term:
                        break
                    body.append(ln)
                rest += "\n" + "\n".join(body)
        out.append((start, op, rest))
    return out


def _subst(value: str, env: dict[str, str]) -> str:
    def rep(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        if name in env and env[name] != "":
            return env[name]
        if m.group(2) in (":-", "-"):
            return m.group(3) or ""
        return m.group(0)
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", rep, value)


def _kv_pairs(rest: str, legacy_ok: bool) -> list[tuple[str, str]]:
    """`ENV a=1 b="x y"` / `ENV a 1` (legacy) / `ARG a=1` -> [(name, value)]."""
    rest = rest.strip()
    if not rest:
        return []
    first = rest.split(None, 1)
    if legacy_ok and "=" not in first[0]:
        return [(first[0], first[1] if len(first) > 1 else "")]
    try:
        words = shlex.split(rest, posix=True)
    except ValueError:
        words = rest.split()
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if eq:
            out.append((k, v))
    return out


def _scan_dockerfile(path: str, content: bytes, out: list) -> None:
    text = _decode(content)
    instructions = _docker_instructions(text)
    if not any(op == "FROM" for _, op, _ in instructions):
        return   # .dockerignore and the like, classified with Dockerfiles
    global_args: dict[str, str] = {}
    stages: list[dict] = []
    for line, op, rest in instructions:
        if op == "ARG":
            for k, v in _kv_pairs(rest, legacy_ok=False):
                if not stages:
                    global_args[k] = v.strip("'\"")
                where = f"stage {stages[-1]['name']} ARG {k}" if stages else f"global ARG {k}"
                if _literal_secret(k, v):
                    out.append(_finding("docker-secret-in-env", line,
                                        f"ARG {k} has a literal default value; build args are kept in the "
                                        "image history — use a build secret (RUN --mount=type=secret)", where))
            continue
        if op == "FROM":
            words = rest.split()
            while words and words[0].startswith("--"):
                flag = words.pop(0)
                if flag == "--platform" and words:
                    words.pop(0)
            if not words:
                continue
            ref = _subst(words[0], global_args)
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            known = {s["alias"]: idx for idx, s in enumerate(stages) if s["alias"]}
            parent = known.get(ref.lower())
            stage = {"line": line, "ref": ref, "alias": alias.lower() if alias else None, "parent": parent,
                     "user": None, "name": alias or str(len(stages))}
            stages.append(stage)
            if parent is None and ref.lower() != "scratch" and "$" not in ref:
                name, spec = split_image(ref)
                if spec is None or spec == "latest":
                    what = "the latest tag" if spec == "latest" else "no tag (implicitly latest)"
                    out.append(_finding("docker-image-tag-latest", line,
                                        f"FROM {name} uses {what}; pin a version or digest",
                                        f"stage {stage['name']}"))
            continue
        if not stages:
            continue
        stage = stages[-1]
        where = f"stage {stage['name']}"
        if op == "USER":
            user = rest.strip().split(":", 1)[0].strip().strip("'\"")
            stage["user"] = (user, line)
        elif op == "ENV":
            for k, v in _kv_pairs(rest, legacy_ok=True):
                if _literal_secret(k, v):
                    out.append(_finding("docker-secret-in-env", line,
                                        f"ENV {k} has a literal value baked into the image; inject it at run time",
                                        f"{where} ENV {k}"))
        elif op == "ADD":
            words = rest.split()
            flags = [w for w in words if w.startswith("--")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            remote = [s for s in srcs if s.lower().startswith(("http://", "https://"))]
            if remote and not any(f.startswith("--checksum") for f in flags):
                url = _url_id(remote[0])
                out.append(_finding("docker-add-remote-url", line,
                                    f"ADD fetches {url} without --checksum; download and verify it in a RUN "
                                    "step (or add --checksum)", f"{where} ADD {url}"))
        elif op == "RUN":
            pipe = _CURL_PIPE_RE.search(rest)
            if pipe:
                url = _URL_IN_TEXT_RE.search(rest)
                what = _url_id(url.group(0)) if url else "a downloaded script"
                out.append(_finding("docker-curl-pipe-shell", line,
                                    f"RUN pipes {what} into an interpreter; download, verify a checksum, then run it",
                                    f"{where} RUN {what}"))
            unpinned = []
            for m in _APT_INSTALL_RE.finditer(rest):
                for word in m.group(1).split():
                    if word.startswith("-") or "$" in word or word in ("\\",):
                        continue
                    if "=" not in word and not word.endswith(".deb"):
                        unpinned.append(word)
            if unpinned:
                shown = ", ".join(unpinned[:5]) + (f" (+{len(unpinned) - 5} more)" if len(unpinned) > 5 else "")
                out.append(_finding("docker-apt-unpinned", line,
                                    f"apt-get install without versions: {shown}; builds are not reproducible",
                                    f"{where} apt-get install {' '.join(sorted(set(unpinned))[:3])}"))
        elif op == "EXPOSE":
            ports = {w.split("/", 1)[0] for w in rest.split()}
            if "22" in ports:
                out.append(_finding("docker-expose-ssh", line,
                                    "EXPOSE 22: an SSH server in a container; use `docker exec`/`kubectl exec`",
                                    where))
    if not stages:
        return
    final = stages[-1]
    stage, user, seen = final, None, set()
    base = final["ref"]
    while stage is not None and id(stage) not in seen:      # the final image inherits USER from its stage chain
        seen.add(id(stage))
        base = stage["ref"]
        if stage["user"] is not None:
            user = stage["user"]
            break
        stage = stages[stage["parent"]] if stage["parent"] is not None else None
    if user is None:
        if not _NONROOT_BASE_RE.search(base):
            out.append(_finding("docker-no-user", final["line"],
                                f"the final stage ({final['name']}) sets no USER: the container runs as root "
                                "unless the base image changes it", f"stage {final['name']}"))
    elif user[0].lower() in _ROOT_USERS:
        out.append(_finding("docker-user-root", user[1], f"the final stage ({final['name']}) runs as USER {user[0]}",
                            f"stage {final['name']}"))


# ======================================================================================
# docker compose
# ======================================================================================
def _scan_compose(path: str, content: bytes, out: list) -> None:
    text = _decode(content)
    for root in _yaml_roots(text, content):
        services = _val(root, "services")
        if not isinstance(services, yaml.MappingNode):
            continue
        for k, svc in services.value:
            if not isinstance(k, yaml.ScalarNode) or not isinstance(svc, yaml.MappingNode):
                continue
            res = f"service {k.value}"
            pk, pv = _get(svc, "privileged")
            if _bool(pv):
                out.append(_finding("compose-privileged", _line(pk), f"{res} runs privileged", res))
            shared = [(key, hk) for key in ("network_mode", "pid", "ipc", "userns_mode", "uts")
                      for hk, hv in [_get(svc, key)] if yaml_scalar(hv) == "host"]
            if shared:
                out.append(_finding("compose-host-namespace", _line(shared[0][1]),
                                    f"{res} sets {', '.join(key + ': host' for key, _ in shared)}", res))
            for vol in _seq(_val(svc, "volumes")):
                src = yaml_scalar(vol)
                if src is not None:
                    src = src.split(":", 1)[0]
                else:
                    src = yaml_scalar(_val(vol, "source")) or ""
                if src.endswith((".sock", "/docker.sock")) or src.rstrip("/") in ("/var/run", "/run"):
                    out.append(_finding("compose-container-runtime-socket", _line(vol),
                                        f"{res} mounts the host's {src}: control of the host", f"{res} volume {src}"))
            env = _val(svc, "environment")
            if isinstance(env, yaml.MappingNode):
                for ek, ev in env.value:
                    if isinstance(ek, yaml.ScalarNode) and _literal_secret(ek.value, yaml_scalar(ev)):
                        out.append(_finding("compose-secret-in-env", _line(ev),
                                            f"{res} environment {ek.value} has a literal value; use an env_file "
                                            "kept out of git or compose secrets", f"{res} env {ek.value}"))
            else:
                for item in _seq(env):
                    s = yaml_scalar(item)
                    if s and "=" in s:
                        ename, _, evalue = s.partition("=")
                        if _literal_secret(ename.strip(), evalue):
                            out.append(_finding("compose-secret-in-env", _line(item),
                                                f"{res} environment {ename.strip()} has a literal value; use an "
                                                "env_file kept out of git or compose secrets",
                                                f"{res} env {ename.strip()}"))


# ======================================================================================
# Terraform
# ======================================================================================
class _Src:
    """Comment-stripped source with offset -> line."""

    def __init__(self, text: str):
        self.text = strip_hcl_comments(text)
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.starts[mid] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def close(self, open_at: int) -> int:
        depth = 0
        for i in range(open_at, len(self.text)):
            ch = self.text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return i + 1
        return len(self.text)


class _Span:
    """A block of the source: its header line, its attributes' lines, its nested blocks."""

    def __init__(self, src: _Src, start: int, open_at: int, end: int):
        self.src, self.start, self.open_at, self.end = src, start, open_at, end

    @property
    def line(self) -> int:
        return self.src.line_of(self.start)

    def _depth1(self, rx: re.Pattern) -> Iterator[re.Match]:
        text = self.src.text
        depth, pos = 0, self.open_at
        for m in rx.finditer(text, self.open_at + 1, self.end):
            seg = text[pos:m.start()]
            depth += seg.count("{") + seg.count("[") + seg.count("(") - seg.count("}") - seg.count("]") - seg.count(")")
            pos = m.start()
            if depth == 1:
                yield m

    def attr_line(self, key: str) -> int | None:
        rx = re.compile(rf"(?m)^[ \t]*\"?{re.escape(key)}\"?[ \t]*=(?!=)")
        for m in self._depth1(rx):
            return self.src.line_of(m.start() + len(m.group(0)) - len(m.group(0).lstrip()))
        return None

    def nested(self, block: str, index: int) -> _Span | None:
        rx = re.compile(rf"(?m)^[ \t]*{re.escape(block)}(?:[ \t]+\"[^\"\n]*\")*[ \t]*\{{")
        for n, m in enumerate(self._depth1(rx)):
            if n == index:
                open_at = m.end() - 1
                return _Span(self.src, m.start() + len(m.group(0)) - len(m.group(0).lstrip()), open_at,
                             self.src.close(open_at))
        return None

    def text(self) -> str:
        return self.src.text[self.start:self.end]


_TF_HEAD_RE = re.compile(r'(?m)^[ \t]*(resource|data|provider|terraform)'
                         r'(?:[ \t]+"([^"\n]*)")?(?:[ \t]+"([^"\n]*)")?[ \t]*\{')


def _tf_spans(src: _Src) -> dict[tuple, list[_Span]]:
    spans: dict[tuple, list[_Span]] = {}
    pos = 0
    text = src.text
    while True:
        m = _TF_HEAD_RE.search(text, pos)
        if m is None:
            break
        open_at = m.end() - 1
        end = src.close(open_at)
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        key = tuple(x for x in m.groups() if x is not None)
        spans.setdefault(key, []).append(_Span(src, start, open_at, end))
        pos = end if end > open_at else m.end()
    return spans


def _blocks(body: Any, key: str) -> list[dict]:
    """Nested blocks (or an attribute holding objects) under `key`, as dicts."""
    if not isinstance(body, dict):
        return []
    value = body.get(key)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _literal(value: Any) -> bool:
    return isinstance(value, str) and "${" not in value


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


_WORLD = {"0.0.0.0/0", "::/0", "*", "internet", "any", "0.0.0.0"}
_ADMIN_PORTS = (22, 3389)


class _Ctx:
    def __init__(self, src: _Src, spans: dict, data: dict, out: list):
        self.src, self.spans, self.data, self.out = src, spans, data, out
        self.sse_buckets: set[str] = set()   # bucket references with a separate SSE resource

    def span(self, *key: str) -> _Span | None:
        found = self.spans.get(key)
        return found[0] if found else None


def _scan_terraform(path: str, content: bytes, out: list) -> None:
    text = _decode(content)
    if not re.search(r"(?m)^[ \t]*(?:resource|data|provider|terraform)\b", text):
        return
    try:
        import hcl2  # python-hcl2; lazy (slow first import)
        from hcl2.utils import SerializationOptions

        data = hcl2.loads(text, serialization_options=SerializationOptions(
            with_comments=False, explicit_blocks=True, strip_string_quotes=True, preserve_heredocs=False))
    except Exception:  # noqa: BLE001 - lark raises many types; a file we cannot parse gives nothing
        return
    if not isinstance(data, dict):
        return
    src = _Src(text)
    ctx = _Ctx(src, _tf_spans(src), data, out)
    resources: list[tuple[str, str, dict, _Span | None]] = []
    for block in _as_list(data.get("resource")):
        for rtype, named in (block.items() if isinstance(block, dict) else []):
            for rname, body in (named.items() if isinstance(named, dict) else []):
                if isinstance(body, dict) and not rname.startswith("__"):
                    resources.append((rtype, rname, body, ctx.span("resource", rtype, rname)))
    for rtype, rname, body, _ in resources:
        if rtype == "aws_s3_bucket_server_side_encryption_configuration":
            bucket = body.get("bucket")
            if isinstance(bucket, str):
                ctx.sse_buckets.add(bucket)
    for rtype, rname, body, span in resources:
        check = _TF_RESOURCE_CHECKS.get(rtype)
        if check is not None:
            check(ctx, rtype, rname, body, span)
    for block in _as_list(data.get("data")):
        for dtype, named in (block.items() if isinstance(block, dict) else []):
            if dtype != "aws_iam_policy_document":
                continue
            for dname, body in (named.items() if isinstance(named, dict) else []):
                span = ctx.span("data", dtype, dname)
                if span is not None:
                    _iam_wildcards(ctx, f"data.{dtype}.{dname}", span.text(), span.start)
    for block in _as_list(data.get("provider")):
        for pname, body in (block.items() if isinstance(block, dict) else []):
            for n, pbody in enumerate(_as_list(body)):
                spans = ctx.spans.get(("provider", pname)) or []
                span = spans[n] if n < len(spans) else (spans[0] if spans else None)
                _hardcoded_credentials(ctx, f"provider.{pname}", pbody, span)
    for tblock in _blocks(data, "terraform"):
        for backend in _blocks(tblock, "backend"):
            for bname, bbody in backend.items():
                if isinstance(bbody, dict):
                    tspan = ctx.span("terraform")
                    _hardcoded_credentials(ctx, f"terraform.backend.{bname}", bbody,
                                           tspan.nested("backend", 0) if tspan else None)


def _res(rtype: str, rname: str) -> str:
    return f"{rtype}.{rname}"


def _aline(span: _Span | None, key: str) -> int | None:
    if span is None:
        return None
    return span.attr_line(key) or span.line


_CRED_KEYS = {"access_key", "secret_key", "token", "session_token", "client_secret", "client_certificate_password",
              "password", "api_key", "api_token", "credentials", "access_token", "private_key", "sas_token",
              "account_key", "master_key", "auth_token", "client_key"}


def _hardcoded_credentials(ctx: _Ctx, res: str, body: Any, span: _Span | None) -> None:
    if not isinstance(body, dict):
        return
    alias = body.get("alias")
    if _literal(alias) and alias.strip():
        res = f"{res}.{alias.strip()}"
    keys: list[str] = []
    for key, value in body.items():
        if key.startswith("__") or not _literal(value) or not value.strip():
            continue
        if key not in _CRED_KEYS and not (is_secret_key_name(key) and not _NOT_SECRET_SUFFIX_RE.search(key)):
            continue
        v = value.strip()
        if key == "credentials" and not v.startswith("{"):
            continue   # a path to a key file, not the key itself
        if _PLACEHOLDER_RE.match(v):
            continue
        keys.append(key)
    if keys:
        ctx.out.append(_finding("tf-provider-hardcoded-credentials", _aline(span, keys[0]),
                                f"{res} has literal {', '.join(keys)}; use environment variables, a profile "
                                "or a vault", res))


def _ports_text(lo: int | None, hi: int | None, all_ports: bool) -> str:
    if all_ports:
        return "all ports"
    if lo is None or hi is None:
        return "ports set from variables"
    return f"port {lo}" if lo == hi else f"ports {lo}-{hi}"


def _open_ingress(ctx: _Ctx, res: str, line: int | None, sources: list[str], lo: int | None, hi: int | None,
                  all_ports: bool, what: str) -> None:
    admin = all_ports or (lo is not None and hi is not None and
                          any(lo <= p <= hi for p in _ADMIN_PORTS)) or (lo == 0 and hi in (0, 65535))
    ports = _ports_text(lo, hi, all_ports or (lo == 0 and hi in (0, 65535)))
    src = ", ".join(sorted(set(sources)))
    rule = "tf-open-ingress-admin-ports" if admin else "tf-open-ingress"
    ctx.out.append(_finding(rule, line, f"{res} {what} allows {ports} from {src}", f"{res} {what} {ports}"))


def _world(values: Any) -> list[str]:
    return [v for v in _as_list(values) if isinstance(v, str) and v.strip().lower() in _WORLD]


def _check_sg(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    for n, rule in enumerate(_blocks(body, "ingress")):
        world = _world(rule.get("cidr_blocks")) + _world(rule.get("ipv6_cidr_blocks"))
        if not world:
            continue
        nested = span.nested("ingress", n) if span else None
        line = (nested.attr_line("cidr_blocks") or nested.attr_line("ipv6_cidr_blocks") or nested.line) if nested \
            else _aline(span, "ingress")
        proto = str(rule.get("protocol", "")).lower()
        _open_ingress(ctx, res, line, world, _port(rule.get("from_port")), _port(rule.get("to_port")),
                      proto in ("-1", "all"), "ingress")


def _check_sg_rule(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    if rtype == "aws_security_group_rule":
        if str(body.get("type", "")).lower() != "ingress":
            return
        world = _world(body.get("cidr_blocks")) + _world(body.get("ipv6_cidr_blocks"))
        line = _aline(span, "cidr_blocks") if _world(body.get("cidr_blocks")) else _aline(span, "ipv6_cidr_blocks")
        proto = str(body.get("protocol", "")).lower()
    else:   # aws_vpc_security_group_ingress_rule
        world = _world(body.get("cidr_ipv4")) + _world(body.get("cidr_ipv6"))
        line = _aline(span, "cidr_ipv4") if _world(body.get("cidr_ipv4")) else _aline(span, "cidr_ipv6")
        proto = str(body.get("ip_protocol", "")).lower()
    if world:
        _open_ingress(ctx, res, line, world, _port(body.get("from_port")), _port(body.get("to_port")),
                      proto in ("-1", "all"), "rule")


def _port_ranges(values: Any) -> list[tuple[int | None, int | None]]:
    out = []
    for v in _as_list(values):
        s = str(v).strip()
        if s == "*":
            out.append((0, 65535))
        elif "-" in s:
            a, _, b = s.partition("-")
            out.append((_port(a), _port(b)))
        else:
            p = _port(s)
            out.append((p, p))
    return out


def _check_gcp_firewall(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    if str(body.get("direction", "INGRESS")).upper() != "INGRESS":
        return
    world = _world(body.get("source_ranges"))
    if not world:
        return
    line = _aline(span, "source_ranges")
    for allow in _blocks(body, "allow"):
        proto = str(allow.get("protocol", "")).lower()
        ranges = _port_ranges(allow.get("ports"))
        if proto == "all" or not ranges:
            _open_ingress(ctx, res, line, world, 0, 65535, True, "firewall")
            return
        for lo, hi in ranges:
            _open_ingress(ctx, res, line, world, lo, hi, False, "firewall")


def _azure_rule(ctx: _Ctx, res: str, rule: dict, line: int | None) -> None:
    if str(rule.get("direction", "")).lower() != "inbound" or str(rule.get("access", "")).lower() != "allow":
        return
    world = _world(rule.get("source_address_prefix")) + _world(rule.get("source_address_prefixes"))
    if not world:
        return
    ranges = _port_ranges(rule.get("destination_port_range")) + _port_ranges(rule.get("destination_port_ranges"))
    for lo, hi in ranges or [(0, 65535)]:
        _open_ingress(ctx, res, line, world, lo, hi, (lo, hi) == (0, 65535), "security rule")


def _check_azure_nsg(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    if rtype == "azurerm_network_security_rule":
        _azure_rule(ctx, res, body, _aline(span, "source_address_prefix") if "source_address_prefix" in body
                    else _aline(span, "source_address_prefixes"))
        return
    for n, rule in enumerate(_blocks(body, "security_rule")):
        nested = span.nested("security_rule", n) if span else None
        line = (nested.attr_line("source_address_prefix") or nested.line) if nested else _aline(span, "security_rule")
        _azure_rule(ctx, res, rule, line)


_PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


def _check_s3_bucket(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    acl = body.get("acl")
    if isinstance(acl, str) and acl in _PUBLIC_ACLS:
        ctx.out.append(_finding("tf-aws-s3-public-acl", _aline(span, "acl"), f"{res} has acl = {acl}", res))
    if rtype != "aws_s3_bucket":
        return
    refs = {f"${{aws_s3_bucket.{rname}.id}}", f"${{aws_s3_bucket.{rname}.bucket}}"}
    name = body.get("bucket")
    if isinstance(name, str):
        refs.add(name)
    if not _blocks(body, "server_side_encryption_configuration") and not (refs & ctx.sse_buckets):
        ctx.out.append(_finding("tf-aws-s3-no-encryption", span.line if span else None,
                                f"{res} has no server_side_encryption_configuration (block or "
                                "aws_s3_bucket_server_side_encryption_configuration) in this file; "
                                "choose SSE-KMS or state SSE-S3", res))


_PAB_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")


def _check_pab(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    off = [f for f in _PAB_FLAGS if _is_false(body.get(f))]
    unset = [f for f in _PAB_FLAGS if f not in body]
    if not off and not unset:
        return
    parts = [f"{', '.join(off)} = false"] if off else []
    if unset:
        parts.append(f"{', '.join(unset)} not set (defaults to false)")
    line = _aline(span, off[0]) if off else (span.line if span else None)
    ctx.out.append(_finding("tf-aws-s3-public-access-block-disabled", line, f"{res}: {'; '.join(parts)}", res))


def _check_rds(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    enc = body.get("storage_encrypted")
    inherits = any(k in body for k in ("replicate_source_db", "snapshot_identifier", "source_db_cluster_identifier"))
    if _is_false(enc):
        ctx.out.append(_finding("tf-aws-rds-unencrypted", _aline(span, "storage_encrypted"),
                                f"{res} sets storage_encrypted = false", res))
    elif enc is None and not inherits and str(body.get("engine_mode", "")).lower() != "serverless":
        ctx.out.append(_finding("tf-aws-rds-unencrypted", span.line if span else None,
                                f"{res} does not set storage_encrypted = true (unencrypted by default)", res))
    if _is_true(body.get("publicly_accessible")):
        ctx.out.append(_finding("tf-aws-rds-public", _aline(span, "publicly_accessible"),
                                f"{res} sets publicly_accessible = true", res))


def _check_ebs(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    if rtype == "aws_ebs_volume":
        if _is_false(body.get("encrypted")):
            ctx.out.append(_finding("tf-aws-ebs-unencrypted", _aline(span, "encrypted"),
                                    f"{res} sets encrypted = false", res))
        return
    for block in ("root_block_device", "ebs_block_device"):
        for n, dev in enumerate(_blocks(body, block)):
            if _is_false(dev.get("encrypted")):
                nested = span.nested(block, n) if span else None
                line = (nested.attr_line("encrypted") or nested.line) if nested else _aline(span, block)
                device = dev.get("device_name")
                where = f"{block} {device}" if _literal(device) else (block if n == 0 else f"{block} {n}")
                ctx.out.append(_finding("tf-aws-ebs-unencrypted", line, f"{res} {where} sets encrypted = false",
                                        f"{res} {where}"))


def _check_cloudtrail(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    if _is_false(body.get("enable_logging")):
        res = _res(rtype, rname)
        ctx.out.append(_finding("tf-aws-cloudtrail-logging-disabled", _aline(span, "enable_logging"),
                                f"{res} sets enable_logging = false", res))


def _check_kms(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    spec = body.get("customer_master_key_spec", body.get("key_spec", "SYMMETRIC_DEFAULT"))
    if isinstance(spec, str) and spec not in ("SYMMETRIC_DEFAULT",) and "${" not in spec:
        return   # rotation exists for symmetric keys only
    res = _res(rtype, rname)
    rot = body.get("enable_key_rotation")
    if _is_false(rot):
        ctx.out.append(_finding("tf-aws-kms-rotation-disabled", _aline(span, "enable_key_rotation"),
                                f"{res} sets enable_key_rotation = false", res))
    elif rot is None:
        ctx.out.append(_finding("tf-aws-kms-rotation-disabled", span.line if span else None,
                                f"{res} does not set enable_key_rotation = true (off by default)", res))


_ACTION_RE = re.compile(r"(?i)(?<![A-Za-z])\"?(not)?actions?\"?\s*[:=]\s*(\[[^\]]*\]|\"[^\"]*\")")
_RESOURCE_RE = re.compile(r"(?i)(?<![A-Za-z])\"?(not)?resources?\"?\s*[:=]\s*(\[[^\]]*\]|\"[^\"]*\")")
_EFFECT_DENY_RE = re.compile(r"(?i)(?<![A-Za-z])\"?effect\"?\s*[:=]\s*\"deny\"")
_STAR_ITEM_RE = re.compile(r"\"\*\"")


def _top_level(segment: str) -> str:
    """The text of a brace-delimited segment with nested braces' contents blanked (same offsets)."""
    out = list(segment)
    depth = 0
    for i, ch in enumerate(segment):
        if ch == "{":
            depth += 1
            if depth > 1:
                out[i] = " "
        elif ch == "}":
            if depth > 1:
                out[i] = " "
            depth -= 1
        elif depth > 1 and ch != "\n":
            out[i] = " "
    return "".join(out)


def _iam_wildcards(ctx: _Ctx, res: str, text: str, base: int) -> None:
    """Statements (any `{...}` holding an Action and a Resource: JSON, jsonencode objects,
    `statement {}` blocks of aws_iam_policy_document) allowing "*" on "*"."""
    text = text.replace('\\"', ' "')   # JSON inside an HCL string (same length: offsets kept)
    stack: list[int] = []
    found: set[int] = set()
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            start = stack.pop()
            seg = _top_level(text[start:i + 1])
            am = next((m for m in _ACTION_RE.finditer(seg) if not m.group(1)), None)
            rm = next((m for m in _RESOURCE_RE.finditer(seg) if not m.group(1)), None)
            if am is None or rm is None or _EFFECT_DENY_RE.search(seg):
                continue
            if _STAR_ITEM_RE.search(am.group(2)) and _STAR_ITEM_RE.search(rm.group(2)):
                found.add(ctx.src.line_of(base + start + am.start()))
    if found:
        many = f" ({len(found)} statements)" if len(found) > 1 else ""
        ctx.out.append(_finding("tf-aws-iam-wildcard-policy", min(found),
                                f"{res} allows Action \"*\" on Resource \"*\" (full admin){many}", res))


def _check_iam_policy(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    if span is not None:
        _iam_wildcards(ctx, _res(rtype, rname), span.text(), span.start)


def _check_gcs_public(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    for key in ("member", "members", "role_entity"):
        for m in _as_list(body.get(key)):
            if isinstance(m, str) and ("allUsers" in m or "allAuthenticatedUsers" in m):
                who = "allUsers" if "allUsers" in m else "allAuthenticatedUsers"
                ctx.out.append(_finding("tf-gcp-storage-public", _aline(span, key),
                                        f"{res} grants access to {who}", res))
                return


def _check_gcp_sql(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    for s_n, settings in enumerate(_blocks(body, "settings")):
        for i_n, ipc in enumerate(_blocks(settings, "ip_configuration")):
            for a_n, net in enumerate(_blocks(ipc, "authorized_networks")):
                if _world(net.get("value")):
                    line = None
                    if span is not None:
                        s = span.nested("settings", s_n)
                        ip = s.nested("ip_configuration", i_n) if s else None
                        an = ip.nested("authorized_networks", a_n) if ip else None
                        line = (an.attr_line("value") or an.line) if an else (ip or s or span).line
                    ctx.out.append(_finding("tf-gcp-sql-public", line,
                                            f"{res} authorizes {net.get('value')} (the whole internet)", res))
                    return


def _check_azure_storage(ctx: _Ctx, rtype: str, rname: str, body: dict, span: _Span | None) -> None:
    res = _res(rtype, rname)
    if rtype == "azurerm_storage_account":
        keys = [k for k in ("allow_nested_items_to_be_public", "allow_blob_public_access") if _is_true(body.get(k))]
        if keys:
            ctx.out.append(_finding("tf-azure-storage-public", _aline(span, keys[0]),
                                    f"{res} sets {' and '.join(k + ' = true' for k in keys)}", res))
    else:
        access = body.get("container_access_type")
        if isinstance(access, str) and access.lower() in ("blob", "container"):
            ctx.out.append(_finding("tf-azure-storage-public", _aline(span, "container_access_type"),
                                    f"{res} sets container_access_type = {access} (anonymous read)", res))


_TF_RESOURCE_CHECKS: dict[str, Callable] = {
    "aws_security_group": _check_sg,
    "aws_security_group_rule": _check_sg_rule,
    "aws_vpc_security_group_ingress_rule": _check_sg_rule,
    "google_compute_firewall": _check_gcp_firewall,
    "azurerm_network_security_rule": _check_azure_nsg,
    "azurerm_network_security_group": _check_azure_nsg,
    "aws_s3_bucket": _check_s3_bucket,
    "aws_s3_bucket_acl": _check_s3_bucket,
    "aws_s3_bucket_public_access_block": _check_pab,
    "aws_s3_account_public_access_block": _check_pab,
    "aws_db_instance": _check_rds,
    "aws_rds_cluster": _check_rds,
    "aws_ebs_volume": _check_ebs,
    "aws_instance": _check_ebs,
    "aws_cloudtrail": _check_cloudtrail,
    "aws_kms_key": _check_kms,
    "aws_iam_policy": _check_iam_policy,
    "aws_iam_role_policy": _check_iam_policy,
    "aws_iam_user_policy": _check_iam_policy,
    "aws_iam_group_policy": _check_iam_policy,
    "google_storage_bucket_iam_member": _check_gcs_public,
    "google_storage_bucket_iam_binding": _check_gcs_public,
    "google_storage_bucket_acl": _check_gcs_public,
    "google_sql_database_instance": _check_gcp_sql,
    "azurerm_storage_account": _check_azure_storage,
    "azurerm_storage_container": _check_azure_storage,
}
