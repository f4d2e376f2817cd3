"""A labelled secret-detection corpus, built programmatically from a seed.

True secrets are generated in each provider's real format (prefix, length, alphabet and, where
the format has one, a valid checksum: CRC32/base62 for GitHub and npm, CRC32 hex for Grafana
and Atlassian, bech32 for age, macaroon structure for PyPI, DER/OpenSSH structure for private
keys) and planted in realistic files: Python settings, .env, YAML, Kubernetes manifests, JSON,
Terraform, shell, Go, TypeScript, Java properties, notebooks, Markdown, a zip, a tar.gz and
base64-wrapped blobs. Every planted secret is labelled (path, member, line, family).

Hard negatives, labelled by family, are the look-alikes a scanner must leave alone: documented
example keys, bad checksums, placeholders and references, UUIDs, git SHAs, lockfile integrity
hashes, base64 images, public keys and certificates, Terraform references, marked test
fixtures and ordinary code that talks about tokens and passwords.

Nothing here is a real credential: every value is random output of `random.Random(seed)`.
`python -m anfl_assets_tests.domain.security.secret_corpus DIR` writes the corpus to DIR
(with labels.json) for other tools.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import random
import string
import struct
import sys
import tarfile
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
SSH_RSA = b"\x00\x00\x00\x07ssh-rsa"
SSH_ED25519 = b"\x00\x00\x00\x0bssh-ed25519"
SSH_ECDSA = b"\x00\x00\x00\x13ecdsa-sha2-nistp256"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Label:
    path: str
    line: int
    family: str
    member: str | None = None
    note: str = ""


@dataclass
class Corpus:
    files: dict[str, bytes] = field(default_factory=dict)
    positives: list[Label] = field(default_factory=list)
    negatives: list[Label] = field(default_factory=list)

    def write(self, root: Path) -> None:
        for rel, data in self.files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)

    def labels_json(self) -> str:
        return json.dumps({"positives": [asdict(x) for x in self.positives],
                           "negatives": [asdict(x) for x in self.negatives]}, indent=1)


# --------------------------------------------------------------------------------------
# token generators (valid formats)
# --------------------------------------------------------------------------------------
class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        while True:
            out = "".join(self.r.choice(alphabet) for _ in range(n))
            # random strings that read like a placeholder would be unfair labels
            low = out.lower()
            if not any(w in low for w in ("xxxx", "fake", "test", "dummy", "example", "sample", "mock", "todo",
                                           "your", "lorem", "stub")):
                return out

    def b(self, n: int) -> bytes:
        return bytes(self.r.randrange(256) for _ in range(n))

    def strong(self, n: int = 20) -> str:
        """A random password with lower, upper, digit and a symbol."""
        while True:
            v = self.s(ALNUM + "!#%+=?^_-", n)
            if (any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v)
                    and any(c in "!#%+=?^" for c in v) and v[0].isalnum()):
                return v

    @staticmethod
    def base62(n: int, width: int = 6) -> str:
        out = ""
        while n:
            n, r = divmod(n, 62)
            out = BASE62[r] + out
        return out.rjust(width, "0")

    def github(self, prefix: str = "ghp_") -> str:
        body = self.s(ALNUM, 30)
        return prefix + body + self.base62(zlib.crc32(body.encode()))

    def github_bad(self, prefix: str = "ghp_") -> str:
        tok = self.github(prefix)
        last = tok[-1]
        return tok[:-1] + ("A" if last != "A" else "B")

    def github_pat(self) -> str:
        return "github_pat_" + self.s(ALNUM, 22) + "_" + self.s(ALNUM, 59)

    def npm(self) -> str:
        return self.github("npm_")

    def aws_id(self) -> str:
        return "AKIA" + self.s(BASE32, 16)

    def aws_secret(self) -> str:
        while True:
            v = self.s(B64, 40)
            if any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v):
                return v

    def gitlab(self) -> str:
        return "glpat-" + self.s(URLSAFE, 20)

    def slack_bot(self) -> str:
        return f"xoxb-{self.s(string.digits, 11)}-{self.s(string.digits, 13)}-{self.s(ALNUM, 24)}"

    def slack_user(self) -> str:
        return f"xoxp-{self.s(string.digits, 11)}-{self.s(string.digits, 11)}-{self.s(string.digits, 12)}-{self.s(HEX, 32)}"

    def slack_app(self) -> str:
        return f"xapp-1-A{self.s(UPPER_ALNUM, 10)}-{self.s(string.digits, 13)}-{self.s(HEX, 64)}"

    def slack_webhook(self) -> str:
        return (f"https://hooks.slack.com/services/T{self.s(UPPER_ALNUM, 8)}/B{self.s(UPPER_ALNUM, 10)}/"
                f"{self.s(ALNUM, 24)}")

    def stripe(self, kind: str = "sk_live_") -> str:
        return kind + self.s(ALNUM, 24 if kind.startswith("rk") else 99)

    def openai(self) -> str:
        return "sk-proj-" + self.s(URLSAFE, 74) + "T3BlbkFJ" + self.s(URLSAFE, 74)

    def openai_legacy(self) -> str:
        return "sk-" + self.s(ALNUM, 20) + "T3BlbkFJ" + self.s(ALNUM, 20)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.s(URLSAFE, 93) + "AA"

    def twilio_sk(self) -> str:
        return "SK" + self.s(HEX, 32)

    def sendgrid(self) -> str:
        return "SG." + self.s(URLSAFE, 22) + "." + self.s(URLSAFE, 43)

    def pypi(self) -> str:
        ident = json.dumps({"version": 1, "nonce": self.s(HEX, 32)}).encode()
        caveat = json.dumps({"permissions": "user", "version": 1}).encode()
        raw = (b"\x02\x01\x08pypi.org\x02" + bytes([len(ident)]) + ident + b"\x00\x02" + bytes([len(caveat)])
               + caveat + b"\x00\x00\x06\x20" + self.b(32))
        return "pypi-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def hf(self) -> str:
        return "hf_" + self.s(string.ascii_letters, 34)

    def docker(self) -> str:
        return "dckr_pat_" + self.s(URLSAFE, 27)

    def shopify(self) -> str:
        return "shpat_" + self.s(HEX, 32)

    def mailgun(self) -> str:
        return "key-" + self.s(HEX, 32)

    def mailchimp(self) -> str:
        return self.s(HEX, 32) + "-us" + str(self.r.randint(1, 21))

    def newrelic(self) -> str:
        return "NRAK-" + self.s(UPPER_ALNUM, 27)

    def newrelic_license(self) -> str:
        return self.s(HEX, 36) + "NRAL"

    def atlassian(self) -> str:
        payload = "ATATT3xFfGF0" + self.s(URLSAFE, 170) + "="
        return payload + format(zlib.crc32(payload.encode()), "08X")

    def bitbucket(self) -> str:
        payload = "ATBB" + self.s(ALNUM, 24)
        return payload + format(zlib.crc32(payload.encode()), "08X")

    def digitalocean(self) -> str:
        return "dop_v1_" + self.s(HEX, 64)

    def heroku(self) -> str:
        return "HRKU-AA" + self.s(URLSAFE, 58)

    def square(self) -> str:
        return "sq0atp-" + self.s(URLSAFE, 22)

    def square_secret(self) -> str:
        return "sq0csp-" + self.s(URLSAFE, 43)

    def telegram(self) -> str:
        return f"{self.r.randint(10 ** 9, 7 * 10 ** 9)}:AA{self.s(URLSAFE, 33)}"

    def discord(self) -> str:
        snowflake = str(self.r.randint(10 ** 17, 10 ** 18 * 9))
        head = base64.b64encode(snowflake.encode()).decode().rstrip("=")
        return f"{head}.{self.s(URLSAFE, 6)}.{self.s(URLSAFE, 38)}"

    def discord_webhook(self) -> str:
        return f"https://discord.com/api/webhooks/{self.r.randint(10 ** 17, 10 ** 18)}/{self.s(URLSAFE, 68)}"

    def google_api(self) -> str:
        return "AIza" + self.s(URLSAFE, 35)

    def google_oauth_secret(self) -> str:
        return "GOCSPX-" + self.s(URLSAFE, 28)

    def alibaba_id(self) -> str:
        return "LTAI" + self.s(ALNUM, 20)

    def alibaba_secret(self) -> str:
        return self.s(ALNUM, 30)

    def databricks(self) -> str:
        return "dapi" + self.s(HEX, 32)

    def doppler(self) -> str:
        return "dp.pt." + self.s(ALNUM, 43)

    def vault(self) -> str:
        return "hvs.CAESI" + self.s(URLSAFE, 86)

    def terraform(self) -> str:
        return self.s(ALNUM, 14) + ".atlasv1." + self.s(ALNUM, 67)

    def linear(self) -> str:
        return "lin_api_" + self.s(ALNUM, 40)

    def grafana_sa(self) -> str:
        head = "glsa_" + self.s(ALNUM, 32)
        return head + "_" + zlib.crc32(head.encode()).to_bytes(4, "little").hex()

    def grafana_cloud(self) -> str:
        doc = {"o": str(self.r.randint(100000, 999999)), "n": "stack-" + self.s(string.digits, 6) + "-deploy",
               "k": self.s(ALNUM, 24), "m": {"r": "prod-eu-west-2"}}
        return "glc_" + base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()

    def sentry_user(self) -> str:
        return "sntryu_" + self.s(HEX, 64)

    def sentry_dsn(self) -> str:
        return f"https://{self.s(HEX, 32)}@o{self.r.randint(100000, 999999)}.ingest.sentry.io/{self.r.randint(1000000, 9999999)}"

    def postman(self) -> str:
        return f"PMAK-{self.s(HEX, 24)}-{self.s(HEX, 34)}"

    def pulumi(self) -> str:
        return "pul-" + self.s(HEX, 40)

    def supabase(self) -> str:
        return "sbp_" + self.s(HEX, 40)

    def groq(self) -> str:
        return "gsk_" + self.s(ALNUM, 52)

    def replicate(self) -> str:
        return "r8_" + self.s(ALNUM, 37)

    def jfrog(self) -> str:
        return "AKCp" + self.s(ALNUM, 69)

    def azure_storage_key(self) -> str:
        return base64.b64encode(self.b(64)).decode()

    def azure_sas_sig(self) -> str:
        return base64.b64encode(self.b(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")

    def azure_ad_secret(self) -> str:
        return self.s(ALNUM, 3) + str(self.r.randint(0, 9)) + "Q~" + self.s(ALNUM + "_~.-", 34)

    def age(self) -> str:
        data = [self.r.randrange(32) for _ in range(52)]
        hrp = "age-secret-key-"
        values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6
        gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
        chk = 1
        for v in values:
            top = chk >> 25
            chk = (chk & 0x1FFFFFF) << 5 ^ v
            for i in range(5):
                chk ^= gen[i] if (top >> i) & 1 else 0
        polymod = chk ^ 1
        checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
        return ("AGE-SECRET-KEY-1" + "".join(BECH32[d] for d in data + checksum)).upper()

    def jwt(self) -> str:
        def b64u(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        header = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64u(json.dumps({"sub": self.s(string.digits, 8), "role": self.r.choice(["admin", "svc", "ci"]),
                                   "iat": 1700000000 + self.r.randint(0, 10 ** 7)}).encode())
        return f"{header}.{payload}.{b64u(self.b(32))}"

    def der_body(self, n: int = 1190) -> str:
        """Base64 body of a DER-shaped (SEQUENCE) private key."""
        content = b"\x02\x01\x00" + self.b(n)
        der = b"\x30\x82" + struct.pack(">H", len(content)) + content
        return base64.b64encode(der).decode()

    def pem(self, label: str = "RSA PRIVATE KEY") -> str:
        body = self.der_body()
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"

    def openssh_key(self) -> str:
        raw = (b"openssh-key-v1\x00" + b"\x00\x00\x00\x04none" + b"\x00\x00\x00\x04none" + b"\x00\x00\x00\x00"
               + b"\x00\x00\x00\x01" + self.b(400))
        body = base64.b64encode(raw).decode()
        lines = "\n".join(body[i:i + 70] for i in range(0, len(body), 70))
        return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{lines}\n-----END OPENSSH PRIVATE KEY-----\n"

    def uuid(self) -> str:
        h = self.s(HEX, 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def sha(self) -> str:
        return hashlib.sha1(self.b(16)).hexdigest()


# --------------------------------------------------------------------------------------
# file builder
# --------------------------------------------------------------------------------------
class FileBuilder:
    """Lines of one file with labels recorded as they are written."""

    def __init__(self, corpus: Corpus, path: str, member: str | None = None):
        self.corpus, self.path, self.member = corpus, path, member
        self.lines: list[str] = []
        self.pos: list[Label] = []
        self.neg: list[Label] = []

    def add(self, *lines: str) -> FileBuilder:
        for chunk in lines:
            self.lines.extend(chunk.split("\n"))
        return self

    def secret(self, line: str, family: str, note: str = "") -> FileBuilder:
        """`line` holds one true secret of `family` on its first physical line."""
        self.pos.append(Label(self.path, len(self.lines) + 1, family, self.member, note))
        return self.add(line)

    def negative(self, line: str, family: str, note: str = "") -> FileBuilder:
        self.neg.append(Label(self.path, len(self.lines) + 1, family, self.member, note))
        return self.add(line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def done(self) -> None:
        self.corpus.files[self.path] = self.text().encode("utf-8")
        self.corpus.positives.extend(self.pos)
        self.corpus.negatives.extend(self.neg)


PY_FILLER = '''import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)
BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = ["api.aeonnova.internal", "localhost"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "billing"]
TIME_ZONE = "UTC"'''

JS_FILLER = '''import axios from "axios";
import { logger } from "./logger";

export const API_BASE = "https://api.aeonnova.internal/v2";
export const TIMEOUT_MS = 15_000;'''

GO_FILLER = '''package main

import (
\t"context"
\t"log"
\t"net/http"
)

const apiBase = "https://api.aeonnova.internal/v2"'''


# --------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------
def build_corpus(seed: int = 20240611) -> Corpus:
    g = Gen(seed)
    c = Corpus()
    _python_settings(c, g)
    _dotenv_files(c, g)
    _yaml_configs(c, g)
    _kubernetes(c, g)
    _json_files(c, g)
    _terraform(c, g)
    _shell(c, g)
    _source_code(c, g)
    _markdown(c, g)
    _private_keys(c, g)
    _notebooks(c, g)
    _archives(c, g)
    _base64_wrapped(c, g)
    _fixtures(c, g)
    _negatives(c, g)
    return c


def _python_settings(c: Corpus, g: Gen) -> None:
    for i, svc in enumerate(("billing", "search", "ingest", "reports", "auth", "notify")):
        f = FileBuilder(c, f"services/{svc}/{svc}/settings.py")
        f.add(f'"""Django settings for {svc}."""', PY_FILLER)
        f.secret(f'SECRET_KEY = "{g.strong(50)}"', "generic")
        f.add("DATABASES = {", '    "default": {', '        "ENGINE": "django.db.backends.postgresql",',
              f'        "NAME": "{svc}",', f'        "USER": "{svc}_app",')
        f.secret(f'        "PASSWORD": "{g.strong(24)}",', "generic")
        f.add('        "HOST": "db.internal",', "    }", "}")
        f.add('CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache"}}')
        f.secret(f'AWS_ACCESS_KEY_ID = "{g.aws_id()}"', "aws")
        f.secret(f'AWS_SECRET_ACCESS_KEY = "{g.aws_secret()}"', "aws")
        extras = [
            (lambda: f'STRIPE_SECRET_KEY = "{g.stripe()}"', "stripe"),
            (lambda: f'SENDGRID_API_KEY = "{g.sendgrid()}"', "sendgrid"),
            (lambda: f'SENTRY_DSN = "{g.sentry_dsn()}"', "sentry"),
            (lambda: f'OPENAI_API_KEY = "{g.openai()}"', "openai"),
            (lambda: f'ANTHROPIC_API_KEY = "{g.anthropic()}"', "anthropic"),
            (lambda: f'MAILGUN_API_KEY = "{g.mailgun()}"', "mailgun"),
            (lambda: f'SLACK_WEBHOOK_URL = "{g.slack_webhook()}"', "slack"),
            (lambda: f'HF_TOKEN = "{g.hf()}"', "huggingface"),
            (lambda: f'DATABASE_URL = "postgresql://{svc}_rw:{g.strong(18)}@pg-primary.internal:5432/{svc}"', "database"),
            (lambda: f'REDIS_URL = "redis://:{g.s(ALNUM, 26)}@cache.internal:6379/0"', "database"),
            (lambda: f'GROQ_API_KEY = "{g.groq()}"', "groq"),
            (lambda: f'REPLICATE_API_TOKEN = "{g.replicate()}"', "replicate"),
        ]
        for k in range(4):
            make, fam = extras[(i * 4 + k) % len(extras)]
            f.secret(make(), fam)
        f.add('LOGGING = {"version": 1, "disable_existing_loggers": False}', 'STATIC_URL = "/static/"')
        f.done()


def _dotenv_files(c: Corpus, g: Gen) -> None:
    makers = [
        ("GITHUB_TOKEN", g.github, "github"), ("GH_OAUTH_TOKEN", lambda: g.github("gho_"), "github"),
        ("GITHUB_APP_TOKEN", lambda: g.github("ghs_"), "github"), ("GH_USER_TOKEN", lambda: g.github("ghu_"), "github"),
        ("GITHUB_FINE_GRAINED", g.github_pat, "github"), ("GITLAB_TOKEN", g.gitlab, "gitlab"),
        ("SLACK_BOT_TOKEN", g.slack_bot, "slack"), ("SLACK_USER_TOKEN", g.slack_user, "slack"),
        ("SLACK_APP_TOKEN", g.slack_app, "slack"), ("STRIPE_RESTRICTED_KEY", lambda: g.stripe("rk_live_"), "stripe"),
        ("OPENAI_API_KEY", g.openai_legacy, "openai"), ("NPM_TOKEN", g.npm, "npm"), ("PYPI_TOKEN", g.pypi, "pypi"),
        ("HUGGING_FACE_HUB_TOKEN", g.hf, "huggingface"), ("DOCKERHUB_TOKEN", g.docker, "docker"),
        ("SHOPIFY_ACCESS_TOKEN", g.shopify, "shopify"), ("MAILCHIMP_API_KEY", g.mailchimp, "mailchimp"),
        ("NEW_RELIC_API_KEY", g.newrelic, "newrelic"), ("NEW_RELIC_LICENSE_KEY", g.newrelic_license, "newrelic"),
        ("ATLASSIAN_API_TOKEN", g.atlassian, "atlassian"), ("BITBUCKET_APP_PASSWORD", g.bitbucket, "atlassian"),
        ("DIGITALOCEAN_TOKEN", g.digitalocean, "digitalocean"), ("HEROKU_API_KEY", g.heroku, "heroku"),
        ("SQUARE_ACCESS_TOKEN", g.square, "square"), ("TELEGRAM_BOT_TOKEN", g.telegram, "telegram"),
        ("GOOGLE_MAPS_API_KEY", g.google_api, "google"), ("ALIBABA_CLOUD_ACCESS_KEY_ID", g.alibaba_id, "alibaba"),
        ("DATABRICKS_TOKEN", g.databricks, "databricks"), ("DOPPLER_TOKEN", g.doppler, "doppler"),
        ("VAULT_TOKEN", g.vault, "vault"), ("TFE_TOKEN", g.terraform, "terraform"), ("LINEAR_API_KEY", g.linear, "linear"),
        ("GRAFANA_SA_TOKEN", g.grafana_sa, "grafana"), ("GRAFANA_CLOUD_TOKEN", g.grafana_cloud, "grafana"),
        ("SENTRY_AUTH_TOKEN", g.sentry_user, "sentry"), ("POSTMAN_API_KEY", g.postman, "postman"),
        ("PULUMI_ACCESS_TOKEN", g.pulumi, "pulumi"), ("SUPABASE_ACCESS_TOKEN", g.supabase, "supabase"),
        ("JFROG_API_KEY", g.jfrog, "jfrog"), ("GOOGLE_CLIENT_SECRET", g.google_oauth_secret, "google"),
        ("SQUARE_OAUTH_SECRET", g.square_secret, "square"), ("AZURE_CLIENT_SECRET", g.azure_ad_secret, "azure"),
        ("SOPS_AGE_KEY", g.age, "age"), ("ANTHROPIC_API_KEY", g.anthropic, "anthropic"),
        ("SENDGRID_API_KEY", g.sendgrid, "sendgrid"), ("STRIPE_SECRET_KEY", g.stripe, "stripe"),
    ]
    envs = ("production", "staging", "ci")
    per = (len(makers) + len(envs) - 1) // len(envs)
    for e, env in enumerate(envs):
        f = FileBuilder(c, f"deploy/{env}/.env")
        f.add(f"# {env} environment, loaded by docker compose", "APP_ENV=" + env, "LOG_LEVEL=info",
              "PORT=8080", "")
        for name, make, fam in makers[e * per:(e + 1) * per]:
            f.secret(f"{name}={make()}", fam)
        f.add("", "FEATURE_FLAGS=search,billing", "WORKERS=4")
        if env == "production":
            f.secret(f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={g.alibaba_secret()}", "alibaba")
            f.secret(f"DB_PASSWORD={g.strong(22)}", "generic")
            f.secret(f"RABBITMQ_URL=amqps://svc_queue:{g.strong(20)}@mq.internal:5671/prod", "database")
        f.done()


def _yaml_configs(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "config/app.production.yaml")
    f.add("server:", "  port: 8443", "  tls: true", "database:", "  host: pg-primary.internal", "  user: app")
    f.secret(f'  password: "{g.strong(20)}"', "generic")
    f.add("cache:", "  url: redis://cache.internal:6379/0", "integrations:", "  slack:")
    f.secret(f"    bot_token: {g.slack_bot()}", "slack")
    f.add("  github:")
    f.secret(f"    token: {g.github()}", "github")
    f.add("  datadog:")
    f.secret(f"    dd_api_key: {g.s(HEX, 32)}", "datadog")
    f.secret(f"    dd_app_key: {g.s(HEX, 40)}", "datadog")
    f.add("  twilio:", f"    account_sid: AC{g.s(HEX, 32)}")
    f.secret(f"    twilio_auth_token: {g.s(HEX, 32)}", "twilio")
    f.secret(f"    api_key_sid: {g.twilio_sk()}", "twilio")
    f.add("  azure:")
    f.secret(f"    storage: DefaultEndpointsProtocol=https;AccountName=aeonnovadata;AccountKey={g.azure_storage_key()};"
             "EndpointSuffix=core.windows.net", "azure")
    f.secret(f'    sas_url: "https://aeonnovadata.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co&sp=rl'
             f'&se=2031-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig={g.azure_sas_sig()}"', "azure")
    f.add("  mongo:")
    f.secret(f"    uri: mongodb+srv://analytics:{g.strong(16)}@cluster0.ab1cd.mongodb.net/events", "database")
    f.add("  smtp:", "    host: smtp.internal", "    port: 587")
    f.secret(f"    password: '{g.strong(18)}'", "generic")
    f.add("features:", "  - search", "  - export")
    f.done()

    f = FileBuilder(c, "ci/.gitlab-ci.yml")
    f.add("stages: [build, deploy]", "variables:", '  DOCKER_DRIVER: "overlay2"')
    f.secret(f'  REGISTRY_TOKEN: "{g.docker()}"', "docker")
    f.secret(f'  SONAR_TOKEN: "{g.s(HEX, 40)}"', "generic")
    f.add("deploy:", "  stage: deploy", "  script:")
    f.secret(f"    - curl -H 'Authorization: Bearer {g.s(ALNUM, 40)}' https://deploy.internal/api/v1/rollout", "generic")
    f.secret(f"    - export NPM_TOKEN={g.npm()}", "npm")
    f.done()

    f = FileBuilder(c, "helm/api/values-prod.yaml")
    f.add("replicaCount: 3", "image:", "  repository: registry.internal/api", "  tag: 2.4.1", "env:")
    f.secret(f'  SENTRY_DSN: "{g.sentry_dsn()}"', "sentry")
    f.secret(f'  LINEAR_API_KEY: "{g.linear()}"', "linear")
    f.secret(f'  GOOGLE_API_KEY: "{g.google_api()}"', "google")
    f.add("resources:", "  limits:", "    cpu: 500m", "    memory: 512Mi")
    f.done()


def _kubernetes(c: Corpus, g: Gen) -> None:
    for env in ("prod", "staging"):
        f = FileBuilder(c, f"k8s/{env}/db-credentials.yaml")
        f.add("apiVersion: v1", "kind: Secret", "metadata:", "  name: db-credentials", f"  namespace: {env}",
              "type: Opaque", "data:")
        f.negative(f"  username: {base64.b64encode(b'app').decode()}", "k8s-non-secret")
        f.secret(f"  password: {base64.b64encode(g.strong(20).encode()).decode()}", "kubernetes")
        f.secret(f"  github-token: {base64.b64encode(g.github().encode()).decode()}", "github")
        f.done()
    f = FileBuilder(c, "k8s/prod/registry-secret.yaml")
    auth = base64.b64encode(f"deployer:{g.strong(24)}".encode()).decode()
    cfg = json.dumps({"auths": {"registry.internal": {"auth": auth}}})
    f.add("apiVersion: v1", "kind: Secret", "metadata:", "  name: regcred", "type: kubernetes.io/dockerconfigjson",
          "data:")
    f.secret(f"  .dockerconfigjson: {base64.b64encode(cfg.encode()).decode()}", "docker")
    f.done()


def _json_files(c: Corpus, g: Gen) -> None:
    for i in range(3):
        pem = g.pem("PRIVATE KEY")
        doc = {"type": "service_account", "project_id": f"aeonnova-{i}", "private_key_id": g.s(HEX, 40),
               "private_key": pem, "client_email": f"pipeline-{i}@aeonnova-{i}.iam.gserviceaccount.com",
               "client_id": g.s(string.digits, 21), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
               "token_uri": "https://oauth2.googleapis.com/token"}
        text = json.dumps(doc, indent=2) + "\n"
        path = f"credentials/gcp-sa-{i}.json"
        c.files[path] = text.encode()
        line = next(n for n, x in enumerate(text.splitlines(), 1) if '"private_key_id"' in x)
        c.positives.append(Label(path, line, "gcp"))
    auth = base64.b64encode(f"ci-bot:{g.strong(22)}".encode()).decode()
    f = FileBuilder(c, "home/ci/.docker/config.json")
    f.add("{", '  "auths": {', '    "registry.internal:5000": {')
    f.secret(f'      "auth": "{auth}"', "docker")
    f.add("    }", "  },", '  "credsStore": ""', "}")
    f.done()
    f = FileBuilder(c, "home/ci/.m2/settings.xml")
    f.add("<settings>", "  <servers>", "    <server>", "      <id>releases</id>", "      <username>ci</username>")
    f.secret(f"      <password>{g.strong(20)}</password>", "generic")
    f.add("    </server>", "  </servers>", "</settings>")
    f.done()
    f = FileBuilder(c, "home/ci/.netrc")
    f.add("machine api.github.com login ci-bot")
    f.secret(f"  password {g.github()}", "github")
    f.secret(f"machine artifacts.internal login deploy password {g.strong(18)}", "generic")
    f.done()
    f = FileBuilder(c, "web/config/integrations.json")
    f.add("{", '  "analytics": {"enabled": true, "sampleRate": 0.1},')
    f.secret(f'  "mapboxToken": "sk.eyJ1IjoiYWVvbm5vdmEiLCJhIjoi{g.s(URLSAFE, 20)}.{g.s(URLSAFE, 22)}",', "mapbox")
    f.secret(f'  "firebaseServerKey": "AAAA{g.s(URLSAFE, 7)}:APA91b{g.s(URLSAFE, 134)}",', "google")
    f.secret(f'  "perplexityKey": "pplx-{g.s(ALNUM, 48)}",', "perplexity")
    f.secret(f'  "planetscale": "pscale_tkn_{g.s(URLSAFE, 43)}",', "planetscale")
    f.secret(f'  "apiKey": "{g.s(ALNUM, 32)}",', "generic")
    f.add('  "region": "eu-west-1"', "}")
    f.done()


def _terraform(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "infra/prod/providers.tf")
    f.add('terraform {', '  required_version = ">= 1.6"', "}", "", 'provider "aws" {', '  region     = "eu-west-1"')
    f.secret(f'  access_key = "{g.aws_id()}"', "aws")
    f.secret(f'  secret_key = "{g.aws_secret()}"', "aws")
    f.add("}", "", 'provider "digitalocean" {')
    f.secret(f'  token = "{g.digitalocean()}"', "digitalocean")
    f.add("}", "", 'provider "datadog" {')
    f.secret(f'  api_key = "{g.s(HEX, 32)}"', "generic")
    f.add('  app_key = var.datadog_app_key', "}", "", 'provider "heroku" {', '  email   = "ops@aeonnova.example"')
    f.secret(f'  api_key = "{g.heroku()}"', "heroku")
    f.add("}", "", 'provider "github" {', '  owner = "aeonnova"')
    f.secret(f'  token = "{g.github()}"', "github")
    f.add("}", "", 'resource "aws_db_instance" "core" {', '  engine         = "postgres"', '  username       = "core"')
    f.secret(f'  password       = "{g.strong(24)}"', "generic")
    f.add('  instance_class = "db.r6g.large"', "}")
    f.done()
    f = FileBuilder(c, "infra/prod/terraform.tfvars")
    f.add('region = "eu-west-1"', 'env    = "prod"')
    f.secret(f'db_password = "{g.strong(20)}"', "generic")
    f.secret(f'grafana_auth = "{g.grafana_sa()}"', "grafana")
    f.secret(f'databricks_token = "{g.databricks()}"', "databricks")
    f.add('instance_count = 3')
    f.done()


def _shell(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "scripts/deploy.sh")
    f.add("#!/usr/bin/env bash", "set -euo pipefail", 'cd "$(dirname "$0")/.."')
    f.secret(f"export GITHUB_TOKEN={g.github()}", "github")
    f.secret(f"export AWS_ACCESS_KEY_ID={g.aws_id()}", "aws")
    f.secret(f"export AWS_SECRET_ACCESS_KEY={g.aws_secret()}", "aws")
    f.add('echo "deploying $(git rev-parse --short HEAD)"')
    f.secret(f"curl -s -X POST -H 'Content-type: application/json' --data '{{\"text\":\"deployed\"}}' {g.slack_webhook()}",
             "slack")
    f.secret(f'curl -s -H "Authorization: Bearer {g.slack_bot()}" https://slack.com/api/chat.postMessage', "slack")
    f.secret(f"docker login -u deployer -p {g.docker()} registry-1.docker.io", "docker")
    f.secret(f"psql postgresql://migrator:{g.strong(20)}@pg-primary.internal:5432/core -f migrate.sql", "database")
    f.secret(f'curl -H "Authorization: Basic {base64.b64encode(("ops:" + g.strong(18)).encode()).decode()}" '
             "https://jenkins.internal/job/deploy/build", "basic-auth")
    f.secret(f"git clone https://deploy:{g.strong(22)}@git.internal/platform/infra.git", "url-credentials")
    f.secret(f"curl -s -X POST -d '{{\"content\":\"deployed\"}}' {g.discord_webhook()}", "discord")
    f.add('echo done')
    f.done()
    f = FileBuilder(c, "scripts/notify_discord.py")
    f.add('"""Post release notes to the Discord channel."""', "import discord", "", "client = discord.Client()")
    f.secret(f'DISCORD_BOT_TOKEN = "{g.discord()}"', "discord")
    f.add("client.run(DISCORD_BOT_TOKEN)")
    f.done()


def _source_code(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "web/src/config.ts")
    f.add(JS_FILLER)
    f.secret(f'export const STRIPE_KEY = "{g.stripe()}";', "stripe")
    f.secret(f"const shopifyToken = '{g.shopify()}';", "shopify")
    f.secret(f"export const postmanKey = `{g.postman()}`;", "postman")
    f.secret(f'const client = new Client({{ apiKey: "{g.s(ALNUM, 40)}" }});', "generic")
    f.add('export default { API_BASE, TIMEOUT_MS };')
    f.done()
    f = FileBuilder(c, "cmd/worker/main.go")
    f.add(GO_FILLER)
    f.secret(f'const vaultToken = "{g.vault()}"', "vault")
    f.secret(f'var sendgridKey = "{g.sendgrid()}"', "sendgrid")
    f.secret(f'const jwtToken = "{g.jwt()}"', "jwt")
    f.add("", "func main() {", "\tctx := context.Background()", '\tlog.Println("worker start", ctx)')
    f.secret(f'\treq.Header.Set("Authorization", "Bearer {g.jwt()}")', "jwt")
    f.secret(f'\tdsn := "mysql://reporting:{g.strong(18)}@tcp-mysql.internal:3306/reports"', "database")
    f.add("\t_ = http.DefaultClient", "}")
    f.done()
    f = FileBuilder(c, "services/billing/src/main/resources/application.properties")
    f.add("server.port=8081", "spring.application.name=billing", "spring.datasource.username=billing")
    f.secret(f"spring.datasource.password={g.strong(20)}", "generic")
    f.secret(f"stripe.api.key={g.stripe()}", "stripe")
    f.secret(f"twilio.api.secret={g.s(ALNUM, 32)}", "twilio")
    f.add("logging.level.root=INFO")
    f.done()


def _markdown(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "docs/onboarding.md")
    f.add("# Onboarding", "", "Welcome! Configure your shell like this:", "", "```bash")
    f.secret(f"export GITHUB_TOKEN={g.github()}", "github")
    f.secret(f"export OPENAI_API_KEY={g.openai()}", "openai")
    f.add("```", "", "Grafana dashboards use the service account below.", "")
    f.secret(f"    GRAFANA_TOKEN={g.grafana_sa()}", "grafana")
    f.add("", "The staging API accepts this JWT:", "")
    f.secret(f"    Authorization: Bearer {g.jwt()}", "jwt")
    f.add("", "Terraform Cloud:", "")
    f.secret(f"    credentials \"app.terraform.io\" {{ token = \"{g.terraform()}\" }}", "terraform")
    f.add("", "Ask #platform for anything else.")
    f.done()


def _private_keys(c: Corpus, g: Gen) -> None:
    for i, label in enumerate(("RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "DSA PRIVATE KEY")):
        path = f"keys/server-{i}.key"
        c.files[path] = g.pem(label).encode()
        c.positives.append(Label(path, 1, "private-key"))
    for i in range(3):
        path = f"home/deploy{i}/.ssh/id_ed25519"
        c.files[path] = g.openssh_key().encode()
        c.positives.append(Label(path, 1, "private-key"))
    f = FileBuilder(c, "keys/release-signing.asc")
    body = base64.b64encode(g.b(900)).decode()
    f.secret("-----BEGIN PGP PRIVATE KEY BLOCK-----", "private-key")
    f.add("", "\n".join(body[i:i + 64] for i in range(0, len(body), 64)), "=" + g.s(B64, 4),
          "-----END PGP PRIVATE KEY BLOCK-----")
    f.done()
    f = FileBuilder(c, "keys/bastion.ppk")
    pub = base64.b64encode(g.b(270)).decode()
    priv = base64.b64encode(g.b(630)).decode()
    f.secret("PuTTY-User-Key-File-2: ssh-rsa", "private-key")
    f.add("Encryption: none", "Comment: bastion", f"Public-Lines: {len(pub) // 64 + 1}",
          "\n".join(pub[i:i + 64] for i in range(0, len(pub), 64)), f"Private-Lines: {(len(priv) + 63) // 64}",
          "\n".join(priv[i:i + 64] for i in range(0, len(priv), 64)), f"Private-MAC: {g.s(HEX, 40)}")
    f.done()
    # a key pasted into Python source as a string with \n escapes
    f = FileBuilder(c, "services/auth/auth/keys.py")
    pem = g.pem("RSA PRIVATE KEY").replace("\n", "\\n")
    f.add('"""Signing keys."""', "")
    f.secret(f'SIGNING_KEY = "{pem}"', "private-key")
    f.add("", "def signer():", "    return SIGNING_KEY")
    f.done()


def _notebook_bytes(cells: list[dict]) -> bytes:
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _code_cell(src: list[str], outputs: list[dict] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": 1, "id": "c" + hashlib.sha1("".join(src).encode()).hexdigest()[:8],
            "metadata": {}, "outputs": outputs or [], "source": src}


def _notebooks(c: Corpus, g: Gen) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + g.b(3000)).decode()
    for i in range(3):
        hf, oa, gh, pw = g.hf(), g.openai(), g.github(), g.strong(20)
        cells = [
            {"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": ["# Evaluation run\n", "Loads the model."]},
            _code_cell(["import os\n", "from huggingface_hub import login\n", f'login(token="{hf}")\n']),
            _code_cell(["import openai\n", f'openai.api_key = "{oa}"\n', "models = openai.Model.list()"]),
            _code_cell(["print(os.environ['GH_TOKEN'])"],
                       [{"name": "stdout", "output_type": "stream", "text": [f"{gh}\n"]}]),
            _code_cell(["conn_params()"], [{"output_type": "execute_result", "execution_count": 4, "metadata": {},
                                            "data": {"text/plain": [f"{{'host': 'db', 'password': '{pw}'}}"]}}]),
            _code_cell(["plot()"], [{"output_type": "display_data", "metadata": {},
                                     "data": {"image/png": png, "text/plain": ["<Figure size 640x480>"]}}]),
        ]
        data = _notebook_bytes(cells)
        path = f"notebooks/eval_{i}.ipynb"
        c.files[path] = data
        lines = data.decode().splitlines()
        for value, fam in ((hf, "huggingface"), (oa, "openai"), (gh, "github"), (pw, "generic")):
            line = next(n for n, x in enumerate(lines, 1) if value in x)
            c.positives.append(Label(path, line, fam, None, "notebook"))
        png_line = next(n for n, x in enumerate(lines, 1) if '"image/png"' in x)
        c.negatives.append(Label(path, png_line, "base64-image"))


def _archives(c: Corpus, g: Gen) -> None:
    buf = io.BytesIO()
    members = {}
    env = FileBuilder(c, "backups/config-2023.zip", member="app/.env")
    env.add("APP_ENV=production")
    env.secret(f"STRIPE_SECRET_KEY={g.stripe()}", "stripe")
    env.secret(f"GITHUB_TOKEN={g.github()}", "github")
    env.secret(f"SLACK_BOT_TOKEN={g.slack_bot()}", "slack")
    members["app/.env"] = env.text()
    st = FileBuilder(c, "backups/config-2023.zip", member="app/settings.py")
    st.add(PY_FILLER)
    st.secret(f'AWS_ACCESS_KEY_ID = "{g.aws_id()}"', "aws")
    st.secret(f'AWS_SECRET_ACCESS_KEY = "{g.aws_secret()}"', "aws")
    members["app/settings.py"] = st.text()
    members["app/logo.png"] = b"\x89PNG\r\n\x1a\n" + g.b(2000)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():  # fixed member dates: the same seed gives the same bytes
            zf.writestr(zipfile.ZipInfo(name, date_time=(2023, 3, 1, 12, 0, 0)), data, zipfile.ZIP_DEFLATED)
    c.files["backups/config-2023.zip"] = buf.getvalue()
    c.positives.extend(env.pos + st.pos)

    tb = FileBuilder(c, "backups/infra-2022.tar.gz", member="infra/terraform.tfvars")
    tb.add('region = "us-east-1"')
    tb.secret(f'do_token = "{g.digitalocean()}"', "digitalocean")
    tb.secret(f'db_password = "{g.strong(22)}"', "generic")
    raw = tb.text().encode()
    tbuf = io.BytesIO()
    with gzip.GzipFile(fileobj=tbuf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
        info = tarfile.TarInfo("infra/terraform.tfvars")  # mtime 0 in the tar and gzip headers alike
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    c.files["backups/infra-2022.tar.gz"] = tbuf.getvalue()
    c.positives.extend(tb.pos)


def _base64_wrapped(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "config/bootstrap.yaml")
    f.add("bootstrap:", "  version: 3", "  # the legacy loader expects base64")
    for make, fam, name in ((g.github, "github", "GITHUB_TOKEN"), (g.aws_id, "aws", "AWS_ACCESS_KEY_ID"),
                            (g.slack_bot, "slack", "SLACK_TOKEN"), (g.npm, "npm", "NPM_TOKEN"),
                            (g.stripe, "stripe", "STRIPE_KEY"), (g.anthropic, "anthropic", "ANTHROPIC_KEY")):
        blob = base64.b64encode(f"{name}={make()}\n".encode()).decode()
        f.secret(f"  {name.lower()}_b64: {blob}", fam)
    f.add("  retries: 5")
    f.done()
    f = FileBuilder(c, "config/legacy.properties")
    blob = base64.b64encode(f"[default]\naws_access_key_id = {g.aws_id()}\n".encode()).decode()
    f.add("legacy.enabled=true")
    f.secret(f"legacy.credentials={blob}", "aws")
    f.done()


def _fixtures(c: Corpus, g: Gen) -> None:
    """Real-format, checksum-valid tokens inside test fixtures are still reported."""
    f = FileBuilder(c, "tests/fixtures/github_config.yaml")
    f.add("# recorded from the staging org; rotate if it leaks")
    f.secret(f"token: {g.github()}", "github", "checksum-valid token in a fixture")
    f.secret(f"npm_token: {g.npm()}", "npm", "checksum-valid token in a fixture")
    f.negative(f"fake_token: {g.github_bad()}", "fixture", "bad checksum in a fixture")
    f.negative("aws_access_key_id: AKIAFAKEFAKEFAKE2345", "fixture")
    f.done()


# --------------------------------------------------------------------------------------
# hard negatives
# --------------------------------------------------------------------------------------
def _negatives(c: Corpus, g: Gen) -> None:
    _neg_documented(c, g)
    _neg_bad_checksums(c, g)
    _neg_placeholders(c, g)
    _neg_ids_and_hashes(c, g)
    _neg_lockfiles(c, g)
    _neg_images(c, g)
    _neg_public_material(c, g)
    _neg_terraform(c, g)
    _neg_fixtures(c, g)
    _neg_ordinary_code(c, g)


def _neg_documented(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "docs/aws-cli.md")
    f.add("# Configuring the AWS CLI", "", "```ini", "[default]")
    f.negative("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "documented-example")
    f.negative("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "documented-example")
    f.add("```", "")
    f.negative("export AWS_ACCESS_KEY_ID=AKIAI44QH8DHBEXAMPLE", "documented-example")
    f.negative("export AWS_SECRET_ACCESS_KEY=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "documented-example")
    f.negative("stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'", "documented-example")
    f.negative("Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ik"
               "pvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "documented-example")
    f.negative("GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "documented-example")
    f.negative("SLACK_TOKEN=xoxb-your-bot-token-here", "documented-example")
    f.negative("OPENAI_API_KEY=sk-proj-YOUR_API_KEY_HERE_REPLACE_ME_WITH_A_REAL_KEY_0000000", "documented-example")
    f.negative("export HF_TOKEN=hf_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "documented-example")
    f.done()


def _neg_bad_checksums(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "services/ci/tokens_old.env")
    f.add("# tokens copied from the wiki: all of these were truncated or mistyped")
    for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"):
        for _ in range(4):
            f.negative(f"TOKEN_{g.s(string.ascii_uppercase, 4)}={g.github_bad(prefix)}", "bad-checksum")
    for _ in range(4):
        tok = g.grafana_sa()
        f.negative(f"GRAFANA_{g.s(string.ascii_uppercase, 3)}={tok[:-1]}{'0' if tok[-1] != '0' else '1'}",
                   "bad-checksum")
        at = g.atlassian()
        f.negative(f"JIRA_{g.s(string.ascii_uppercase, 3)}={at[:-1]}{'0' if at[-1] != '0' else '1'}", "bad-checksum")
        age = g.age()
        f.negative(f"AGE_{g.s(string.ascii_uppercase, 3)}={age[:-1]}{'Q' if age[-1] != 'Q' else 'P'}", "bad-checksum")
    f.done()


def _neg_placeholders(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "config/app.template.yaml")
    f.add("database:", "  host: localhost")
    f.negative("  password: changeme", "placeholder")
    f.negative('  password: "<your-password>"', "placeholder")
    f.negative("  password: ${DB_PASSWORD}", "placeholder")
    f.negative("  token: '{{ .Values.api.token }}'", "placeholder")
    f.negative("  api_key: xxxxxxxxxxxxxxxxxxxx", "placeholder")
    f.negative('  secret: "********"', "placeholder")
    f.negative("  api_token: REPLACE_ME", "placeholder")
    f.negative("  client_secret: dummy-client-secret", "placeholder")
    f.negative("  access_key: example-access-key-123", "placeholder")
    f.negative("  password: <%= ENV['DB_PASSWORD'] %>", "placeholder")
    f.negative("  token: ${{ secrets.DEPLOY_TOKEN }}", "placeholder")
    f.negative("  slack_token: <your-token>", "placeholder")
    f.negative("  stripe_key: sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "placeholder")
    f.negative("  aws_secret_access_key: YOUR_SECRET_ACCESS_KEY_GOES_HERE_000000", "placeholder")
    f.negative("  password: '%(db_password)s'", "placeholder")
    f.negative("  password: $DB_PASSWORD", "placeholder")
    f.negative("  api_key: !vault |", "placeholder")
    f.negative("  secret: !Ref DatabaseSecret", "placeholder")
    f.negative("  password: null", "placeholder")
    f.negative("  token: ''", "placeholder")
    f.done()

    f = FileBuilder(c, "services/api/api/config.py")
    f.add("import os", "")
    f.negative('API_KEY = os.environ["API_KEY"]', "reference")
    f.negative('DB_PASSWORD = os.getenv("DB_PASSWORD", "")', "reference")
    f.negative("SECRET_KEY = settings.SECRET_KEY", "reference")
    f.negative("password = get_secret('db/password')", "reference")
    f.negative("token = request.headers.get('Authorization')", "reference")
    f.negative('access_token = credentials["access_token"]', "reference")
    f.negative("self.password = password", "reference")
    f.negative("client_secret = config.oauth.client_secret", "reference")
    f.negative('PASSWORD = "changeme"  # local development only', "placeholder")
    f.negative('API_TOKEN = "your-api-token"', "placeholder")
    f.negative('SECRET = "secret"', "placeholder")
    f.negative('token = "dummy"', "placeholder")
    f.negative('password = "password123"', "placeholder")
    f.negative('api_key = "<API_KEY>"', "placeholder")
    f.negative("auth_token = None", "placeholder")
    f.negative('secret_key = ""', "placeholder")
    f.negative('GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN")', "reference")
    f.negative('token_url = "https://auth.internal/oauth/token"', "reference")
    f.negative('password_field = "user_password_hash"', "reference")
    f.negative("max_tokens = 4096", "ordinary")
    f.done()

    f = FileBuilder(c, "web/src/env.ts")
    f.add(JS_FILLER)
    f.negative("export const apiKey = process.env.API_KEY;", "reference")
    f.negative("const token = process.env.GITHUB_TOKEN ?? '';", "reference")
    f.negative("const secret = import.meta.env.VITE_SECRET;", "reference")
    f.negative("password: req.body.password,", "reference")
    f.negative("const authToken = localStorage.getItem('authToken');", "reference")
    f.negative('headers: { Authorization: `Bearer ${token}` },', "placeholder")
    f.negative("const stripeKey = 'sk_live_REPLACE_ME';", "placeholder")
    f.negative('const apiKey = "xxxx-xxxx-xxxx-xxxx";', "placeholder")
    f.negative("const password = '****';", "placeholder")
    f.negative('export const DUMMY_TOKEN = "dummy_token_value_here";', "placeholder")
    f.done()

    f = FileBuilder(c, "deploy/.env.example")
    f.add("# Copy to .env and fill in")
    for name in ("GITHUB_TOKEN", "SLACK_BOT_TOKEN", "STRIPE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
                 "OPENAI_API_KEY", "SENDGRID_API_KEY", "NPM_TOKEN", "DATADOG_API_KEY", "SENTRY_AUTH_TOKEN"):
        f.negative(f"{name}=", "placeholder")
        f.negative(f"# {name}=<{name.lower().replace('_', '-')}>", "placeholder")
    f.negative("DATABASE_URL=postgres://postgres:postgres@localhost:5432/app", "placeholder")
    f.negative("REDIS_URL=redis://:password@localhost:6379/0", "placeholder")
    f.negative("MONGO_URL=mongodb://user:${MONGO_PASSWORD}@mongo:27017/app", "placeholder")
    f.negative("AMQP_URL=amqp://guest:guest@rabbitmq:5672/", "placeholder")
    f.negative("DB_URL=mysql://root:<password>@db:3306/app", "placeholder")
    f.done()


def _neg_ids_and_hashes(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "data/events/sample_events.json")
    f.add("[")
    for _ in range(30):
        f.negative(json.dumps({"request_id": g.uuid(), "trace_id": g.s(HEX, 32), "commit": g.sha(),
                               "session_id": g.uuid(), "status": 200}) + ",", "uuid-sha")
    f.add("{}", "]")
    f.done()
    f = FileBuilder(c, "k8s/prod/deployment.yaml")
    f.add("apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: api")
    f.negative(f"  uid: {g.uuid()}", "uuid-sha")
    f.add("  annotations:")
    f.negative(f"    deploy.aeonnova.io/git-sha: {g.sha()}", "uuid-sha")
    f.negative(f"    deploy.aeonnova.io/config-hash: {hashlib.sha256(g.b(8)).hexdigest()}", "uuid-sha")
    f.negative(f"    checksum/secret: {hashlib.sha256(g.b(8)).hexdigest()}", "uuid-sha")
    f.add("spec:", "  template:", "    spec:", "      containers:", "        - name: api")
    f.negative(f"          image: registry.internal/api@sha256:{hashlib.sha256(g.b(8)).hexdigest()}", "uuid-sha")
    f.done()
    f = FileBuilder(c, ".github/workflows/release.yml")
    f.add("name: release", "on: [push]", "jobs:", "  build:", "    runs-on: ubuntu-latest", "    steps:")
    for _ in range(8):
        f.negative(f"      - uses: actions/checkout@{g.sha()}", "uuid-sha")
    f.negative("        with: { token: '${{ secrets.GITHUB_TOKEN }}' }", "placeholder")
    f.done()
    f = FileBuilder(c, "CHANGELOG.md")
    f.add("# Changelog", "")
    for _ in range(20):
        f.negative(f"* {g.sha()[:12]} fix token refresh race ({g.sha()})", "uuid-sha")
    f.done()


def _neg_lockfiles(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "web/package-lock.json")
    f.add("{", '  "name": "web",', '  "lockfileVersion": 3,', '  "packages": {')
    for name in ("js-tokens", "jsonwebtoken", "passport", "bcrypt", "dotenv", "keygrip", "tokenizer", "csrf-tokens",
                 "secret-stream", "password-prompt", "api-key-auth", "oauth-token-store", "basic-auth", "safe-buffer",
                 "react", "axios", "lodash", "yargs", "chalk", "debug", "ms", "semver", "uuid", "qs", "cookie"):
        f.add(f'    "node_modules/{name}": {{', '      "version": "4.0.0",',
              f'      "resolved": "https://registry.npmjs.org/{name}/-/{name}-4.0.0.tgz",')
        f.negative(f'      "integrity": "sha512-{base64.b64encode(g.b(64)).decode()}"', "lockfile")
        f.add("    },")
    f.add('    "": {}', "  }", "}")
    f.done()
    f = FileBuilder(c, "web/yarn.lock")
    for name in ("js-tokens", "token-types", "passport-jwt", "secure-password", "node-forge", "ssh2"):
        f.add(f'"{name}@^2.0.0":', "  version \"2.0.1\"",
              f'  resolved "https://registry.yarnpkg.com/{name}/-/{name}-2.0.1.tgz#{g.sha()}"')
        f.negative(f"  integrity sha512-{base64.b64encode(g.b(64)).decode()}", "lockfile")
        f.add("")
    f.done()
    f = FileBuilder(c, "poetry.lock")
    for name in ("pyjwt", "keyring", "cryptography", "passlib", "secretstorage", "tokenizers"):
        f.add("[[package]]", f'name = "{name}"', 'version = "2.8.0"', "files = [")
        f.negative(f'    {{file = "{name}-2.8.0-py3-none-any.whl", hash = "sha256:{hashlib.sha256(g.b(8)).hexdigest()}"}},',
                   "lockfile")
        f.add("]", "")
    f.done()


def _neg_images(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "web/public/index.html")
    f.add("<!doctype html>", "<html>", "<head>", "<title>AeonNova</title>")
    for _ in range(4):
        f.negative(f'<link rel="icon" href="data:image/png;base64,{b64(PNG + g.b(600))}">',
                   "base64-image")
    f.add("</head>", "<body>")
    for _ in range(4):
        f.negative(f'<img alt="logo" src="data:image/jpeg;base64,{b64(JPEG + g.b(900))}">',
                   "base64-image")
    f.add("</body>", "</html>")
    f.done()
    f = FileBuilder(c, "web/src/styles.css")
    for _ in range(4):
        f.negative(f".icon-{g.s(string.ascii_lowercase, 5)} {{ background: url(data:image/svg+xml;base64,"
                   f"{base64.b64encode(b'<svg xmlns=' + g.b(300)).decode()}); }}", "base64-image")
    f.negative(f"@font-face {{ src: url(data:font/woff2;base64,{base64.b64encode(b'wOF2' + g.b(1200)).decode()}); }}",
               "base64-image")
    f.done()
    f = FileBuilder(c, "docs/architecture.md")
    f.add("# Architecture", "")
    for _ in range(3):
        f.negative(f"![diagram](data:image/png;base64,{b64(PNG + g.b(800))})",
                   "base64-image")
    f.done()


def _neg_public_material(c: Corpus, g: Gen) -> None:
    def block(label: str, body: bytes) -> str:
        b = base64.b64encode(body).decode()
        return f"-----BEGIN {label}-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + f"\n-----END {label}-----"
    for i in range(4):
        f = FileBuilder(c, f"certs/service-{i}.pem")
        f.negative(block("CERTIFICATE", b"\x30\x82\x03\x00" + g.b(760)), "public-material")
        f.negative(block("PUBLIC KEY", b"\x30\x82\x01\x22" + g.b(290)), "public-material")
        f.done()
    f = FileBuilder(c, "home/deploy0/.ssh/authorized_keys")
    for i in range(10):
        f.negative(f"ssh-rsa {b64(SSH_RSA + g.b(270))} deploy{i}@build",
                   "public-material")
    for i in range(5):
        f.negative(f"ssh-ed25519 {b64(SSH_ED25519 + g.b(36))} ops{i}@laptop",
                   "public-material")
    f.done()
    f = FileBuilder(c, "home/deploy0/.ssh/known_hosts")
    for i in range(8):
        f.negative(f"git.internal,10.0.0.{i} ecdsa-sha2-nistp256 "
                   f"{b64(SSH_ECDSA + g.b(90))}", "public-material")
    f.done()
    f = FileBuilder(c, "keys/release-signing.pub.asc")
    f.negative(block("PGP PUBLIC KEY BLOCK", g.b(600)), "public-material")
    f.done()


def _neg_terraform(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "infra/modules/db/main.tf")
    f.add('resource "aws_db_instance" "this" {', '  engine   = "postgres"', '  username = var.db_username')
    f.negative("  password = var.db_password", "terraform-ref")
    f.add("}", "", 'resource "aws_secretsmanager_secret_version" "db" {', "  secret_id = aws_secretsmanager_secret.db.id")
    f.negative("  secret_string = local.db_secret_json", "terraform-ref")
    f.add("}", "", 'provider "datadog" {')
    f.negative("  api_key = var.datadog_api_key", "terraform-ref")
    f.negative("  app_key = data.vault_generic_secret.datadog.data[\"app_key\"]", "terraform-ref")
    f.add("}", "", 'module "redis" {', '  source = "./redis"')
    f.negative("  auth_token = random_password.redis.result", "terraform-ref")
    f.negative("  password   = module.secrets.redis_password", "terraform-ref")
    f.add("}", "", 'variable "db_password" {', "  type      = string", "  sensitive = true")
    f.negative('  default   = ""', "terraform-ref")
    f.add("}", "", 'resource "github_actions_secret" "deploy" {', '  repository  = "api"')
    f.negative('  secret_name = "DEPLOY_TOKEN"', "terraform-ref")
    f.negative("  plaintext_value = each.value.token", "terraform-ref")
    f.add("}", "", "locals {")
    f.negative('  token = "${var.token_prefix}-${random_id.suffix.hex}"', "terraform-ref")
    f.negative("  api_key = lookup(var.keys, \"api\", null)", "terraform-ref")
    f.add("}")
    f.done()


def _neg_fixtures(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "tests/fixtures/credentials.yaml")
    f.add("# fixtures for the credential parser tests")
    f.negative(f"aws_access_key_id: AKIA{g.s(BASE32, 12)}TEST", "fixture")
    f.negative("aws_secret_access_key: fake/secret/key/for/tests/only/000000000", "fixture")
    f.negative("password: test-password-123!", "fixture")
    f.negative(f"stripe_key: sk_live_test{g.s(ALNUM, 20)}", "fixture")
    f.negative(f"slack: xoxb-{g.s(string.digits, 11)}-{g.s(string.digits, 12)}-fakefakefakefakefakefake", "fixture")
    f.negative(f"api_key: mock_{g.s(ALNUM, 24)}", "fixture")
    f.done()
    f = FileBuilder(c, "services/auth/tests/test_login.py")
    f.add("import pytest", "", "")
    f.negative(f'FAKE_PASSWORD = "{g.strong(16)}"  # test fixture', "fixture")
    f.negative(f'DUMMY_AWS_KEY = "{g.aws_id()}"  # dummy', "fixture")
    f.negative(f'token = "{g.slack_bot()}"  # fake token for the parser test', "fixture")
    f.negative(f'EXAMPLE_DB = "postgres://app:{g.strong(14)}@db/app"  # example only', "fixture")
    f.add("", "def test_login(client):", '    assert client.post("/login").status_code == 401')
    f.done()
    f = FileBuilder(c, "services/auth/tests/data/tokens.env")
    f.add("# test fixture: generated values, none of them was ever issued")
    for _ in range(6):
        f.negative(f"TOKEN_{g.s(string.ascii_uppercase, 4)}={g.stripe()}", "fixture")
    f.negative(f"DB_PASSWORD={g.strong(20)}", "fixture")
    f.done()


def _neg_ordinary_code(c: Corpus, g: Gen) -> None:
    f = FileBuilder(c, "ml/tokenizer_config.json")
    f.add("{")
    for key in ("pad_token", "eos_token", "bos_token", "unk_token", "sep_token", "cls_token", "mask_token"):
        f.negative(f'  "{key}": "[{key.split("_")[0].upper()}]",', "ordinary")
    f.negative('  "model_max_length": 512,', "ordinary")
    f.negative('  "tokenizer_class": "BertTokenizer",', "ordinary")
    f.negative('  "max_tokens": 2048', "ordinary")
    f.add("}")
    f.done()
    f = FileBuilder(c, "services/auth/auth/passwords.py")
    f.add('"""Password hashing and token helpers."""', "import secrets", "import hashlib", "")
    f.negative("def hash_password(password: str, salt: bytes) -> str:", "ordinary")
    f.negative('    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000).hex()', "ordinary")
    f.negative("def new_token() -> str:", "ordinary")
    f.negative("    return secrets.token_urlsafe(32)", "ordinary")
    f.negative("PASSWORD_MIN_LENGTH = 12", "ordinary")
    f.negative('TOKEN_HEADER = "X-Auth-Token"', "ordinary")
    f.negative('SECRET_NAME = "prod/api/db-credentials"', "ordinary")
    f.negative('PASSWORD_RESET_TEMPLATE = "emails/password_reset.html"', "ordinary")
    f.negative('token_type = "Bearer"', "ordinary")
    f.negative("if password == confirm_password:", "ordinary")
    f.negative('    raise ValueError("password and token must differ")', "ordinary")
    f.negative('secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"', "ordinary")
    f.negative('api_key_header = APIKeyHeader(name="X-API-Key")', "ordinary")
    f.negative('password_regex = r"^(?=.*[A-Z])(?=.*\\d).{12,}$"', "ordinary")
    f.negative('private_key_path = "/etc/ssl/private/server.key"', "ordinary")
    f.negative('credentials_file = "~/.aws/credentials"', "ordinary")
    f.negative('access_key_id_env = "AWS_ACCESS_KEY_ID"', "ordinary")
    f.done()
    f = FileBuilder(c, "docs/security.md")
    f.add("# Security", "")
    f.negative("Rotate every token after 90 days; passwords need 12 characters.", "ordinary")
    f.negative("Set `password: <from vault>` in your local config, never a real value.", "ordinary")
    f.negative("Use `Authorization: Bearer <token>` with a token from the portal.", "ordinary")
    f.negative("The API key looks like `sk_live_...` and must never be committed.", "ordinary")
    f.negative("| secret | where | rotation |", "ordinary")
    f.negative("The `client_secret` field is read from `$CLIENT_SECRET`.", "ordinary")
    f.done()
    f = FileBuilder(c, "ml/train_config.yaml")
    f.add("model:", "  name: bert-base-uncased")
    f.negative("  max_tokens: 512", "ordinary")
    f.negative("  token_budget: 200000", "ordinary")
    f.negative("  secret_sauce: dropout", "ordinary")
    f.negative("  password_policy: strict", "ordinary")
    f.negative(f"  run_id: {g.uuid()}", "uuid-sha")
    f.negative(f"  dataset_sha: {hashlib.sha256(g.b(8)).hexdigest()}", "uuid-sha")
    f.done()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m anfl_assets_tests.domain.security.secret_corpus OUT_DIR", file=sys.stderr)
        return 2
    corpus = build_corpus()
    out = Path(argv[1])
    corpus.write(out)
    (out / "labels.json").write_text(corpus.labels_json())
    print(f"{len(corpus.files)} files, {len(corpus.positives)} secrets, {len(corpus.negatives)} hard negatives -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
