"""sensitive_files: each rule fires on the real thing and stays quiet on its look-alike."""

from __future__ import annotations

import base64
import json
import os
import random
import struct
from pathlib import Path

import pytest

from anfl_assets.domain.demo_estate import ROOT_NAME, write_demo_estate
from anfl_assets.domain.security import SEVERITIES, RiskFinding
from anfl_assets.domain.security.sensitive_files import RULES, RULESET_VERSION, scan_sensitive_file

RNG = random.Random(1234)


def _b64(n: int) -> str:
    return base64.b64encode(bytes(RNG.randrange(256) for _ in range(n))).decode()


def _pem(label: str, body_bytes: int = 600, extra: str = "") -> str:
    body = _b64(body_bytes)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n{extra}" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _openssh(cipher: bytes) -> str:
    raw = b"openssh-key-v1\x00" + struct.pack(">I", len(cipher)) + cipher + bytes(RNG.randrange(256) for _ in range(300))
    body = base64.b64encode(raw).decode()
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body[i:i + 70] for i in range(0, len(body), 70)) + \
        "\n-----END OPENSSH PRIVATE KEY-----\n"


RSA_KEY = _pem("RSA PRIVATE KEY")
PKCS8_KEY = _pem("PRIVATE KEY")
ENC_PKCS8 = _pem("ENCRYPTED PRIVATE KEY")
LEGACY_ENC = _pem("RSA PRIVATE KEY", extra="Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF\n\n")
CERT = _pem("CERTIFICATE")
FAKE_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY9z"
FAKE_NPM = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
FAKE_STRIPE = "sk_live_" + "51HxQzR4b9Yc2Kt7Wm3Np8Lq"


def scan(path: str, content: bytes | str, size: int | None = None) -> list[RiskFinding]:
    data = content.encode() if isinstance(content, str) else content
    out = scan_sensitive_file(path, data[:65536], len(data) if size is None else size)
    for f in out:
        assert f.rule in RULES
        assert f.severity in SEVERITIES
        assert f.title == RULES[f.rule][0]
        assert f.line is None or f.line >= 1
    # the pipeline identifies a finding by (rule, path, resource): one per rule and file
    assert len({f.rule for f in out}) == len(out)
    return out


def rules_of(path: str, content: bytes | str, size: int | None = None) -> list[str]:
    return [f.rule for f in scan(path, content, size)]


def test_module_metadata():
    assert RULESET_VERSION
    assert len(RULES) >= 15
    for rid, (title, severity) in RULES.items():
        assert rid.startswith("sensitive-file-")
        assert title and severity in ("critical", "high")


# --------------------------------------------------------------------------------------
# per-rule: fires / similar safe case stays quiet
# --------------------------------------------------------------------------------------
POSITIVE = [
    # private keys
    ("sensitive-file-private-key", "infrastructure/certs/deploy_key.pem", RSA_KEY),
    ("sensitive-file-private-key", "home/.ssh/id_rsa", RSA_KEY),
    ("sensitive-file-private-key", "keys/server.key", PKCS8_KEY),
    ("sensitive-file-private-key", "deploy/deploy_key", PKCS8_KEY),            # key material by content
    ("sensitive-file-private-key", "id_ed25519", _openssh(b"none")),
    ("sensitive-file-private-key", "bundle.pem", CERT + RSA_KEY),               # cert + key bundle
    ("sensitive-file-private-key", "key.ppk",
     "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\nPublic-Lines: 2\nAAAA\n"),
    ("sensitive-file-private-key", "secring.asc", _pem("PGP PRIVATE KEY BLOCK")),
    ("sensitive-file-encrypted-private-key", "keys/server.key", ENC_PKCS8),
    ("sensitive-file-encrypted-private-key", "keys/legacy.pem", LEGACY_ENC),
    ("sensitive-file-encrypted-private-key", ".ssh/id_ed25519", _openssh(b"aes256-ctr")),
    # keystores
    ("sensitive-file-keystore", "android/release.keystore", b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x01" * 100),
    ("sensitive-file-keystore", "certs/client.p12", b"\x30\x82\x0a\x1b\x02\x01\x03" + b"\x00" * 100),
    ("sensitive-file-keystore", "certs/client.pfx", b"\x30\x82\x0a\x1b\x02\x01\x03" + b"\x00" * 100),
    ("sensitive-file-keystore", "server.jceks", b"\xce\xce\xce\xce\x00\x00\x00\x02" + b"\x00" * 40),
    # .env files
    ("sensitive-file-env", "yaml_configs/.env", f"# local\nDATABASE_URL=postgresql://localhost/x\n"
                                                f"STRIPE_SECRET_KEY={FAKE_STRIPE}\nLOG_LEVEL=debug\n"),
    ("sensitive-file-env", "svc/.env.production", "DB_PASSWORD='s3cr3t-Pa55'\n"),
    ("sensitive-file-env", "config/prod.env", "export API_TOKEN=\"tok_9f8e7d6c5b4a\"\n"),
    ("sensitive-file-env", ".env.bak", "DATABASE_URL=postgres://app:hunter2pw@db:5432/app\n"),
    # kubeconfig
    ("sensitive-file-kubeconfig", ".kube/config",
     "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: https://k8s.example}\n"
     "users:\n- name: admin\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.payload.sig\n"),
    ("sensitive-file-kubeconfig", "ops/prod.kubeconfig",
     "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
     "    client-certificate-data: LS0tLS1CRUdJTg==\n    client-key-data: LS0tLS1CRUdJTiBSU0E=\n"),
    # cloud credentials
    ("sensitive-file-gcp-credentials", "credentials.json", json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "abc",
        "private_key": PKCS8_KEY, "client_email": "sa@p.iam.gserviceaccount.com"}, indent=2)),
    ("sensitive-file-gcp-credentials", "gcloud/application_default_credentials.json", json.dumps({
        "type": "authorized_user", "client_id": "x.apps.googleusercontent.com", "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0gLxyzREFRESH"}, indent=2)),
    ("sensitive-file-oauth-client-secret", "client_secret_123.json", json.dumps({
        "installed": {"client_id": "x.apps.googleusercontent.com", "client_secret": "GOCSPX-abcdEFGHijklMNOP"}})),
    # registries
    ("sensitive-file-npmrc", ".npmrc",
     f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={FAKE_NPM}\n"),
    ("sensitive-file-npmrc", "frontend/.yarnrc.yml", f"npmAuthToken: {FAKE_NPM}\n"),
    ("sensitive-file-pypirc", ".pypirc", "[distutils]\nindex-servers = pypi\n[pypi]\nusername = __token__\n"
                                         "password = pypi-AgEIcHlwaS5vcmcCJDAwMDAw\n"),
    ("sensitive-file-pypirc", "pip.conf", "[global]\nindex-url = https://ci:Sup3rS3cret@pypi.corp.example/simple\n"),
    ("sensitive-file-docker-config", ".docker/config.json",
     json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNzd29yZA=="}}}, indent=2)),
    # state and dumps
    ("sensitive-file-terraform-state", "infra/terraform.tfstate",
     json.dumps({"version": 4, "terraform_version": "1.6.0", "serial": 3, "lineage": "x", "resources": []}, indent=2)),
    ("sensitive-file-terraform-state", "infra/terraform.tfstate.backup",
     json.dumps({"version": 4, "terraform_version": "1.6.0", "serial": 2, "lineage": "x"})),
    ("sensitive-file-database-dump", "backups/app.sql",
     "--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.5\nSET statement_timeout = 0;\n"),
    ("sensitive-file-database-dump", "dump.sql", "-- MySQL dump 10.13  Distrib 8.0.35, for Linux (x86_64)\n--\n"),
    ("sensitive-file-database-dump", "db/prod.dump", b"PGDMP\x01\x0e\x00\x04\x08\x01\x01" + b"\x00" * 64),
    ("sensitive-file-database-dump", "backups/prod-2024-01-01.sql.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 64),
    ("sensitive-file-database-dump", "cache/dump.rdb", b"REDIS0011\xfa\tredis-ver" + b"\x00" * 20),
    ("sensitive-file-sqlite-database", "data/prod.sqlite3", b"SQLite format 3\x00" + b"\x10\x00" * 50),
    ("sensitive-file-sqlite-database", "exports/customers.db", b"SQLite format 3\x00" + b"\x10\x00" * 50),
    # password files
    ("sensitive-file-htpasswd", "nginx/.htpasswd", "admin:$apr1$ZjTqBB3f$IF9gdYAGlMrs2fuINjHsz.\n"),
    ("sensitive-file-aws-credentials", ".aws/credentials",
     f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {FAKE_AWS_SECRET}\n"),
    ("sensitive-file-aws-credentials", "ci/aws_creds.ini",
     f"[deploy]\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key={FAKE_AWS_SECRET}\n"),
    ("sensitive-file-git-credentials", ".git-credentials",
     "https://bot:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com\n"),
    ("sensitive-file-netrc", ".netrc", "machine api.example.com\n  login bot\n  password Tr0ub4dor&3\n"),
    ("sensitive-file-pgpass", ".pgpass", "# host:port:db:user:password\ndb.internal:5432:app:app:pg-Pa55w0rd\n"),
    ("sensitive-file-rails-master-key", "config/master.key", "0123456789abcdef0123456789abcdef\n"),
    ("sensitive-file-rails-master-key", "config/credentials/production.key", "fedcba9876543210fedcba9876543210"),
]

NEGATIVE = [
    # certificates, public keys and keys quoted in code are not key files
    ("sensitive-file-private-key", "certs/server.pem", CERT),
    ("sensitive-file-private-key", ".ssh/id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ me@host\n"),
    ("sensitive-file-private-key", "src/crypto_test.py", f'KEY = """\n{RSA_KEY}"""\n'),
    ("sensitive-file-private-key", "docs/howto.md", f"Paste your key:\n\n{RSA_KEY}"),
    ("sensitive-file-private-key", "id_rsa", "placeholder: put your key here\n"),
    ("sensitive-file-encrypted-private-key", "keys/server.key", PKCS8_KEY),
    ("sensitive-file-private-key", "id_ed25519", _openssh(b"aes256-ctr")),
    ("sensitive-file-keystore", "android/debug.keystore", b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x01" * 100),
    ("sensitive-file-keystore", "notes.keystore", "this is a text note about the keystore\n"),
    ("sensitive-file-keystore", "app/truststore.txt", b"\xfe\xed\xfe\xed"),
    # example / placeholder .env files
    ("sensitive-file-env", "yaml_configs/.env.example", f"STRIPE_SECRET_KEY={FAKE_STRIPE}\n"),
    ("sensitive-file-env", ".env.template", "DB_PASSWORD=s3cr3t-Pa55\n"),
    ("sensitive-file-env", "app.sample.env", "DB_PASSWORD=s3cr3t-Pa55\n"),
    ("sensitive-file-env", ".env", "DB_PASSWORD=\nAPI_TOKEN=changeme\nSECRET_KEY=<your-secret>\nJWT_SECRET=${JWT}\n"
                                   "LOG_LEVEL=debug\nDATABASE_URL=postgresql://localhost:5432/app\n"),
    ("sensitive-file-env", ".env", "# only comments\n# DB_PASSWORD=s3cr3t-Pa55\n"),
    ("sensitive-file-env", "settings.environment", "DB_PASSWORD=s3cr3t-Pa55\n"),
    # kubeconfig without embedded credentials
    ("sensitive-file-kubeconfig", ".kube/config",
     "apiVersion: v1\nkind: Config\nusers:\n- name: eks\n  user:\n    exec:\n"
     "      apiVersion: client.authentication.k8s.io/v1beta1\n"
     "      command: aws\n      args: [eks, get-token, --cluster-name, prod]\n"),
    ("sensitive-file-kubeconfig", "k8s/cm.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  token: abc\n"),
    # credentials.json look-alikes
    ("sensitive-file-gcp-credentials", "credentials.json", json.dumps({
        "type": "external_account", "audience": "//iam.googleapis.com/x", "credential_source": {"file": "/var/t"}})),
    ("sensitive-file-gcp-credentials", "fixtures/service_account.json", json.dumps({
        "type": "service_account", "private_key": "REPLACE_ME", "client_email": "x"})),
    ("sensitive-file-oauth-client-secret", "client_secret.json",
     json.dumps({"web": {"client_id": "x", "client_secret": "<your-client-secret>"}})),
    # registry configs without literal credentials
    ("sensitive-file-npmrc", ".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nsave-exact=true\n"),
    ("sensitive-file-npmrc", ".yarnrc.yml", "npmAuthToken: \"${NPM_TOKEN}\"\nnodeLinker: node-modules\n"),
    ("sensitive-file-pypirc", ".pypirc", "[pypi]\nusername = __token__\n"),
    ("sensitive-file-pypirc", "pip.conf", "[global]\nindex-url = https://pypi.corp.example/simple\n"),
    ("sensitive-file-docker-config", ".docker/config.json", json.dumps({"credsStore": "desktop", "auths": {"x": {}}})),
    ("sensitive-file-docker-config", "app/config.json", json.dumps({"auths": {"x": {"auth": "abc"}}})),
    # not state, not dumps
    ("sensitive-file-terraform-state", "docs/terraform.tfstate", "see the remote backend\n"),
    ("sensitive-file-terraform-state", "infra/main.tf", 'resource "x" "y" {}\n'),
    ("sensitive-file-database-dump", "db/migrations/0001_init.sql", "CREATE TABLE users (id serial primary key);\n"),
    ("sensitive-file-database-dump", "db/schema.sql.gz.md", "notes about dumps\n"),
    ("sensitive-file-database-dump", "notes/how-to.dump", "a text file named .dump\n"),
    ("sensitive-file-sqlite-database", "tests/fixtures/dev.sqlite3", b"SQLite format 3\x00" + b"\x10\x00" * 50),
    ("sensitive-file-sqlite-database", "data/prod.sqlite3", b"not really sqlite"),
    # password file look-alikes
    ("sensitive-file-htpasswd", "nginx/.htpasswd", "# generate with htpasswd -c\n"),
    ("sensitive-file-aws-credentials", ".aws/credentials",
     "[default]\naws_access_key_id = AKIA...\naws_secret_access_key = <your secret>\n"),
    ("sensitive-file-aws-credentials", "deploy.py", f"[x]\naws_secret_access_key = {FAKE_AWS_SECRET}\n"),
    ("sensitive-file-aws-credentials", ".aws/config", "[default]\nregion = eu-west-1\noutput = json\n"),
    ("sensitive-file-git-credentials", ".git-credentials", "https://github.com\n"),
    ("sensitive-file-netrc", ".netrc", "machine api.example.com login bot password changeme\n"),
    ("sensitive-file-pgpass", ".pgpass", "# host:port:db:user:password\ndb.internal:5432:app:app:\n"),
    ("sensitive-file-rails-master-key", "config/master.key", "not a key\n"),
    ("sensitive-file-rails-master-key", "keys/other.key", "0123456789abcdef0123456789abcdef\n"),
]


@pytest.mark.parametrize("rule, path, content", POSITIVE, ids=[f"{r}:{p}" for r, p, _ in POSITIVE])
def test_rule_fires(rule, path, content):
    found = scan(path, content)
    assert rule in [f.rule for f in found], found
    for f in found:
        # whole-file findings never carry a secret value
        for needle in (FAKE_AWS_SECRET, FAKE_NPM, FAKE_STRIPE, "s3cr3t", "hunter2", "Tr0ub4dor", "pg-Pa55w0rd",
                       "0123456789abcdef", "GOCSPX", "dXNlcjpwYXNzd29yZA", "Sup3rS3cret"):
            assert needle not in f.message


@pytest.mark.parametrize("rule, path, content", NEGATIVE, ids=[f"{r}:{p}" for r, p, _ in NEGATIVE])
def test_similar_safe_case_is_quiet(rule, path, content):
    assert rule not in rules_of(path, content)


def test_every_rule_has_a_positive_and_a_negative_case():
    assert {r for r, _, _ in POSITIVE} == set(RULES)
    assert {r for r, _, _ in NEGATIVE} == set(RULES)


# --------------------------------------------------------------------------------------
# details: lines, severities, names without content
# --------------------------------------------------------------------------------------
def test_lines_point_at_the_evidence():
    (f,) = scan("bundle.pem", CERT + RSA_KEY)
    assert f.line == CERT.count("\n") + 1
    (f,) = scan("yaml_configs/.env", f"# x\nDATABASE_URL=postgresql://localhost/x\nSTRIPE_SECRET_KEY={FAKE_STRIPE}\n")
    assert f.line == 3 and "STRIPE_SECRET_KEY" in f.message
    (f,) = scan(".aws/credentials", f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                                    f"aws_secret_access_key = {FAKE_AWS_SECRET}\n")
    assert f.line == 3
    (f,) = scan("db/prod.dump", b"PGDMP\x01\x0e")
    assert f.line is None


def test_severities():
    assert scan("k.pem", RSA_KEY)[0].severity == "critical"
    assert scan("k.pem", ENC_PKCS8)[0].severity == "high"
    assert scan("x.tfstate", json.dumps({"terraform_version": "1.6.0"}))[0].severity == "critical"
    assert scan(".env", "DB_PASSWORD=s3cr3t-Pa55\n")[0].severity == "high"


def test_names_alone_when_content_could_not_be_read():
    # head empty, size > 0: the caller could not read the file
    assert rules_of("home/.ssh/id_rsa", b"", size=1679) == ["sensitive-file-private-key"]
    assert scan("home/.ssh/id_rsa", b"", size=1679)[0].severity == "high"
    assert rules_of("infra/terraform.tfstate", b"", size=50_000) == ["sensitive-file-terraform-state"]
    assert rules_of("release.jks", b"", size=2048) == ["sensitive-file-keystore"]
    assert rules_of("backups/x.sql.gz", b"", size=10_000) == ["sensitive-file-database-dump"]
    assert rules_of(".htpasswd", b"", size=40) == ["sensitive-file-htpasswd"]
    # an empty file is nothing
    assert rules_of("home/.ssh/id_rsa", b"", size=0) == []
    assert rules_of(".env", b"", size=0) == []
    # an unreadable file with an ordinary name is nothing
    assert rules_of("src/main.py", b"", size=100) == []


def test_env_lists_keys_not_values():
    text = "".join(f"SERVICE_{i}_PASSWORD=pw-{i}-Secret!\n" for i in range(8))
    (f,) = scan(".env.local", text)
    assert "SERVICE_0_PASSWORD" in f.message and "and 3 more" in f.message
    assert "Secret!" not in f.message


def test_gcp_key_line():
    text = json.dumps({"type": "service_account", "project_id": "p", "private_key": PKCS8_KEY}, indent=2)
    (f,) = scan("sa-key.json", text)
    assert f.rule == "sensitive-file-gcp-credentials"
    assert f.line == 4


# --------------------------------------------------------------------------------------
# malformed input never raises
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, content, size", [
    ("", b"", 0),
    ("/", b"x", 1),
    (".env", b"\xff\xfe\x00garbage\x00", 8),
    (".env", b"=\n==\nexport\n'unterminated=\"", 30),
    (".kube/config", b"apiVersion: v1\nkind: Config\nusers: [\n  - {", 40),
    (".kube/config", b"kind: Config\nusers:\n" + b"  " * 5000 + b"- a", 10_100),
    ("credentials.json", b'{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY', 70),
    ("credentials.json", b"[" * 10_000, 10_000),
    ("id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!notbase64!!!!\n", 60),
    ("id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"A" * 100 + b"\n", 150),
    ("x.tfstate", b"\x00\x01\x02", 3),
    ("x.p12", b"\x30", 1),
    ("a.sql", b"-- PostgreSQL database dump" + b"\xff" * 10, 40),
    (".pgpass", b"::::\n\\:\\:\n", 10),
    ("weird\\path\\.env", "DB_PASSWORD=s3cr3t-Pa55\n".encode(), 25),
])
def test_malformed_input_never_raises(path, content, size):
    out = scan_sensitive_file(path, content, size)
    assert isinstance(out, list)


def test_bad_argument_types_never_raise():
    assert scan_sensitive_file(None, None, None) == []          # type: ignore[arg-type]
    assert isinstance(scan_sensitive_file("x.pem", bytearray(RSA_KEY.encode()), "12"), list)  # type: ignore[arg-type]


def test_only_the_first_64k_are_read():
    text = "LOG_LEVEL=debug\n" * 5000 + "DB_PASSWORD=s3cr3t-Pa55\n"     # the secret lies past 64 KiB
    assert len(text.encode()) > 65536
    assert scan(".env", text) == []


# --------------------------------------------------------------------------------------
# the sample estate
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    out = tmp_path_factory.mktemp("estate")
    truth = write_demo_estate(out, seed=7)
    return out / ROOT_NAME, truth


def test_sample_estate(estate):
    root, _ = estate
    found: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            data = p.read_bytes()
            rel = p.relative_to(root).as_posix()
            hits = scan_sensitive_file(rel, data[:65536], len(data))
            if hits:
                found[rel] = [f.rule for f in hits]
    assert found == {
        "infrastructure/certs/deploy_key.pem": ["sensitive-file-private-key"],
        "yaml_configs/.env": ["sensitive-file-env"],
    }
    (env,) = scan_sensitive_file("yaml_configs/.env", (root / "yaml_configs/.env").read_bytes(), 1)
    assert env.line == 3 and "STRIPE_SECRET_KEY" in env.message
