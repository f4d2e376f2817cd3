"""Secret detection (`anfl_assets.domain.security.secrets`): the labelled corpus, each rule and
its checksum, every hard-negative family, the container formats, inline allows and bad input."""

from __future__ import annotations

import base64
import gzip
import io
import json
import pickle
import random
import tarfile
import time
import zipfile
import zlib
from collections import Counter, defaultdict

import pytest

from anfl_assets.domain.security import CONFIDENCES, SEVERITIES, SecretMatch
from anfl_assets.domain.security.secrets import (
    RULESET_VERSION, RulesError, SecretScanner, base62_encode, is_scannable, rule_summaries)
from anfl_assets_tests.domain.security.secret_corpus import ALNUM, URLSAFE, Gen, build_corpus

HEXC = "0123456789abcdef"

FAMILY = {r["id"]: r["family"] for r in rule_summaries()}


@pytest.fixture(scope="module")
def scanner() -> SecretScanner:
    return SecretScanner()


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


@pytest.fixture(scope="module")
def corpus_results(scanner, corpus):
    return {path: scanner.scan_bytes(path, data) for path, data in corpus.files.items()}


def scan(scanner: SecretScanner, text: str, path: str = "config/app.env") -> list[SecretMatch]:
    return scanner.scan_bytes(path, text.encode("utf-8"))


def rules_of(matches: list[SecretMatch]) -> list[str]:
    return [m.rule for m in matches]


# --------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------
def test_corpus_size(corpus):
    assert len(corpus.positives) >= 150
    assert len(corpus.negatives) >= 300
    assert len({p.family for p in corpus.positives}) >= 40
    # every kind of file the issue names is in it
    paths = " ".join(corpus.files)
    for marker in ("settings.py", ".env", ".yaml", ".json", ".tf", ".sh", ".ipynb", ".md", ".zip", ".tar.gz"):
        assert marker in paths
    assert any(p.note == "notebook" for p in corpus.positives)
    assert any(p.member for p in corpus.positives)


def test_corpus_is_deterministic():
    a, b = build_corpus(), build_corpus()
    assert a.files == b.files and a.positives == b.positives and a.negatives == b.negatives
    assert build_corpus(seed=7).files != a.files


def test_corpus_recall_and_precision(corpus, corpus_results):
    labels = {(p.path, p.member, p.line): p for p in corpus.positives}
    found, true_pos, false_pos = set(), 0, []
    for path, matches in corpus_results.items():
        for m in matches:
            key = (path, m.member, m.line)
            label = labels.get(key)
            if label is not None and label.family == FAMILY[m.rule]:
                true_pos += 1
                found.add(key)
            else:
                false_pos.append((key, m.rule))
    recall = len(found) / len(labels)
    precision = true_pos / max(1, true_pos + len(false_pos))
    missed = sorted(set(labels) - found, key=str)
    print(f"\ncorpus: {len(corpus.files)} files, {len(labels)} secrets, {len(corpus.negatives)} hard negatives; "
          f"recall {recall:.3f}, precision {precision:.3f}; missed {missed[:10]}; false positives {false_pos[:10]}")
    assert recall >= 0.95, missed
    assert precision >= 0.95, false_pos


def test_corpus_findings_are_well_formed(corpus_results):
    for path, matches in corpus_results.items():
        for m in matches:
            assert m.severity in SEVERITIES and m.confidence in CONFIDENCES
            assert m.line >= 1 and m.column >= 1 and m.value
            assert m.context in ("text", "base64", "notebook-source", "notebook-output", "archive")
            assert (m.member is not None) == (m.context == "archive")


HARD_NEGATIVE_FAMILIES = ("documented-example", "bad-checksum", "placeholder", "reference", "uuid-sha", "lockfile",
                          "base64-image", "public-material", "terraform-ref", "fixture", "ordinary",
                          "k8s-non-secret")


@pytest.mark.parametrize("family", HARD_NEGATIVE_FAMILIES)
def test_hard_negative_family_stays_quiet(family, corpus, corpus_results):
    lines = [n for n in corpus.negatives if n.family == family]
    assert lines, f"no {family} negatives in the corpus"
    flagged = [(n.path, n.line, m.rule, m.value[:12]) for n in lines for m in corpus_results[n.path]
               if m.line == n.line and m.member == n.member]
    assert not flagged


def test_corpus_contexts(corpus, corpus_results):
    contexts = Counter(m.context for ms in corpus_results.values() for m in ms)
    for ctx in ("text", "base64", "notebook-source", "notebook-output", "archive"):
        assert contexts[ctx] > 0, contexts


# --------------------------------------------------------------------------------------
# rules, one by one
# --------------------------------------------------------------------------------------
G = Gen(99)
TOKEN_CASES = [
    ("github-classic-pat", lambda: f"GITHUB_TOKEN={G.github()}"),
    ("github-oauth-token", lambda: f"token: {G.github('gho_')}"),
    ("github-user-to-server-token", lambda: f"token: {G.github('ghu_')}"),
    ("github-server-to-server-token", lambda: f"token: {G.github('ghs_')}"),
    ("github-refresh-token", lambda: f"token: {G.github('ghr_')}"),
    ("github-fine-grained-pat", lambda: f"GH={G.github_pat()}"),
    ("gitlab-pat", lambda: f"GITLAB={G.gitlab()}"),
    ("aws-access-key-id", lambda: f"id={G.aws_id()}"),
    ("aws-secret-access-key", lambda: f"aws_secret_access_key = {G.aws_secret()}"),
    ("slack-bot-token", lambda: f"SLACK={G.slack_bot()}"),
    ("slack-user-token", lambda: f"SLACK={G.slack_user()}"),
    ("slack-app-token", lambda: f"SLACK={G.slack_app()}"),
    ("slack-webhook-url", lambda: f"hook={G.slack_webhook()}"),
    ("stripe-secret-key", lambda: f"stripe={G.stripe()}"),
    ("stripe-restricted-key", lambda: f"stripe={G.stripe('rk_live_')}"),
    ("stripe-test-key", lambda: f"stripe={G.stripe('sk_test_')}"),
    ("openai-api-key", lambda: f"OPENAI={G.openai()}"),
    ("openai-api-key", lambda: f"OPENAI={G.openai_legacy()}"),
    ("anthropic-api-key", lambda: f"ANTHROPIC={G.anthropic()}"),
    ("sendgrid-api-key", lambda: f"SG={G.sendgrid()}"),
    ("npm-token", lambda: f"//registry.npmjs.org/:_authToken={G.npm()}"),
    ("pypi-token", lambda: f"password = {G.pypi()}"),
    ("huggingface-token", lambda: f"HF={G.hf()}"),
    ("docker-hub-pat", lambda: f"DOCKER={G.docker()}"),
    ("shopify-token", lambda: f"SHOP={G.shopify()}"),
    ("mailgun-api-key", lambda: f"MG={G.mailgun()}"),
    ("mailchimp-api-key", lambda: f"MC={G.mailchimp()}"),
    ("datadog-api-key", lambda: f"DD_API_KEY={G.s('0123456789abcdef', 32)}"),
    ("newrelic-user-api-key", lambda: f"NR={G.newrelic()}"),
    ("newrelic-license-key", lambda: f"NR={G.newrelic_license()}"),
    ("atlassian-api-token", lambda: f"JIRA={G.atlassian()}"),
    ("bitbucket-app-password", lambda: f"BB={G.bitbucket()}"),
    ("digitalocean-token", lambda: f"DO={G.digitalocean()}"),
    ("heroku-api-key", lambda: f"HEROKU={G.heroku()}"),
    ("square-access-token", lambda: f"SQ={G.square()}"),
    ("square-oauth-secret", lambda: f"SQ={G.square_secret()}"),
    ("telegram-bot-token", lambda: f"TG={G.telegram()}"),
    ("discord-bot-token", lambda: f"DISCORD_TOKEN={G.discord()}"),
    ("discord-webhook-url", lambda: f"hook={G.discord_webhook()}"),
    ("google-api-key", lambda: f"KEY={G.google_api()}"),
    ("google-oauth-client-secret", lambda: f"SECRET={G.google_oauth_secret()}"),
    ("alibaba-access-key-id", lambda: f"ALI={G.alibaba_id()}"),
    ("databricks-token", lambda: f"DBX={G.databricks()}"),
    ("doppler-token", lambda: f"DOPPLER={G.doppler()}"),
    ("vault-token", lambda: f"VAULT={G.vault()}"),
    ("terraform-cloud-token", lambda: f"TFE={G.terraform()}"),
    ("linear-api-key", lambda: f"LINEAR={G.linear()}"),
    ("grafana-service-account-token", lambda: f"GRAFANA={G.grafana_sa()}"),
    ("grafana-cloud-token", lambda: f"GRAFANA={G.grafana_cloud()}"),
    ("sentry-auth-token", lambda: f"SENTRY={G.sentry_user()}"),
    ("sentry-dsn", lambda: f"dsn: {G.sentry_dsn()}"),
    ("postman-api-key", lambda: f"PM={G.postman()}"),
    ("pulumi-access-token", lambda: f"PULUMI={G.pulumi()}"),
    ("supabase-access-token", lambda: f"SB={G.supabase()}"),
    ("groq-api-key", lambda: f"GROQ={G.groq()}"),
    ("replicate-api-token", lambda: f"R8={G.replicate()}"),
    ("jfrog-api-key", lambda: f"JF={G.jfrog()}"),
    ("azure-ad-client-secret", lambda: f"AZ={G.azure_ad_secret()}"),
    ("age-secret-key", lambda: f"AGE={G.age()}"),
    ("jwt", lambda: f"Authorization: Bearer {G.jwt()}"),
    ("twilio-api-key", lambda: f"# twilio\nTWILIO_API_KEY={G.twilio_sk()}"),
    ("azure-storage-account-key",
     lambda: f"conn=DefaultEndpointsProtocol=https;AccountName=a;AccountKey={G.azure_storage_key()};"),
    ("azure-sas-token", lambda: f"url=https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig={G.azure_sas_sig()}"),
    ("database-url-password", lambda: f"DB=postgresql://app:{G.strong(18)}@db.internal:5432/app"),
    ("url-credentials", lambda: f"REPO=https://deploy:{G.strong(18)}@git.internal/x.git"),
    ("generic-secret", lambda: f"DB_PASSWORD={G.strong(20)}"),
    ("bearer-token", lambda: f"Authorization: Bearer {G.s('abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789', 40)}"),
    ("http-basic-auth", lambda: "Authorization: Basic " + base64.b64encode(f"ops:{G.strong(16)}".encode()).decode()),
    ("aws-session-token", lambda: f"aws_session_token = IQoJb3JpZ2luX2VjE{G.s(ALNUM + '+/', 300)}"),
    ("google-oauth-access-token", lambda: f"token=ya29.{G.s(URLSAFE, 120)}"),
    ("google-oauth-refresh-token", lambda: f"refresh=1//0{G.s(URLSAFE, 100)}"),
    ("heroku-api-key-legacy", lambda: f"HEROKU_API_KEY={G.uuid()}"),
    ("gitlab-deploy-token", lambda: f"T=gldt-{G.s(URLSAFE, 20)}"),
    ("gitlab-runner-token", lambda: f"T=glrt-{G.s(URLSAFE, 20)}"),
    ("gitlab-pipeline-trigger-token", lambda: f"T=glptt-{G.s(HEXC, 40)}"),
    ("gitlab-token", lambda: f"T=glft-{G.s(URLSAFE, 20)}"),
    ("atlassian-datacenter-pat", lambda: "JIRA_TOKEN=" + base64.b64encode(b"483921776104:" + G.b(20)).decode()[:44]),
    ("slack-token", lambda: f"T=xoxe.xoxp-1-{G.s(ALNUM, 160)}"),
    ("stripe-webhook-secret", lambda: f"S=whsec_{G.s(ALNUM, 32)}"),
    ("newrelic-insert-key", lambda: f"K=NRII-{G.s(URLSAFE, 32)}"),
    ("grafana-api-key", lambda: "K=" + base64.b64encode(json.dumps(
        {"k": G.s(ALNUM, 32), "n": "deploy", "id": 1}, separators=(",", ":")).encode()).decode()),
    ("datadog-app-key", lambda: f"DD_APP_KEY={G.s(HEXC, 40)}"),
    ("alibaba-access-key-secret", lambda: f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={G.alibaba_secret()}"),
    ("twilio-auth-token", lambda: f"TWILIO_AUTH_TOKEN={G.s(HEXC, 32)}"),
    ("firebase-cloud-messaging-key", lambda: f"FCM=AAAA{G.s(URLSAFE, 7)}:APA91b{G.s(URLSAFE, 134)}"),
    ("mapbox-secret-token", lambda: f"MAPBOX=sk.eyJ1IjoiYWVvbiIsImEiOiJ{G.s(URLSAFE, 20)}.{G.s(URLSAFE, 22)}"),
    ("perplexity-api-key", lambda: f"PPLX=pplx-{G.s(ALNUM, 48)}"),
    ("planetscale-token", lambda: f"PS=pscale_tkn_{G.s(URLSAFE, 43)}"),
    ("docker-config-auth",
     lambda: '{"auths": {"r": {"auth": "' + base64.b64encode(f"u:{G.strong(16)}".encode()).decode() + '"}}}'),
    ("kubernetes-secret",
     lambda: "kind: Secret\ndata:\n  password: " + base64.b64encode(G.strong(20).encode()).decode()),
]
ALL_RULES_COVERED_ELSEWHERE = {"gcp-service-account", "private-key"}


@pytest.mark.parametrize("rule,make", TOKEN_CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(TOKEN_CASES)])
def test_rule_detects_its_format(scanner, rule, make):
    text = make()
    found = scan(scanner, text + "\n")
    assert rule in rules_of(found), (text, found)


def test_every_rule_has_a_positive_case():
    covered = {r for r, _ in TOKEN_CASES} | ALL_RULES_COVERED_ELSEWHERE
    assert covered >= {r["id"] for r in rule_summaries()}, sorted({r["id"] for r in rule_summaries()} - covered)


def test_symbols_in_bare_values(scanner):
    assert [m.value for m in scan(scanner, "DB_PASSWORD=Ab3#kL9!mQ2%vR7z\n")] == ["Ab3#kL9!mQ2%vR7z"]
    assert [m.value for m in scan(scanner, "password: Ab3kL9mQ2vR7zXq1 # rotated monthly\n", "a.yaml")] == [
        "Ab3kL9mQ2vR7zXq1"]
    assert scan(scanner, "password: # set me\n", "a.yaml") == []


def test_xml_elements_and_netrc(scanner):
    pw = G.strong(20)
    xml = f"<server>\n  <id>releases</id>\n  <password>{pw}</password>\n</server>\n"
    assert [(m.rule, m.line, m.value) for m in scan(scanner, xml, "settings.xml")] == [("generic-secret", 3, pw)]
    assert scan(scanner, xml.replace(pw, "${env.NEXUS_PASSWORD}"), "settings.xml") == []
    netrc = f"machine git.internal login ci password {pw}\n"
    assert [(m.rule, m.value) for m in scan(scanner, netrc, "home/u/.netrc")] == [("generic-secret", pw)]
    assert scan(scanner, f"the password {pw} is wrong\n", "notes.txt") == []  # prose is not netrc


def test_at_least_40_provider_kinds():
    summaries = rule_summaries()
    assert len(summaries) >= 60
    providers = {r["family"] for r in summaries} - {"generic", "private-key", "jwt", "database", "url-credentials",
                                                   "basic-auth", "kubernetes"}
    assert len(providers) >= 40, sorted(providers)


def test_github_checksum(scanner):
    good = G.github()
    body = good[4:-6]
    assert good[-6:] == base62_encode(zlib.crc32(body.encode()))
    assert rules_of(scan(scanner, f"t={good}\n")) == ["github-classic-pat"]
    for bad in (good[:-1] + ("x" if good[-1] != "x" else "y"), "ghp_" + body[::-1] + good[-6:]):
        assert scan(scanner, f"t={bad}\n") == []
        assert scan(scanner, f'GITHUB_TOKEN = "{bad}"\n', "app/settings.py") == []  # generic leaves it alone


def test_npm_grafana_atlassian_age_checksums(scanner):
    for make, rule in ((G.npm, "npm-token"), (G.grafana_sa, "grafana-service-account-token"),
                       (G.atlassian, "atlassian-api-token"), (G.bitbucket, "bitbucket-app-password"),
                       (G.age, "age-secret-key")):
        good = make()
        assert rule in rules_of(scan(scanner, f"x={good}\n"))
        flipped = good[:-2] + ("0" if good[-2] != "0" else "1") + good[-1]
        if rule == "age-secret-key":
            flipped = good[:-2] + ("Q" if good[-2] != "Q" else "P") + good[-1]
        assert rule not in rules_of(scan(scanner, f"x={flipped}\n")), (rule, flipped)


def test_pypi_macaroon_structure(scanner):
    token = G.pypi()
    assert rules_of(scan(scanner, f"token = {token}\n")) == ["pypi-token"]
    truncated = token[:60]
    assert "pypi-token" not in rules_of(scan(scanner, f"token = {truncated}\n"))


def test_discord_id_and_keyword(scanner):
    tok = G.discord()
    assert "discord-bot-token" in rules_of(scan(scanner, f"DISCORD_TOKEN={tok}\n"))
    assert "discord-bot-token" not in rules_of(scan(scanner, f"OTHER={tok}\n"))  # no discord context
    bogus = "N" + "A" * 25 + tok[tok.index("."):]
    assert "discord-bot-token" not in rules_of(scan(scanner, f"DISCORD_TOKEN={bogus}\n"))


def test_jwt_needs_a_real_header(scanner):
    tok = G.jwt()
    assert rules_of(scan(scanner, f"jwt: {tok}\n")) == ["jwt"]
    not_json = "eyJub3QganNvbg." + tok.split(".", 1)[1]
    assert "jwt" not in rules_of(scan(scanner, f"jwt: {not_json}\n"))
    no_alg = base64.urlsafe_b64encode(b'{"typ":"JWT"}').decode().rstrip("=") + "." + tok.split(".", 1)[1]
    assert "jwt" not in rules_of(scan(scanner, f"jwt: {no_alg}\n"))


def test_azure_key_sizes(scanner):
    key = G.azure_storage_key()
    line = f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={key};EndpointSuffix=core.windows.net\n"
    found = scan(scanner, line)
    assert [(m.rule, m.severity, m.value) for m in found] == [("azure-storage-account-key", "critical", key)]
    short_sig = base64.b64encode(b"x" * 31).decode()
    assert scan(scanner, f"u=https://a.blob.core.windows.net/?sv=2022-11-02&sig={short_sig}\n") == []


def test_aws_pair(scanner):
    key_id, secret = G.aws_id(), G.aws_secret()
    named = scan(scanner, f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    assert [(m.rule, m.line, m.confidence) for m in named] == [
        ("aws-access-key-id", 2, "high"), ("aws-secret-access-key", 3, "high")]
    assert named[1].severity == "critical"
    near = scan(scanner, f'creds = ("{key_id}",\n         "{secret}")\n', "deploy.py")
    assert [(m.rule, m.line, m.confidence) for m in near] == [
        ("aws-access-key-id", 1, "high"), ("aws-secret-access-key", 2, "medium")]
    alone = scan(scanner, f'digest = "{secret}"\n', "deploy.py")
    assert alone == []  # a 40-char string without a key id or a name is not an AWS secret


def test_severity_reflects_liveness(scanner):
    sev = {m.rule: m.severity for m in scan(scanner, "\n".join([
        f"a={G.stripe()}", f"b={G.stripe('sk_test_')}", f"c={G.github()}", f"DB_PASSWORD={G.strong(20)}",
        f"aws_secret_access_key={G.aws_secret()}"]) + "\n")}
    assert sev["stripe-secret-key"] == "critical" and sev["aws-secret-access-key"] == "critical"
    assert sev["github-classic-pat"] == "high"
    assert sev["generic-secret"] == "medium"
    assert sev["stripe-test-key"] == "low"


def test_confidence_reflects_format(scanner):
    g = Gen(3)
    conf = {m.rule: m.confidence for m in scan(scanner, "\n".join([
        f"a={g.github()}", f"DB_PASSWORD={g.strong(12)}",
        f"OPENAI=sk-proj-{g.s('abcdefghijkmnopqrstuvwxyzABCDEF0123456789', 48)}"]) + "\n")}
    assert conf["github-classic-pat"] == "high"
    assert conf["generic-secret"] == "low"
    assert conf["openai-api-key"] == "medium"  # project prefix without the T3BlbkFJ marker


# --------------------------------------------------------------------------------------
# private keys
# --------------------------------------------------------------------------------------
def test_private_key_reports_the_body(scanner):
    pem = G.pem("RSA PRIVATE KEY")
    found = scan(scanner, "# deploy key\n" + pem, "keys/deploy.pem")
    assert len(found) == 1
    m = found[0]
    body = "".join(pem.splitlines()[1:-1])
    assert (m.rule, m.line, m.column, m.value, m.severity, m.confidence) == (
        "private-key", 2, 1, body, "critical", "high")


def test_long_random_bodies_are_not_placeholders(scanner):
    """A 4-letter word turns up by chance in about one key body in a thousand: not a placeholder."""
    lines = G.pem("RSA PRIVATE KEY").splitlines()
    lines[5] = lines[5][:20] + "FaKe" + lines[5][24:]
    lines[9] = lines[9][:30] + "TODO" + lines[9][34:]
    found = scan(scanner, "\n".join(lines) + "\n", "id_rsa")
    assert rules_of(found) == ["private-key"] and "FaKe" in found[0].value


def test_key_body_lines_ending_in_plus(scanner):
    """`+` is base64: only quotes and concatenation around a line are code, never its last char."""
    for seed in range(40):
        key = Gen(seed).openssh_key()
        body = "".join(key.splitlines()[1:-1])
        found = scan(scanner, key, "id_ed25519")
        assert [(m.value, m.confidence) for m in found] == [(body, "high")]
    pem = Gen(1).pem("PRIVATE KEY")
    lines = pem.splitlines()
    code = "KEY = (\n" + "\n".join(f'    "{x}\\n"' for x in lines) + "\n)\n"
    found = scan(scanner, code, "keys.py")
    assert [m.value for m in found] == ["".join(lines[1:-1])]


def test_private_key_variants(scanner):
    ssh = scan(scanner, G.openssh_key(), "id_ed25519")
    assert [(m.rule, m.confidence) for m in ssh] == [("private-key", "high")]
    enc = G.pem("ENCRYPTED PRIVATE KEY")
    assert [m.severity for m in scan(scanner, enc, "k.pem")] == ["high"]
    legacy = G.pem("RSA PRIVATE KEY").replace(
        "-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\n", 1)
    assert [m.severity for m in scan(scanner, legacy, "k.pem")] == ["high"]
    escaped = 'KEY = "' + G.pem("PRIVATE KEY").replace("\n", "\\n") + '"\n'
    assert rules_of(scan(scanner, escaped, "keys.py")) == ["private-key"]


def test_private_key_placeholders_and_public_material(scanner):
    assert scan(scanner, "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n", "README.md") == []
    assert scan(scanner, "-----BEGIN PRIVATE KEY-----\nMIIEvQ...your key here...\n-----END PRIVATE KEY-----\n") == []
    cert = G.pem("CERTIFICATE")
    pub = G.pem("PUBLIC KEY")
    ssh_pub = "ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + G.b(270)).decode() + " me@host\n"
    assert scan(scanner, cert + pub + ssh_pub, "certs/bundle.pem") == []


def test_gcp_service_account_is_one_finding(scanner, corpus, corpus_results):
    path = "credentials/gcp-sa-0.json"
    found = corpus_results[path]
    assert [(m.rule, m.severity) for m in found] == [("gcp-service-account", "critical")]
    assert json.loads(corpus.files[path])["private_key_id"] == found[0].value


# --------------------------------------------------------------------------------------
# hard negatives, spelled out
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("line", [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "password: changeme", 'token: "<your-token>"', "password: ${DB_PASSWORD}", "token: '{{ .Values.x }}'",
    'api_key: os.environ["API_KEY"]', "token: process.env.TOKEN", "secret: xxxxxxxxxxxxxxxx", 'password: "****"',
    "api_token: REPLACE_ME", "password: dummy-password-1", "api_key: example-key-0001",
    "request_id: 0f8fad5b-d9cb-469f-a165-70867728950e", "commit: 9fceb02d0ae598e95dc970b74767f19372d61af8",
    '"integrity": "sha512-' + base64.b64encode(bytes(range(64))).decode() + '"',
    '<img src="data:image/png;base64,' + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3).decode() + '">',
    "password = var.db_password", "token = local.api_token", "secret_key = data.vault_generic_secret.x.data",
    "password_hash: 4f6b0cbb37e1bb0c79eb71ba9bd1d9c3c7b2e0a2", "max_tokens: 4096", "pad_token: '[PAD]'",
])
def test_hard_negative_lines(scanner, line):
    terraform = line.startswith(("password = var", "token = local", "secret_key = data"))
    path = "infra/main.tf" if terraform else "config/app.yaml"
    assert scan(scanner, line + "\n", path) == []


def test_fixture_policy(scanner):
    real_format = G.github()
    unverified = G.stripe()
    fixture = f"token: {real_format}\nstripe_key: {unverified}\nfake_key: {G.stripe()}\n"
    # under tests/fixtures/: the checksum-valid token is reported; an unverifiable value on a
    # line that says fake is not; one that says nothing is
    found = scan(scanner, fixture, "tests/fixtures/config.yaml")
    assert [(m.rule, m.line) for m in found] == [("github-classic-pat", 1), ("stripe-secret-key", 2)]
    # a file that declares itself a fixture silences everything but checksum-valid tokens
    marked = scan(scanner, "# test fixture: generated values\n" + fixture, "tests/test_parse.py")
    assert [(m.rule, m.line) for m in marked] == [("github-classic-pat", 2)]
    # a line marked fake / dummy / example is not reported, unless its checksum says real
    assert scan(scanner, f"KEY={G.aws_id()}  # dummy\n") == []
    assert rules_of(scan(scanner, f"KEY={G.github()}  # example\n")) == ["github-classic-pat"]


# --------------------------------------------------------------------------------------
# inline allow
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("comment,path", [
    ("# anfl:allow", "a.env"), ("// anfl:allow rotated 2024-05", "a.ts"), ("<!-- anfl:allow -->", "a.html"),
    ("/* anfl:allow test key of the sandbox */", "a.go"), ("-- anfl:allow", "a.sql"), ("# ANFL:ALLOW", "a.yaml"),
])
def test_inline_allow(scanner, comment, path):
    tok = G.github()
    found = scanner.scan_bytes(path, f"x = 1\nTOKEN = '{tok}'  {comment}\ny = '{G.github()}'\n".encode())
    assert [(m.line, m.allowed_inline) for m in found] == [(2, True), (3, False)]


# --------------------------------------------------------------------------------------
# base64, notebooks, archives
# --------------------------------------------------------------------------------------
def test_base64_blob_decoded_once(scanner):
    tok = G.github()
    blob = base64.b64encode(f"GITHUB_TOKEN={tok}\n".encode()).decode()
    found = scan(scanner, f"a: 1\npayload: {blob}\n", "config.yaml")
    assert [(m.rule, m.line, m.column, m.context, m.value) for m in found] == [
        ("github-classic-pat", 2, 10, "base64", tok)]
    double = base64.b64encode(blob.encode()).decode()
    assert scan(scanner, f"payload: {double}\n", "config.yaml") == []  # one level only
    urlsafe = base64.urlsafe_b64encode(f"token={G.slack_bot()}\n".encode()).decode()
    assert rules_of(scan(scanner, f"p={urlsafe}\n")) == ["slack-bot-token"]


def test_kubernetes_secret_data(scanner, corpus_results):
    found = corpus_results["k8s/prod/db-credentials.yaml"]
    assert [(m.rule, m.line, m.context) for m in found] == [
        ("kubernetes-secret", 9, "base64"), ("github-classic-pat", 10, "base64")]


def test_notebook_sources_and_outputs(scanner, corpus):
    path = "notebooks/eval_0.ipynb"
    raw = corpus.files[path].decode()
    found = scanner.scan_bytes(path, corpus.files[path])
    by_rule = {m.rule: m for m in found}
    assert set(by_rule) == {"huggingface-token", "openai-api-key", "github-classic-pat", "generic-secret"}
    lines = raw.splitlines()
    for m in found:
        assert m.value in lines[m.line - 1]
        assert lines[m.line - 1][m.column - 1:].startswith(m.value)
    assert by_rule["huggingface-token"].context == "notebook-source"
    assert by_rule["github-classic-pat"].context == "notebook-output"
    assert by_rule["generic-secret"].context == "notebook-output"


def test_notebook_single_string_source(scanner):
    tok = G.github()
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": f"x = 1\nTOKEN = '{tok}'\n"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    raw = json.dumps(nb, indent=1)
    found = scanner.scan_bytes("n.ipynb", raw.encode())
    assert [(m.rule, m.context) for m in found] == [("github-classic-pat", "notebook-source")]
    assert tok in raw.splitlines()[found[0].line - 1]


def test_zip_and_tar_members(scanner, corpus_results):
    zipped = corpus_results["backups/config-2023.zip"]
    assert {m.context for m in zipped} == {"archive"}
    assert {m.member for m in zipped} == {"app/.env", "app/settings.py"}
    tarred = corpus_results["backups/infra-2022.tar.gz"]
    assert [(m.member, m.line, m.rule) for m in tarred] == [
        ("infra/terraform.tfvars", 2, "digitalocean-token"), ("infra/terraform.tfvars", 3, "generic-secret")]


@pytest.mark.parametrize("mode", ["w:bz2", "w:xz", "w"])
def test_other_tar_compressions(scanner, mode):
    tok = G.github()
    raw = f"TOKEN={tok}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        info = tarfile.TarInfo("a/.env")
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    found = scanner.scan_bytes("backup.tar", buf.getvalue())
    assert [(m.member, m.value) for m in found] == [("a/.env", tok)]


def test_zip_bomb_is_bounded(scanner):
    tok = G.github()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("first/.env", f"TOKEN={tok}\n")
        for i in range(2):
            zf.writestr(f"bomb{i}.txt", b"A" * (128 * 1024 * 1024))  # 256 MB of text, ~1 MB zipped
        for i in range(5000):
            zf.writestr(f"many/{i}.txt", "x\n")
    data = buf.getvalue()
    assert len(data) < 5 * 1024 * 1024
    t0 = time.perf_counter()
    found = scanner.scan_bytes("bomb.zip", data)
    elapsed = time.perf_counter() - t0
    assert [m.value for m in found] == [tok]
    assert elapsed < 20, elapsed


def test_gzip_bomb_is_bounded(scanner):
    data = gzip.compress(b"\n" * (256 * 1024 * 1024), compresslevel=1)
    t0 = time.perf_counter()
    assert scanner.scan_bytes("logs.gz", data) == []
    assert time.perf_counter() - t0 < 20


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
def test_garbage_never_raises(scanner):
    rng = random.Random(5)
    blobs = [bytes(rng.randrange(256) for _ in range(n)) for n in (0, 1, 17, 4096, 100_000)]
    blobs += [
        b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(3000)),            # broken zip
        b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(3000)),      # broken gzip
        b"BZh9" + bytes(rng.randrange(256) for _ in range(500)),                    # broken bzip2
        b"\xfd7zXZ\x00" + bytes(100),                                              # broken xz
        b"\x00" * 300 + b"ustar" + bytes(500),                                      # bogus tar header
        "ghp_é".encode("latin-1") + b"\xff\xfe\xfa password=\xc3\x28 token=\xa0\xa1",  # not UTF-8
        "\ufeffpassword = 'Ab3$dEf9!kLm2'\n".encode("utf-16"),                   # UTF-16 with BOM
        b'{"cells": [{"cell_type": "code", "source": 5}], "nbformat": 4}',          # odd notebook
        b'{"cells": [', b"[1, 2, 3]", b"null",                                      # malformed notebooks
    ]
    for i, blob in enumerate(blobs):
        for path in (f"f{i}.txt", f"f{i}.ipynb", f"f{i}.zip", f"f{i}.tar.gz"):
            result = scanner.scan_bytes(path, blob)
            assert isinstance(result, list)
    utf16 = scanner.scan_bytes("a.py", "\ufeffpassword = 'Ab3$dEf9!kLm2'\n".encode("utf-16"))
    assert rules_of(utf16) == ["generic-secret"]
    assert scanner.scan_text("x.txt", "\ud800 lone surrogate token=" + G.github() + "\n")


def test_binary_is_skipped(scanner):
    tok = G.github()
    assert scanner.scan_bytes("model.bin", b"\x00\x01\x02" + f"TOKEN={tok}".encode()) == []


def test_huge_lines_are_bounded(scanner):
    tok = G.github()
    line = ("password=" + "a" * 20 + ";") * 200_000 + f" TOKEN={tok} " + "x" * 5_000_000
    t0 = time.perf_counter()
    found = scanner.scan_bytes("bundle.min.js", line.encode())
    elapsed = time.perf_counter() - t0
    assert tok in [m.value for m in found]
    assert elapsed < 15, elapsed


def test_many_candidates_are_bounded(scanner):
    text = "".join(f"password_{i}: 'Xy{i:08d}#Qz!'\n" for i in range(50_000))
    t0 = time.perf_counter()
    found = scanner.scan_bytes("big.yaml", text.encode())
    assert 0 < len(found) <= 2000
    assert time.perf_counter() - t0 < 20


# --------------------------------------------------------------------------------------
# API, versions, extra rules, pre-filter
# --------------------------------------------------------------------------------------
def test_version_and_pickle(tmp_path, scanner):
    assert RULESET_VERSION.startswith("secrets-") and scanner.version == RULESET_VERSION
    extra = tmp_path / "rules.yaml"
    extra.write_text("""
rules:
  - id: acme-token
    kind: ACME internal token
    family: acme
    severity: high
    confidence: high
    keywords: [acme_]
    regex: '(?P<secret>acme_[a-z0-9]{24})'
allow:
  values: ['^ghp_0{30}']
  paths: ['(^|/)vendor/']
""")
    custom = SecretScanner(extra_rules_path=extra)
    assert custom.version.startswith(RULESET_VERSION + "+") and custom.version != RULESET_VERSION
    text = "ACME=acme_" + G.s("abcdefghijklmnopqrstuvwxyz0123456789", 24) + "\n"
    assert rules_of(custom.scan_text("a.env", text)) == ["acme-token"]
    assert scanner.scan_text("a.env", text) == []
    assert custom.scan_text("vendor/lib/a.env", f"T={G.github()}\n") == []
    clone = pickle.loads(pickle.dumps(custom))
    assert clone.version == custom.version and rules_of(clone.scan_text("a.env", text)) == ["acme-token"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    regex: '('\n")
    with pytest.raises(RulesError):
        SecretScanner(extra_rules_path=bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("rules:\n  - id: jwt\n    regex: 'x'\n")
    with pytest.raises(RulesError):
        SecretScanner(extra_rules_path=dup)


@pytest.mark.parametrize("args,expected", [
    (("src/app.py", 1200, True, "python"), True),
    (("deploy/.env", 300, True, "text"), True),
    (("notebooks/a.ipynb", 5_000_000, True, "jupyter"), True),
    (("backups/a.zip", 2_000_000, False, "zip"), True),
    (("backups/a.tar.gz", 2_000_000, False, "gz"), True),
    (("backups/a.tar.xz", 2_000_000, None, None), True),
    (("models/w.safetensors", 500_000_000, False, "safetensors"), False),
    (("models/m.pt", 50_000_000, False, "torch"), False),
    (("img/logo.png", 20_000, False, "png"), False),
    (("data/big.csv", 200_000_000, True, "csv"), False),
    (("build/blob", 4000, False, "binary"), False),
    (("empty.txt", 0, None, "empty"), False),
    (("unknown/file", 4000, None, None), True),
    (("backups/huge.zip", 900_000_000, False, "zip"), False),
])
def test_is_scannable(args, expected):
    assert is_scannable(*args) is expected


def test_values_never_leak_into_repr_of_rules():
    for r in rule_summaries():
        assert set(r) == {"id", "kind", "family", "severity", "confidence"}
    counts = defaultdict(int)
    for r in rule_summaries():
        counts[r["id"]] += 1
    assert max(counts.values()) == 1


def test_mutated_corpus_never_raises(scanner, corpus):
    """Truncations, flipped bytes and injected NULs / newlines in every kind of corpus file."""
    rng = random.Random(11)
    files = sorted(corpus.files.items())
    for i in range(300):
        path, data = files[i % len(files)]
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            op = rng.randrange(4)
            pos = rng.randrange(len(b)) if b else 0
            if op == 0:
                b = b[:pos]
            elif op == 1 and b:
                b[pos] = rng.randrange(256)
            elif op == 2:
                b[pos:pos] = rng.choice([b"\x00", b"\n", b'"', b"\\", b"\xff", b"{", b"-----BEGIN "])
            else:
                b[pos:pos] = b[max(0, pos - 50):pos]
        result = scanner.scan_bytes(path, bytes(b))
        assert isinstance(result, list)


def test_fallback_prefilter_without_ahocorasick(monkeypatch, corpus):
    """Without the ahocorasick_rs package a combined regex finds the keywords (more slowly)."""
    from anfl_assets.domain.security import secrets as mod
    monkeypatch.setattr(mod, "_ac_rs", None)
    monkeypatch.setattr(mod, "_DEFAULT_RULESET", None)
    fallback = mod.SecretScanner()
    assert fallback._rs.automaton._ac is None
    labels = {(p.path, p.member, p.line) for p in corpus.positives}
    hits = {(path, m.member, m.line) for path, data in corpus.files.items() for m in fallback.scan_bytes(path, data)}
    assert len(hits & labels) / len(labels) >= 0.95
    assert len(hits & labels) / len(hits) >= 0.95


def test_a_secret_as_a_shell_default_value_is_found():
    """`${VAR:-<token>}` is a reference with a real fallback value: the fallback leaks."""
    from anfl_assets.domain.security.secrets import SecretScanner

    token = "xoxb-27175646928-5484769991998-WpGSxB6g8CtZdZiU6FYDj0b4"
    found = SecretScanner().scan_bytes("deploy.sh", f'TOKEN="${{SLACK_BOT_TOKEN:-{token}}}"\nX="${{Y:-}}"\n'.encode())
    assert [(m.rule, m.line, m.value) for m in found] == [("slack-bot-token", 1, token)]
