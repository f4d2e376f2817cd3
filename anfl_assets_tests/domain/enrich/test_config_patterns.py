"""config_patterns: key rows, keyed fingerprints, secrets, Kubernetes objects, errors, drift."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import time

import pytest

from anfl_assets.domain.enrich import config_patterns as cp
from anfl_assets.domain.enrich.config_patterns import (
    EXTRACTOR_VERSION,
    SECRET_KEY_RE,
    ConfigFacts,
    compute_drift,
    config_format_for,
    environment_of,
    extract_config,
)

KEY = b"test-fingerprint-key-0123456789ab"
OTHER_KEY = b"another-fingerprint-key-9876543210"


def run(path: str, text: str | bytes, fmt: str | None = None, key: bytes = KEY) -> ConfigFacts:
    fmt = fmt or config_format_for(path, None)
    assert fmt is not None, path
    return extract_config(path, text.encode() if isinstance(text, str) else text, fmt, key)


def rows_by_path(facts: ConfigFacts, doc: int = 0) -> dict:
    return {r.key_path: r for r in facts.keys if r.doc_index == doc}


def summary(facts: ConfigFacts, doc: int = 0) -> dict:
    """{path: (type, display, line, secret)}"""
    return {r.key_path: (r.value_type, r.display_value, r.line, r.is_secret_key)
            for r in facts.keys if r.doc_index == doc}


def keyed(value_type: str, text: str, key: bytes = KEY) -> str:
    return hmac.new(key, f"{value_type}:{text}".encode(), hashlib.sha256).hexdigest()[:16]


def assert_not_leaked(facts, *planted):
    blob = repr(facts)
    for value in planted:
        assert value not in blob, f"{value!r} leaked"


# ======================================================================================
# module surface
# ======================================================================================
def test_module_surface_and_no_dagster():
    assert isinstance(EXTRACTOR_VERSION, int) and EXTRACTOR_VERSION >= 1
    assert isinstance(SECRET_KEY_RE, re.Pattern)
    facts = ConfigFacts(keys=[], k8s=[])
    assert facts.error is None and facts.error_line is None and facts.skipped is None
    assert not hasattr(facts, "__dict__")  # slots
    src = open(cp.__file__).read()
    assert "import dagster" not in src and "from dagster" not in src


def test_uses_libyaml_when_available():
    import yaml

    assert cp.YAML_IS_C == bool(yaml.__with_libyaml__)


# ======================================================================================
# YAML
# ======================================================================================
APP_YAML = """\
# application settings
defaults: &defaults
  timeout: 30
  retries: 3
service:
  <<: *defaults
  name: billing
  port: 8080
  ratio: 0.25
  enabled: yes
  owner: ~
  started: 2024-01-02
  tags: [a, b]
  hosts:
    - name: h1
      weight: 2
    - name: h2
  annotations:
    prometheus.io/scrape: "true"
  "": empty
  empty_map: {}
  empty_list: []
database:
  password: hunter2-planted
  url: postgres://app:s3cr3t-planted@db:5432/x
  credentials:
    user: admin-planted
    token: tok-planted-xyz
"""


def test_yaml_key_paths_types_displays_lines():
    facts = run("conf/app.yaml", APP_YAML)
    assert facts.error is None and facts.skipped is None and facts.documents == 1
    got = summary(facts)
    assert got[""] == ("map", "3", 2, False)
    assert got["defaults"] == ("map", "2", 2, False)
    assert got["service"] == ("map", "14", 5, False)
    # merge keys are flattened into the mapping (line of the anchored source)
    assert got["service.timeout"] == ("int", "30", 3, False)
    assert got["service.retries"] == ("int", "3", 4, False)
    assert got["service.name"] == ("string", "billing", 7, False)
    assert got["service.port"] == ("int", "8080", 8, False)
    assert got["service.ratio"] == ("float", "0.25", 9, False)
    assert got["service.enabled"] == ("bool", "true", 10, False)
    assert got["service.owner"] == ("null", "null", 11, False)
    assert got["service.started"] == ("string", "2024-01-02", 12, False)
    assert got["service.tags"] == ("list", "2", 13, False)
    assert got["service.tags[0]"] == ("string", "a", 13, False)
    assert got["service.tags[1]"] == ("string", "b", 13, False)
    assert got["service.hosts"] == ("list", "2", 14, False)
    assert got["service.hosts[0]"] == ("map", "2", 15, False)
    assert got["service.hosts[0].weight"] == ("int", "2", 16, False)
    assert got["service.hosts[1].name"] == ("string", "h2", 17, False)
    assert got['service.annotations["prometheus.io/scrape"]'] == ("string", "true", 19, False)
    assert got['service[""]'] == ("string", "empty", 20, False)
    assert got["service.empty_map"] == ("map", "0", 21, False)
    assert got["service.empty_list"] == ("list", "0", 22, False)
    assert "service.<<" not in got
    # parents come before their children, in document order
    paths = [r.key_path for r in facts.keys]
    assert paths.index("service") < paths.index("service.name") < paths.index("service.hosts[0].name")
    for row in facts.keys:
        assert len(row) == 7 and row.doc_index == 0
        assert re.fullmatch(r"[0-9a-f]{16}", row.value_fingerprint)


def test_yaml_secrets_by_key_value_and_ancestor_are_never_stored():
    facts = run("conf/app.yaml", APP_YAML)
    got = summary(facts)
    assert got["database.password"] == ("string", None, 24, True)        # key name
    assert got["database.url"] == ("string", None, 25, True)             # user:password@ in the value
    assert got["database.credentials"] == ("map", None, 26, True)        # key name (container)
    assert got["database.credentials.user"] == ("string", None, 27, True)  # inherited
    assert got["database.credentials.token"] == ("string", None, 28, True)
    assert_not_leaked(facts, "hunter2-planted", "s3cr3t-planted", "admin-planted", "tok-planted-xyz")
    # still fingerprinted, keyed
    row = rows_by_path(facts)["database.password"]
    assert row.value_fingerprint == keyed("string", "hunter2-planted")
    assert row.value_fingerprint != hashlib.sha256(b"hunter2-planted").hexdigest()[:16]


def test_fingerprints_are_keyed_and_deterministic():
    a = rows_by_path(run("conf/app.yaml", APP_YAML))
    b = rows_by_path(run("conf/app.yaml", APP_YAML))
    c = rows_by_path(run("conf/app.yaml", APP_YAML, key=OTHER_KEY))
    for path, row in a.items():
        assert row.value_fingerprint == b[path].value_fingerprint          # same key, same value
        assert row.value_fingerprint != c[path].value_fingerprint          # other key, other fingerprint
    # equal values give equal fingerprints, wherever they are
    assert a["service.timeout"].value_fingerprint == a["defaults.timeout"].value_fingerprint
    assert a["service.hosts[0].weight"].value_fingerprint == keyed("int", "2")
    # scalar canonical form: "type:text"
    assert a["service.name"].value_fingerprint == keyed("string", "billing")
    assert a["service.port"].value_fingerprint == keyed("int", "8080")
    assert c["service.port"].value_fingerprint == keyed("int", "8080", OTHER_KEY)
    # type matters: int 8080 differs from the string "8080"
    s = rows_by_path(run("x.yaml", 'port: "8080"\n'))
    assert s["port"].value_fingerprint != a["service.port"].value_fingerprint
    # containers: equal content -> equal fingerprint, any change -> different
    one = rows_by_path(run("x.yaml", "a: {x: 1, y: [1, 2]}\nb: {y: [1, 2], x: 1}\nc: {x: 1, y: [2, 1]}\n"))
    assert one["a"].value_fingerprint == one["b"].value_fingerprint       # key order does not matter
    assert one["a"].value_fingerprint != one["c"].value_fingerprint       # list order does
    assert one["a.y"].value_fingerprint != one["c.y"].value_fingerprint


def test_display_values_are_cut_to_80_chars():
    long_value = "x" * 200
    got = summary(run("x.yaml", f"description: {long_value}\nshort: ok\n"))
    display = got["description"][1]
    assert len(display) == 80 and display.endswith("…") and display.startswith("xxxx")
    assert got["short"][1] == "ok"


def test_multi_document_yaml_has_doc_index():
    text = "a: 1\nb: [x]\n---\na: 2\nc: {d: true}\n---\n- one\n- two\n"
    facts = run("multi.yaml", text)
    assert facts.documents == 3
    assert summary(facts, 0) == {"": ("map", "2", 1, False), "a": ("int", "1", 1, False),
                                 "b": ("list", "1", 2, False), "b[0]": ("string", "x", 2, False)}
    assert summary(facts, 1) == {"": ("map", "2", 4, False), "a": ("int", "2", 4, False),
                                 "c": ("map", "1", 5, False), "c.d": ("bool", "true", 5, False)}
    assert summary(facts, 2) == {"": ("list", "2", 7, False), "[0]": ("string", "one", 7, False),
                                 "[1]": ("string", "two", 8, False)}


def test_yaml_alias_bomb_is_bounded():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]\n"
    started = time.perf_counter()
    facts = run("bomb.yaml", bomb)
    assert time.perf_counter() - started < 10
    assert facts.truncated and len(facts.keys) <= cp.MAX_KEY_ROWS
    assert facts.error is None


def test_deep_nesting_never_crashes():
    deep_json = "[" * 5000 + "]" * 5000
    facts = run("deep.json", deep_json)
    assert facts.truncated or facts.error is not None
    deep_yaml = "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 300)) + "  " * 300 + "c: 1\n"
    facts = run("deep.yaml", deep_yaml)
    assert facts.truncated or facts.error is not None
    # nesting that would overflow libyaml's C stack (a segfault, not an exception) goes to the
    # pure-Python composer and comes back as an error
    n = 100_000
    for text in ("[" * n + "]" * n, "- " * n + "x\n", "{a: " * n + "1" + "}" * n):
        facts = run("deep.yaml", text)
        assert facts.error is not None and facts.keys == []


# ======================================================================================
# Kubernetes
# ======================================================================================
K8S_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels:
    app: api
    tier: web
spec:
  replicas: 3
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example/api:1.4.2
          resources:
            requests: {cpu: 100m, memory: 64Mi}
      containers:
        - name: api
          image: registry.example/api:1.4.2
          env:
            - name: DB_PASSWORD
              value: k8s-planted-pw
          resources:
            requests:
              cpu: 250m
              memory: 512Mi
            limits:
              cpu: 1
              memory: 1Gi
        - name: sidecar
          image: envoyproxy/envoy:v1.29
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16
          resources:
            limits: {memory: 2Gi}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: jobs
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: registry.example/report:2.0
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
    - name: shell
      image: busybox:1.36
      resources:
        requests: {cpu: 10m}
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
type: Opaque
data:
  username: c2VjcmV0LXVzZXItcGxhbnRlZA==
stringData:
  note: plain-secret-planted
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: api, namespace: shop}
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      template:
        spec:
          containers:
            - {name: agent, image: "agent:3"}
"""


def test_k8s_objects_images_replicas_resources():
    facts = run("deploy/k8s/all.yaml", K8S_YAML)
    assert facts.error is None and facts.documents == 6
    by_name = {(o.kind, o.name): o for o in facts.k8s}
    dep = by_name[("Deployment", "api")]
    assert tuple(dep[:8]) == (
        0, "apps/v1", "Deployment", "api", "shop",
        ["registry.example/api:1.4.2", "envoyproxy/envoy:v1.29"], 3,
        {"migrate": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {}},
         "api": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
         "sidecar": {"requests": {}, "limits": {}}},
    )
    assert dep.labels == {"app": "api", "tier": "web"} and dep.object_path == "" and dep.line == 1
    sts = by_name[("StatefulSet", "db")]
    assert (sts.doc_index, sts.namespace, sts.images, sts.replicas) == (1, None, ["postgres:16"], 1)
    assert sts.resources == {"postgres": {"requests": {}, "limits": {"memory": "2Gi"}}}
    cron = by_name[("CronJob", "nightly")]
    assert (cron.doc_index, cron.api_version, cron.namespace, cron.images, cron.replicas) == (
        2, "batch/v1", "jobs", ["registry.example/report:2.0"], None)
    pod = by_name[("Pod", "debug")]
    assert pod.images == ["busybox:1.36"] and pod.resources == {"shell": {"requests": {"cpu": "10m"}, "limits": {}}}
    secret = by_name[("Secret", "creds")]
    assert secret.images == [] and secret.resources == {}
    # List items become objects of their own
    svc, ds = by_name[("Service", "api")], by_name[("DaemonSet", "agent")]
    assert (svc.doc_index, svc.object_path, svc.namespace) == (5, "items[0]", "shop")
    assert (ds.doc_index, ds.object_path, ds.images) == (5, "items[1]", ["agent:3"])
    assert ("List", None) not in by_name
    # the key rows of k8s documents are there too
    assert summary(facts, 0)["spec.template.spec.containers[0].image"] == (
        "string", "registry.example/api:1.4.2", 20, False)


def test_k8s_secret_data_and_env_values_are_hidden():
    facts = run("deploy/k8s/all.yaml", K8S_YAML)
    doc4 = summary(facts, 4)
    assert doc4["data.username"][1:] == (None, 80, True)
    assert doc4["stringData.note"][1:] == (None, 82, True)
    doc0 = summary(facts, 0)
    assert doc0["spec.template.spec.containers[0].env[0].name"][1] == "DB_PASSWORD"  # a name, not a secret
    assert_not_leaked(facts, "c2VjcmV0LXVzZXItcGxhbnRlZA==", "plain-secret-planted")


def test_k8s_json_manifest():
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "w", "image": "nginx:1"}]}}}}
    facts = run("k8s/web.json", json.dumps(manifest, indent=2))
    assert [(o.kind, o.name, o.images, o.replicas) for o in facts.k8s] == [("Deployment", "web", ["nginx:1"], 2)]


# ======================================================================================
# other formats
# ======================================================================================
def test_json_rows_and_lines():
    text = ('{\n  "name": "api",\n  "limits": {"cpu": 2, "mem": null},\n  "hosts": [\n    "a",\n'
            '    {"h": "b", "w": 1.5}\n  ],\n  "db.pass": "json-planted-pw",\n  "flag": false\n}\n')
    facts = run("svc/settings.json", text)
    assert summary(facts) == {
        "": ("map", "5", 1, False),
        "name": ("string", "api", 2, False),
        "limits": ("map", "2", 3, False),
        "limits.cpu": ("int", "2", 3, False),
        "limits.mem": ("null", "null", 3, False),
        "hosts": ("list", "2", 4, False),
        "hosts[0]": ("string", "a", 5, False),
        "hosts[1]": ("map", "2", 6, False),
        "hosts[1].h": ("string", "b", 6, False),
        "hosts[1].w": ("float", "1.5", 6, False),
        '["db.pass"]': ("string", None, 8, True),
        "flag": ("bool", "false", 9, False),
    }
    assert_not_leaked(facts, "json-planted-pw")


TOML_TEXT = '''[project]
name = "demo"
version = "1.0"
released = 2024-05-01
authors = [{ name = "Ann" }]

[tool.db]
password = "toml-planted-pw"
"weird.key" = 1

[[bin]]
name = "a"

[[bin]]
name = "b"
path = """
multi
line = 1
"""
'''


def test_toml_rows_and_lines():
    facts = run("pyproject.toml", TOML_TEXT)
    got = summary(facts)
    assert got["project"] == ("map", "4", 1, False)
    assert got["project.name"] == ("string", "demo", 2, False)
    assert got["project.released"] == ("string", "2024-05-01", 4, False)
    assert got["project.authors"] == ("list", "1", 5, False)
    assert got["project.authors[0].name"] == ("string", "Ann", 5, False)
    assert got["tool.db"] == ("map", "2", 7, False)
    assert got["tool.db.password"] == ("string", None, 8, True)
    assert got['tool.db["weird.key"]'] == ("int", "1", 9, False)
    assert got["bin"] == ("list", "2", 11, False)
    assert got["bin[0].name"] == ("string", "a", 12, False)
    assert got["bin[1]"] == ("map", "2", 14, False)
    assert got["bin[1].path"] == ("string", "multi\nline = 1\n", 16, False)
    assert_not_leaked(facts, "toml-planted-pw")


def test_ini_rows_interpolation_off_and_lines():
    text = ("[DEFAULT]\nregion = eu\n\n[metadata]\nname = demo\nurl = %(region)s.example.com\n"
            "description = first line\n  second line\n\n[db]\nPassword: ini-planted-pw\nport=5432\n")
    facts = run("setup.cfg", text)
    assert summary(facts) == {
        "": ("map", "3", 1, False),
        "DEFAULT": ("map", "1", 1, False),
        "DEFAULT.region": ("string", "eu", 2, False),
        "metadata": ("map", "3", 4, False),
        "metadata.name": ("string", "demo", 5, False),
        "metadata.url": ("string", "%(region)s.example.com", 6, False),     # not interpolated
        "metadata.description": ("string", "first line\nsecond line", 7, False),
        "db": ("map", "2", 10, False),
        "db.Password": ("string", None, 11, True),                           # key case kept
        "db.port": ("string", "5432", 12, False),
    }
    assert_not_leaked(facts, "ini-planted-pw")


def test_env_file_rows():
    text = ("# comment\nexport APP_ENV=production\nDB_HOST=\"db.internal\"   # inline\n"
            "GREETING='hello # not a comment'\nMULTI=\"line1\nline2\"\nEMPTY=\nAPI_KEY=env-planted-key\n"
            "URL=http://x # trailing comment\nESC=\"a\\\"b\"\n")
    facts = run("svc/.env.production", text)
    assert summary(facts) == {
        "": ("map", "8", 1, False),
        "APP_ENV": ("string", "production", 2, False),
        "DB_HOST": ("string", "db.internal", 3, False),
        "GREETING": ("string", "hello # not a comment", 4, False),
        "MULTI": ("string", "line1\nline2", 5, False),
        "EMPTY": ("string", "", 7, False),
        "API_KEY": ("string", None, 8, True),
        "URL": ("string", "http://x", 9, False),
        "ESC": ("string", 'a"b', 10, False),
    }
    assert_not_leaked(facts, "env-planted-key")


def test_hcl_tfvars_and_tf_rows():
    tfvars = ('region = "eu-west-1"\ninstance_count = 3\ndb_password = "tf-planted-pw"\n'
              'tags = {\n  team = "core"\n  "cost-center" = "42"\n}\nzones = ["a", "b"]\n')
    facts = run("infra/envs/prod.tfvars", tfvars)
    assert summary(facts) == {
        "": ("map", "5", 1, False),
        "region": ("string", "eu-west-1", 1, False),
        "instance_count": ("int", "3", 2, False),
        "db_password": ("string", None, 3, True),
        "tags": ("map", "2", 4, False),
        "tags.team": ("string", "core", 5, False),
        "tags.cost-center": ("string", "42", 6, False),
        "zones": ("list", "2", 8, False),
        "zones[0]": ("string", "a", 8, False),
        "zones[1]": ("string", "b", 8, False),
    }
    assert_not_leaked(facts, "tf-planted-pw")
    tf = ('terraform {\n  required_version = ">= 1.5"\n}\n\nvariable "region" {\n  type    = string\n'
          '  default = "eu-west-1"\n}\n\nresource "aws_security_group" "web" {\n  name = "web-${var.region}"\n'
          '  ingress {\n    from_port = 80\n  }\n  ingress {\n    from_port = 443\n  }\n}\n')
    got = summary(run("infra/main.tf", tf))
    assert got["terraform.required_version"] == ("string", ">= 1.5", 2, False)
    assert got["variable.region.default"] == ("string", "eu-west-1", 7, False)
    assert got["resource.aws_security_group.web"] == ("map", "2", 10, False)
    assert got["resource.aws_security_group.web.name"] == ("string", "web-${var.region}", 11, False)
    assert got["resource.aws_security_group.web.ingress"] == ("list", "2", 12, False)
    assert got["resource.aws_security_group.web.ingress[0].from_port"] == ("int", "80", 13, False)
    assert got["resource.aws_security_group.web.ingress[1].from_port"] == ("int", "443", 16, False)


def test_xml_rows():
    text = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <modelVersion>4.0.0</modelVersion>
  <properties>
    <java.version>17</java.version>
  </properties>
  <dependencies>
    <dependency scope="test">
      <groupId>junit</groupId>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
    </dependency>
  </dependencies>
  <datasource password="xml-planted-pw">jdbc:h2:mem</datasource>
  <empty/>
</project>
"""
    facts = run("pom.xml", text)
    assert summary(facts) == {
        "": ("map", "1", 1, False),
        "project": ("map", "5", 2, False),
        "project.modelVersion": ("string", "4.0.0", 3, False),
        "project.properties": ("map", "1", 4, False),
        'project.properties["java.version"]': ("string", "17", 5, False),
        "project.dependencies": ("map", "1", 7, False),
        "project.dependencies.dependency": ("list", "2", 8, False),
        "project.dependencies.dependency[0]": ("map", "2", 8, False),
        "project.dependencies.dependency[0].@scope": ("string", "test", 8, False),
        "project.dependencies.dependency[0].groupId": ("string", "junit", 9, False),
        "project.dependencies.dependency[1]": ("map", "1", 11, False),
        "project.dependencies.dependency[1].groupId": ("string", "org.slf4j", 12, False),
        "project.datasource": ("map", "2", 15, False),
        "project.datasource.@password": ("string", None, 15, True),
        "project.datasource.#text": ("string", "jdbc:h2:mem", 15, False),
        "project.empty": ("null", "null", 16, False),
    }
    assert_not_leaked(facts, "xml-planted-pw")


def test_xml_entity_declarations_are_refused():
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n<lolz>&lol2;</lolz>\n')
    facts = run("bomb.xml", bomb)
    assert facts.error is not None and facts.error.startswith("XMLSyntaxError line 3:")
    assert facts.keys == []


def test_properties_rows():
    text = ("# Spring\nspring.datasource.url=jdbc:postgresql://db/app\n"
            "spring.datasource.password = props-planted-pw\nserver.port: 8080\n"
            "app.greeting=Hello \\\n    World\napp.unicode=caf\\u00e9\nkey\\ with\\ spaces=v\n! bang comment\nflag\n")
    facts = run("src/main/resources/application-dev.properties", text)
    assert summary(facts) == {
        "": ("map", "7", 1, False),
        "spring.datasource.url": ("string", "jdbc:postgresql://db/app", 2, False),
        "spring.datasource.password": ("string", None, 3, True),
        "server.port": ("string", "8080", 4, False),
        "app.greeting": ("string", "Hello World", 5, False),
        "app.unicode": ("string", "café", 7, False),
        '["key with spaces"]': ("string", "v", 8, False),
        "flag": ("string", "", 10, False),
    }
    assert_not_leaked(facts, "props-planted-pw")


# ======================================================================================
# secrets
# ======================================================================================
@pytest.mark.parametrize("name", [
    "password", "DB_PASSWORD", "dbPassword", "passwd", "db_pass", "secret", "client_secret", "GH_TOKEN",
    "accessToken", "api_key", "apiKey", "APIKEY", "x-api-key", "private_key", "privateKey", "credentials",
    "auth", "basicAuth", "Authorization", "aws_access_key_id", "secret_access_key", "connectionString",
    "ConnectionStrings", "SENTRY_DSN", "dsn", "keyPassphrase",
])
def test_secret_key_names(name):
    assert SECRET_KEY_RE.search(name)


@pytest.mark.parametrize("name", [
    "max_tokens", "maxTokens", "tokenizer", "author", "authority", "bypass", "path", "pattern", "keyboard",
    "name", "image", "replicas", "monkey", "passenger_count",
])
def test_not_secret_key_names(name):
    assert not SECRET_KEY_RE.search(name)


@pytest.mark.parametrize("value", [
    "postgresql://svc:pw-planted-1@db:5432/app",
    "redis://:pw-planted-2@cache:6379/0",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "ghp_" + "Y1kVpYZZg9pAw2XKWg4yDEj13WpwRanaQEiI",
    "xoxb-" + "75646928548-4769991998385-B6g8CtZdZiU6FYDj0b4L5hpb",
    "sk_live_" + "51taMc72DfG8fB7muYMLRA1EIyv1h1dm",
    "--db-password=pw-planted-3",
    "Server=db;Database=app;User Id=sa;Password=pw-planted-4;",
    "Bearer abcdefghijklmnopqrstuvwxyz",
    "KjOqQ5E1OVIFMOwnhwmDuPfTEZcqw0gH4wbYmkSR",
])
def test_secret_looking_values_under_innocent_keys(value):
    facts = run("x.yaml", "setting: " + json.dumps(value) + "\nlist: [" + json.dumps(value) + ", plain]\n")
    got = summary(facts)
    assert got["setting"][1] is None and got["setting"][3] is True
    assert got["list[0]"][3] is True and got["list[1]"] == ("string", "plain", 2, False)
    assert_not_leaked(facts, value, value.split("\n")[1] if "\n" in value else value)


@pytest.mark.parametrize("value", [
    "postgresql://localhost:5432/aeon", "registry.example/api:1.4.2", "MyApplicationName2024Service",
    "550e8400-e29b-41d4-a716-446655440000", "https://app.example.com/path?x=1", "text-embedding-3-large",
])
def test_ordinary_values_are_displayed(value):
    assert summary(run("x.yaml", "setting: " + json.dumps(value) + "\n"))["setting"][1] == value


def test_planted_secrets_never_appear_anywhere_in_any_format():
    planted = "Zq9-planted-SECRET-value"
    cases = {
        "a.yaml": f"db:\n  password: {planted}\n",
        "a.json": json.dumps({"auth": {"token": planted}}),
        "a.toml": f'[db]\napi_key = "{planted}"\n',
        "a.ini": f"[db]\nsecret = {planted}\n",
        ".env": f"STRIPE_SECRET_KEY={planted}\n",
        "a.tfvars": f'db_password = "{planted}"\n',
        "a.xml": f"<cfg><credential>{planted}</credential></cfg>",
        "a.properties": f"datasource.password={planted}\n",
    }
    for path, text in cases.items():
        facts = run(path, text)
        assert facts.error is None, (path, facts.error)
        assert any(r.is_secret_key for r in facts.keys), path
        assert_not_leaked(facts, planted)
        secret_rows = [r for r in facts.keys if r.is_secret_key and r.value_type == "string"]
        assert [r.value_fingerprint for r in secret_rows] == [keyed("string", planted)], path


def test_parse_errors_do_not_quote_the_broken_line():
    planted = "pw-on-a-broken-line"
    cases = {
        "a.ini": f"[db]\npassword {planted}\n",
        "b.ini": f"password = {planted}\n",
        "a.env": f"OK=1\nsecret {planted}\n",
        "a.tf": f'resource "x" "y" {{\n  password = "{planted}" "{planted}"\n}}\n',
        "a.json": f'{{"password": {planted}}}',
        "a.toml": f"password = {planted}\n",
        "a.yaml": f"password: {planted}\n bad: [\n",
        "a.xml": f"<a password='{planted}'><b></a>",
    }
    for path, text in cases.items():
        facts = run(path, text)
        assert facts.error is not None, path
        assert_not_leaked(facts, planted)


# ======================================================================================
# malformed files and templates
# ======================================================================================
@pytest.mark.parametrize("path,text,prefix,line", [
    ("bad.yaml", "a: 1\nb:\n  c: 2\n d: 3\n", "YAMLError line 4:", 4),
    ("bad.yaml", "ok: 1\nlist: [a, b\nnext: 2\n", "YAMLError line", None),
    ("bad.yaml", "a: 1\nb: c: d\n", "YAMLError line 2:", 2),
    ("bad.json", '{\n  "a": 1,\n  "b": 2,\n}\n', "JSONDecodeError line 4:", 4),
    ("bad.json", '{"a": 1}\n{"b": 2}\n', "JSONDecodeError line 2:", 2),
    ("bad.toml", 'a = 1\n[t]\nb = \nc = 2\n', "TOMLDecodeError line 3:", 3),
    ("bad.toml", 'a = 1\na = 2\n', "TOMLDecodeError line 2:", 2),
    ("bad.ini", "[s]\na = 1\nthis line is garbage\n", "ParsingError line 3:", 3),
    ("bad.cfg", "a = 1\n[s]\n", "MissingSectionHeaderError line 1:", 1),
    ("bad.xml", "<a>\n  <b>\n</a>\n", "XMLSyntaxError line 3:", 3),
    ("bad.tf", 'x = 1\ny = \n', "HCLParseError line", None),
    ("bad.env", "A=1\n\nB=2\nnot an assignment\n", "EnvParseError line 4:", 4),
    ("bad.env", 'A="unterminated\nB=2\n', "EnvParseError line 1:", 1),
])
def test_malformed_files_give_an_error_with_the_line(path, text, prefix, line):
    facts = run(path, text)
    assert facts.error is not None and facts.error.startswith(prefix), facts.error
    assert facts.keys == [] and facts.k8s == [] and facts.skipped is None
    if line is not None:
        assert facts.error_line == line
    assert facts.error_line is not None and f"line {facts.error_line}:" in facts.error


def test_malformed_yaml_problem_text():
    facts = run("bad.yaml", "key: value\nother: [1, 2\nthird: x: y\n")
    assert facts.error.startswith("YAMLError line ") and facts.error_line in (2, 3)
    facts = run("bad.yaml", "a: 1\nb: c: d\n")
    assert "mapping values are not allowed" in facts.error


def test_binary_or_undecodable_content_is_an_error_not_a_crash():
    for path in ("x.yaml", "x.json", "x.toml", "x.xml", "x.ini", "x.tf"):
        facts = run(path, b"\x00\x01\xff\xfe\xfa garbage \x80\x81")
        assert facts.error is not None, path
    facts = run("x.properties", "name=caf\xe9\n".encode("latin-1"))    # properties are latin-1 by tradition
    assert summary(facts)["name"][1] == "café"


def test_helm_templates_are_skipped_not_errors():
    template = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"x.fullname\" . }}\n"
                "spec:\n  replicas: {{ .Values.replicaCount }}\n{{- with .Values.nodeSelector }}\n"
                "  nodeSelector:\n{{ toYaml . | indent 4 }}\n{{- end }}\n")
    facts = run("charts/api/templates/deployment.yaml", template)
    assert facts.skipped == "helm template" and facts.error is None and facts.keys == []
    # a plain YAML file under templates/ is a Helm template too
    assert run("charts/api/templates/configmap.yaml", "a: 1\n").skipped == "helm template"
    assert config_format_for("charts/api/templates/_helpers.tpl", "template") == "yaml"
    assert run("charts/api/templates/_helpers.tpl", '{{- define "x" -}}\nname\n{{- end -}}\n').skipped
    # templated YAML elsewhere (Jinja/Go placeholders) is skipped as a template
    facts = run("deploy/app.yaml", template)
    assert facts.skipped and "template" in facts.skipped and facts.error is None
    # GitHub Actions `${{ }}` and quoted placeholders are ordinary YAML
    gha = "on: push\njobs:\n  t:\n    runs-on: ${{ matrix.os }}\n    env:\n      MSG: 'hi {{ name }}'\n"
    facts = run(".github/workflows/ci.yml", gha)
    assert facts.skipped is None and facts.error is None
    assert summary(facts)["jobs.t.runs-on"][1] == "${{ matrix.os }}"


# ======================================================================================
# formats, environments
# ======================================================================================
@pytest.mark.parametrize("path,file_type,expected", [
    ("a/app.yaml", None, "yaml"), ("a/app.yml", "yaml", "yaml"), ("package.json", "json", "json"),
    ("pyproject.toml", None, "toml"), ("setup.cfg", None, "ini"), ("tox.ini", None, "ini"),
    (".env", None, "env"), (".env.production", "text", "env"), ("config/prod.env", None, "env"),
    ("main.tf", "terraform", "hcl"), ("envs/prod.tfvars", None, "hcl"), ("x.hcl", None, "hcl"),
    ("pom.xml", "xml", "xml"), ("application.properties", None, "properties"),
    ("config.yaml.example", None, "yaml"), ("values.yaml.j2", None, "yaml"),
    ("Kubeconfig", "yaml", "yaml"), ("settings", "json", "json"), ("app.conf", "ini", "ini"),
    ("package-lock.json", "json", None), ("poetry.lock", "toml", None), ("pnpm-lock.yaml", "yaml", None),
    (".terraform.lock.hcl", "hcl", None), ("app.yaml.bak", "yaml", None), ("app.yaml~", None, None),
    ("notebook.ipynb", "jupyter", None), ("README.md", "markdown", None), ("logo.svg", "xml", None),
    ("script.py", "python", None), ("Dockerfile.prod", "dockerfile", None),
])
def test_config_format_for(path, file_type, expected):
    assert config_format_for(path, file_type) == expected


@pytest.mark.parametrize("path,expected", [
    ("yaml_configs/dev/app.yaml", ("dev", "yaml_configs/{env}/app.yaml")),
    ("yaml_configs/prod/app.yaml", ("prod", "yaml_configs/{env}/app.yaml")),
    ("k8s/overlays/staging/kustomization.yaml", ("staging", "k8s/overlays/{env}/kustomization.yaml")),
    ("environments/production/eu/main.tf", ("production", "environments/{env}/eu/main.tf")),
    ("config/app.dev.yaml", ("dev", "config/app.{env}.yaml")),
    ("config/app-prod.yaml", ("prod", "config/app-{env}.yaml")),
    ("chart/values-staging.yaml", ("staging", "chart/values-{env}.yaml")),
    ("svc/.env.production", ("production", "svc/.env.{env}")),
    ("terraform/envs/prod.tfvars", ("prod", "terraform/envs/{env}.tfvars")),
    ("src/appsettings.Development.json", ("development", "src/appsettings.{env}.json")),
    ("deploy/qa/values-qa.yaml", ("qa", "deploy/{env}/values-{env}.yaml")),
    ("conf/UAT/app.yaml", ("uat", "conf/{env}/app.yaml")),
    ("local/settings.toml", ("local", "{env}/settings.toml")),
    ("test/app.yaml", ("test", "{env}/app.yaml")),
    ("stage/app.yaml", ("stage", "{env}/app.yaml")),
])
def test_environment_of(path, expected):
    assert environment_of(path) == expected


@pytest.mark.parametrize("path", [
    "yaml_configs/services/api.json", "config/app.yaml", "devtools/app.yaml", "products/app.yaml",
    "tests/app.yaml", "config/productions.yaml", "config/devices.json", "latest/app.yaml",
])
def test_environment_of_none(path):
    assert environment_of(path) is None


def test_environment_identity_is_shared_across_environments():
    names = [environment_of(f"svc/{env}/app.yaml") for env in ("dev", "staging", "prod")]
    assert {identity for _, identity in names} == {"svc/{env}/app.yaml"}
    by_name = [environment_of(p) for p in ("c/app.dev.yaml", "c/app.staging.yaml", "c/app.prod.yaml")]
    assert {identity for _, identity in by_name} == {"c/app.{env}.yaml"}


# ======================================================================================
# drift
# ======================================================================================
def keys_of(path: str, text: str, key: bytes = KEY) -> list:
    facts = run(path, text, key=key)
    assert facts.error is None and facts.skipped is None
    return facts.keys


def test_drift_missing_and_differing_keys():
    files = {
        "cfg/dev/app.yaml": keys_of("cfg/dev/app.yaml",
                                    "app:\n  debug: true\n  workers: 2\n  origins: [a, b]\ndb:\n  password: dev-pw\n"),
        "cfg/staging/app.yaml": keys_of("cfg/staging/app.yaml",
                                        "app:\n  workers: 4\n  origins: [a, b]\ndb:\n  password: dev-pw\n"),
        "cfg/prod/app.yaml": keys_of("cfg/prod/app.yaml",
                                     "app:\n  workers: 4\n  origins: [a]\n  extra: {}\ndb:\n  password: prod-pw\n"),
        "cfg/prod/payments.yaml": keys_of("cfg/prod/payments.yaml", "provider: stripe\n"),
        "cfg/other.yaml": keys_of("cfg/other.yaml", "x: 1\n"),
    }
    drift = compute_drift(files)
    got = {(r.config_identity, r.key_path): r for r in drift}
    assert set(got) == {
        ("cfg/{env}/app.yaml", "app.debug"), ("cfg/{env}/app.yaml", "app.workers"),
        ("cfg/{env}/app.yaml", "app.origins"), ("cfg/{env}/app.yaml", "app.extra"),
        ("cfg/{env}/app.yaml", "db.password"), ("cfg/{env}/payments.yaml", None),
    }
    debug = got[("cfg/{env}/app.yaml", "app.debug")]
    assert tuple(debug) == ("cfg/{env}/app.yaml", "app.debug", "missing", ["dev"], ["staging", "prod"],
                            {"dev": "true"}, 0)
    workers = got[("cfg/{env}/app.yaml", "app.workers")]
    assert (workers.kind, workers.environments_present, workers.environments_missing, workers.values_by_env) == (
        "differs", ["dev", "staging", "prod"], [], {"dev": "2", "staging": "4", "prod": "4"})
    origins = got[("cfg/{env}/app.yaml", "app.origins")]
    assert origins.kind == "differs" and origins.values_by_env == {"dev": "[a, b]", "staging": "[a, b]", "prod": "[a]"}
    extra = got[("cfg/{env}/app.yaml", "app.extra")]
    assert (extra.kind, extra.environments_missing, extra.values_by_env) == (
        "missing", ["dev", "staging"], {"prod": "{}"})
    password = got[("cfg/{env}/app.yaml", "db.password")]
    assert password.kind == "differs"
    assert password.values_by_env == {e: f"<{keyed('string', pw)}>" for e, pw in
                                      (("dev", "dev-pw"), ("staging", "dev-pw"), ("prod", "prod-pw"))}
    assert_not_leaked(drift, "dev-pw", "prod-pw")
    payments = got[("cfg/{env}/payments.yaml", None)]
    assert tuple(payments) == ("cfg/{env}/payments.yaml", None, "missing", ["prod"], ["dev", "staging"], {}, None)


def test_drift_by_name_multi_doc_and_unparsed_files():
    files = {
        "k8s/app.dev.yaml": keys_of("k8s/app.dev.yaml", "kind: A\nn: 1\n---\nkind: B\nm: 1\n"),
        "k8s/app.prod.yaml": keys_of("k8s/app.prod.yaml", "kind: A\nn: 1\n---\nkind: B\nm: 2\n"),
        "k8s/app.staging.yaml": None,          # present but did not parse
        "k8s/db.dev.yaml": keys_of("k8s/db.dev.yaml", "a: 1\n"),
    }
    drift = compute_drift(files)
    assert [tuple(r) for r in drift] == [
        ("k8s/app.{env}.yaml", "m", "differs", ["dev", "prod"], [], {"dev": "1", "prod": "2"}, 1),
    ]


def test_drift_same_display_different_values_shows_fingerprints():
    a, b = "x" * 100 + "A", "x" * 100 + "B"
    files = {"c/dev/a.yaml": keys_of("c/dev/a.yaml", f"k: {a}\n"),
             "c/prod/a.yaml": keys_of("c/prod/a.yaml", f"k: {b}\n")}
    (row,) = compute_drift(files)
    assert row.kind == "differs"
    assert row.values_by_env["dev"] != row.values_by_env["prod"]
    assert row.values_by_env["dev"].endswith(f"<{keyed('string', a)}>")


def test_drift_equal_files_have_no_rows():
    text = "a: 1\nb: [1, 2]\nc: {d: e}\n"
    assert compute_drift({"c/dev/a.yaml": keys_of("c/dev/a.yaml", text),
                          "c/prod/a.yaml": keys_of("c/prod/a.yaml", text)}) == []


# ======================================================================================
# the demo estate
# ======================================================================================
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from anfl_assets.domain.demo_estate import write_demo_estate

    base = tmp_path_factory.mktemp("demo")
    truth = write_demo_estate(base)
    root = base / "AeonNovaProject"
    facts = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(root).parts:
            continue
        rel = path.relative_to(root).as_posix()
        fmt = config_format_for(rel, None)
        if fmt:
            facts[rel] = extract_config(rel, path.read_bytes(), fmt, KEY)
    return truth, facts


def _render(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def test_demo_estate_drift_reproduces_ground_truth(demo):
    truth, facts = demo
    keys_by_file = {rel: (f.keys if f.error is None and f.skipped is None else None) for rel, f in facts.items()}
    drift = compute_drift(keys_by_file)
    got = {(r.config_identity, r.key_path): r for r in drift}
    assert truth["config_drift"]
    for entry in truth["config_drift"]:
        identity = f"yaml_configs/{{env}}/{entry['file']}"
        row = got.get((identity, entry["key"]))
        assert row is not None, entry
        assert row.environments_missing == entry["missing_in"], entry
        assert row.kind == ("missing" if entry["missing_in"] else "differs")
        if entry["key"] is None:
            continue
        assert sorted(row.environments_present) == sorted(entry["values"])
        for env, value in entry["values"].items():
            shown = row.values_by_env[env]
            if shown.startswith("<"):                 # secret: only the keyed fingerprint
                assert re.fullmatch(r"<[0-9a-f]{16}>", shown)
                assert _render(value) not in repr(drift)
            else:
                assert shown == _render(value), (entry, env)
    # and nothing about yaml_configs that ground truth does not list
    expected = {(f"yaml_configs/{{env}}/{e['file']}", e["key"]) for e in truth["config_drift"]}
    assert {k for k in got if k[0].startswith("yaml_configs/")} == expected


def test_demo_estate_malformed_and_templated(demo):
    truth, facts = demo
    assert truth["malformed_yaml"] and truth["templated_yaml"]
    for rel in truth["malformed_yaml"]:
        f = facts[rel]
        assert f.error and f.error.startswith("YAMLError line ") and isinstance(f.error_line, int), rel
        assert f.error_line >= 1 and f.skipped is None
    for rel in truth["templated_yaml"]:
        f = facts[rel]
        assert f.skipped and f.error is None and f.keys == [], rel
    others = [rel for rel, f in facts.items() if f.error and rel not in truth["malformed_yaml"]]
    assert others == []


def test_demo_estate_secrets_never_leak(demo):
    truth, facts = demo
    planted = [s["value"] for s in truth["secrets"]]
    blob = repr(facts)
    for value in planted:
        assert value not in blob
        for line in value.splitlines():
            if len(line) > 20:
                assert line not in blob
    secret_paths = {s["path"] for s in truth["secrets"] if s["on_disk"] and s["path"] in facts}
    assert secret_paths
    for rel in secret_paths:
        assert any(r.is_secret_key for r in facts[rel].keys), rel


def test_demo_estate_k8s(demo):
    truth, facts = demo
    objects = [o for f in facts.values() for o in f.k8s]
    kinds = {o.kind for o in objects}
    assert {"Deployment", "CronJob", "DaemonSet", "Secret", "ConfigMap", "Namespace"} <= kinds
    for o in objects:
        if o.kind in ("Deployment", "CronJob", "DaemonSet"):
            assert o.images and all(isinstance(i, str) for i in o.images), o
        if o.kind == "Deployment":
            assert isinstance(o.replicas, int)
