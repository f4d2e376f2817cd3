"""misconfig: each rule fires on a risky file and stays quiet on its safe twin; lines and
resources; Helm templates; detection without a classification; bad input; the sample estate."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from anfl_assets.domain.demo_estate import ROOT_NAME, write_demo_estate
from anfl_assets.domain.enrich.classify import Classifier
from anfl_assets.domain.security import SEVERITIES, RiskFinding
from anfl_assets.domain.security.misconfig import (
    MAX_BYTES,
    PURE_YAML_MAX_BYTES,
    RULES,
    RULESET_VERSION,
    scan_misconfig,
)

SECRET = "hunter2-Pr0d-Zq8w"   # a literal password used in fixtures; must never reach a message


def scan(kind: str | None, path: str, content: str | bytes) -> list[RiskFinding]:
    data = content.encode() if isinstance(content, str) else content
    out = scan_misconfig(path, data, kind)
    for f in out:
        assert f.rule in RULES
        assert f.severity in SEVERITIES
        assert f.title == RULES[f.rule][0]
        assert SECRET not in f.message
        assert f.line is None or f.line >= 1
    return out


def rules_of(kind, path, content) -> list[str]:
    return [f.rule for f in scan(kind, path, content)]


def _indent(text: str, n: int) -> str:
    text = textwrap.dedent(text).strip("\n")
    return "".join(" " * n + line + "\n" for line in text.splitlines()) if text else ""


def deploy(pod: str = "", sc: str = "", container: str = "", image: str = "registry.example/api:1.2.3",
           pod_sc: str = "runAsNonRoot: true", ape: str = "allowPrivilegeEscalation: false",
           resources: str = "resources:\n  limits:\n    memory: 512Mi", namespace: str = "prod",
           kind: str = "Deployment") -> str:
    """A Deployment that is clean unless told otherwise."""
    return (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: api\n  namespace: {namespace}\n"
        "spec:\n  template:\n    spec:\n"
        + ("      securityContext:\n" + _indent(pod_sc, 8) if pod_sc else "")
        + _indent(pod, 6)
        + "      containers:\n        - name: web\n"
        + f"          image: {image}\n"
        + ("          securityContext:\n" + _indent(ape, 12) + _indent(sc, 12) if (ape or sc) else "")
        + _indent(resources, 10)
        + _indent(container, 10)
    )


SAFE_DOCKERFILE = """\
# syntax=docker/dockerfile:1.6
FROM python:3.11-slim AS build
RUN pip wheel --wheel-dir /w -r requirements.txt
FROM python:3.11-slim
COPY --from=build /w /w
{extra}
USER app
CMD ["python", "-m", "app"]
"""


def dockerfile(extra: str = "", user: str | None = "USER app", base: str = "python:3.11-slim") -> str:
    text = SAFE_DOCKERFILE.format(extra=extra).replace("FROM python:3.11-slim\n", f"FROM {base}\n")
    if user != "USER app":
        text = text.replace("USER app\n", f"{user}\n" if user else "")
    return text


def compose(service: str) -> str:
    return "services:\n  db:\n    image: postgres:15.5\n" + _indent(service, 4)


def tf(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


K8S, DOCKER, COMPOSE, TF = "kubernetes", "dockerfile", "compose", "terraform"
KP, DP, CP, TP = "k8s/app.yaml", "docker/Dockerfile", "docker-compose.yml", "infra/main.tf"

# (rule, kind, path, risky content, needle: the flagged line is the first containing it)
POSITIVE = [
    ("k8s-privileged-container", K8S, KP, deploy(sc="privileged: true"), "privileged: true"),
    ("k8s-allow-privilege-escalation", K8S, KP, deploy(ape="allowPrivilegeEscalation: true"),
     "allowPrivilegeEscalation: true"),
    ("k8s-privilege-escalation-not-blocked", K8S, KP, deploy(ape="", sc="readOnlyRootFilesystem: true"),
     "securityContext:\n            readOnly"),
    ("k8s-host-namespace", K8S, KP, deploy(pod="hostPID: true"), "hostPID"),
    ("k8s-hostpath-volume", K8S, KP, deploy(pod="volumes:\n  - name: logs\n    hostPath:\n      path: /var/log"),
     "hostPath"),
    ("k8s-container-runtime-socket", K8S, KP,
     deploy(pod="volumes:\n  - name: sock\n    hostPath: {path: /var/run/docker.sock, type: Socket}"), "hostPath"),
    ("k8s-run-as-root", K8S, KP, deploy(sc="runAsUser: 0"), "runAsUser: 0"),
    ("k8s-root-not-prevented", K8S, KP, deploy(pod_sc="runAsNonRoot: false"), "runAsNonRoot: false"),
    ("k8s-image-tag-latest", K8S, KP, deploy(image="nginx:latest"), "image: nginx"),
    ("k8s-image-tag-latest", K8S, KP, deploy(image="docker.io/library/nginx"), "image: docker.io"),
    ("k8s-missing-resource-limits", K8S, KP, deploy(resources="resources:\n  requests:\n    cpu: 100m"),
     "resources:"),
    ("k8s-dangerous-capabilities", K8S, KP, deploy(sc="capabilities:\n  add: [NET_ADMIN, SYS_ADMIN]"), "add:"),
    ("k8s-secret-in-env", K8S, KP, deploy(container=f"env:\n  - name: DB_PASSWORD\n    value: {SECRET}"),
     f"value: {SECRET}"),
    ("k8s-default-namespace", K8S, KP, deploy(namespace="default"), "namespace: default"),
    ("k8s-service-exposed", K8S, "k8s/svc.yaml",
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n",
     "type: LoadBalancer"),
    ("k8s-cluster-admin-binding", K8S, "k8s/rbac.yaml",
     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: ci\nroleRef:\n"
     "  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n"
     "  - {kind: ServiceAccount, name: ci, namespace: ci}\n", "name: cluster-admin"),
    ("k8s-rbac-wildcard", K8S, "k8s/role.yaml",
     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: god\nrules:\n"
     "  - apiGroups: ['*']\n    resources: ['*']\n    verbs: ['*']\n", "- apiGroups"),
    # Dockerfile
    ("docker-no-user", DOCKER, DP, dockerfile(user=None), "FROM python:3.11-slim\n"),
    ("docker-user-root", DOCKER, DP, dockerfile(user="USER root"), "USER root"),
    ("docker-image-tag-latest", DOCKER, DP, dockerfile(base="ubuntu"), "FROM ubuntu"),
    ("docker-image-tag-latest", DOCKER, DP, dockerfile(base="node:latest"), "FROM node:latest"),
    ("docker-add-remote-url", DOCKER, DP, dockerfile("ADD https://example.com/tool.tar.gz /opt/"), "ADD https"),
    ("docker-curl-pipe-shell", DOCKER, DP, dockerfile("RUN curl -fsSL https://get.example.com/install.sh | bash"),
     "RUN curl"),
    ("docker-curl-pipe-shell", DOCKER, DP, dockerfile("RUN wget -qO- https://x.example/i.sh | sudo sh -s --"),
     "RUN wget"),
    ("docker-apt-unpinned", DOCKER, DP,
     dockerfile("RUN apt-get update \\\n    && apt-get install -y --no-install-recommends curl ca-certificates"),
     "RUN apt-get"),
    ("docker-secret-in-env", DOCKER, DP, dockerfile(f"ENV APP_ENV=prod DB_PASSWORD={SECRET}"), "ENV APP_ENV"),
    ("docker-secret-in-env", DOCKER, DP, dockerfile(f"ARG NPM_TOKEN={SECRET}"), "ARG NPM_TOKEN"),
    ("docker-expose-ssh", DOCKER, DP, dockerfile("EXPOSE 8080 22/tcp"), "EXPOSE"),
    # compose
    ("compose-privileged", COMPOSE, CP, compose("privileged: true"), "privileged"),
    ("compose-host-namespace", COMPOSE, CP, compose("network_mode: host"), "network_mode"),
    ("compose-container-runtime-socket", COMPOSE, CP,
     compose("volumes:\n  - /var/run/docker.sock:/var/run/docker.sock"), "docker.sock"),
    ("compose-secret-in-env", COMPOSE, CP, compose(f"environment:\n  POSTGRES_PASSWORD: {SECRET}"), SECRET),
    ("compose-secret-in-env", COMPOSE, CP, compose(f"environment:\n  - POSTGRES_PASSWORD={SECRET}"), SECRET),
    # Terraform
    ("tf-open-ingress-admin-ports", TF, TP, tf('''
        resource "aws_security_group" "bastion" {
          name = "bastion"
          ingress {
            from_port   = 22
            to_port     = 22
            protocol    = "tcp"
            cidr_blocks = ["0.0.0.0/0"]
          }
        }
        '''), "cidr_blocks"),
    ("tf-open-ingress-admin-ports", TF, TP, tf('''
        resource "aws_security_group_rule" "all" {
          type        = "ingress"
          from_port   = 0
          to_port     = 0
          protocol    = "-1"
          cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"]
          security_group_id = aws_security_group.x.id
        }
        '''), "cidr_blocks"),
    ("tf-open-ingress-admin-ports", TF, TP, tf('''
        resource "google_compute_firewall" "ssh" {
          name    = "ssh"
          network = "default"
          allow {
            protocol = "tcp"
            ports    = ["22", "8000-9000"]
          }
          source_ranges = ["0.0.0.0/0"]
        }
        '''), "source_ranges"),
    ("tf-open-ingress-admin-ports", TF, TP, tf('''
        resource "azurerm_network_security_rule" "rdp" {
          name                        = "rdp"
          direction                   = "Inbound"
          access                      = "Allow"
          protocol                    = "Tcp"
          source_port_range           = "*"
          destination_port_range      = "3389"
          source_address_prefix       = "*"
          destination_address_prefix  = "*"
        }
        '''), "source_address_prefix "),
    ("tf-open-ingress", TF, TP, tf('''
        resource "aws_security_group" "web" {
          ingress {
            from_port        = 443
            to_port          = 443
            protocol         = "tcp"
            ipv6_cidr_blocks = ["::/0"]
          }
        }
        '''), "ipv6_cidr_blocks"),
    ("tf-open-ingress", TF, TP, tf('''
        resource "aws_vpc_security_group_ingress_rule" "https" {
          security_group_id = aws_security_group.web.id
          cidr_ipv4   = "0.0.0.0/0"
          from_port   = 443
          ip_protocol = "tcp"
          to_port     = 443
        }
        '''), "cidr_ipv4"),
    ("tf-aws-s3-public-acl", TF, TP, tf('''
        resource "aws_s3_bucket_acl" "site" {
          bucket = aws_s3_bucket.site.id
          acl    = "public-read"
        }
        '''), "acl "),
    ("tf-aws-s3-public-acl", TF, TP, tf('''
        resource "aws_s3_bucket" "old" {
          bucket = "old"
          acl    = "public-read-write"
          server_side_encryption_configuration {
            rule {
              apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
            }
          }
        }
        '''), "acl "),
    ("tf-aws-s3-public-access-block-disabled", TF, TP, tf('''
        resource "aws_s3_bucket_public_access_block" "site" {
          bucket                  = aws_s3_bucket.site.id
          block_public_acls       = true
          block_public_policy     = false
          ignore_public_acls      = true
          restrict_public_buckets = true
        }
        '''), "block_public_policy"),
    ("tf-aws-s3-no-encryption", TF, TP, tf('''
        resource "aws_s3_bucket" "logs" {
          bucket = "acme-logs"
        }
        '''), 'resource "aws_s3_bucket"'),
    ("tf-aws-rds-unencrypted", TF, TP, tf('''
        resource "aws_db_instance" "db" {
          engine            = "postgres"
          instance_class    = "db.t4g.small"
          storage_encrypted = false
        }
        '''), "storage_encrypted"),
    ("tf-aws-rds-unencrypted", TF, TP, tf('''
        resource "aws_db_instance" "db" {
          engine         = "postgres"
          instance_class = "db.t4g.small"
        }
        '''), 'resource "aws_db_instance"'),
    ("tf-aws-rds-public", TF, TP, tf('''
        resource "aws_db_instance" "db" {
          engine              = "mysql"
          storage_encrypted   = true
          publicly_accessible = true
        }
        '''), "publicly_accessible"),
    ("tf-aws-ebs-unencrypted", TF, TP, tf('''
        resource "aws_ebs_volume" "data" {
          availability_zone = "eu-west-1a"
          size              = 100
          encrypted         = false
        }
        '''), "encrypted"),
    ("tf-aws-ebs-unencrypted", TF, TP, tf('''
        resource "aws_instance" "vm" {
          ami = "ami-123"
          root_block_device {
            volume_size = 50
            encrypted   = false
          }
        }
        '''), "encrypted"),
    ("tf-aws-iam-wildcard-policy", TF, TP, tf('''
        resource "aws_iam_policy" "admin" {
          name = "admin"
          policy = jsonencode({
            Version = "2012-10-17"
            Statement = [
              {
                Effect   = "Allow"
                Action   = "*"
                Resource = "*"
              },
            ]
          })
        }
        '''), "Action "),
    ("tf-aws-iam-wildcard-policy", TF, TP, tf('''
        resource "aws_iam_role_policy" "admin" {
          role   = aws_iam_role.ci.id
          policy = <<EOF
        {
          "Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": "*"}]
        }
        EOF
        }
        '''), '"Action"'),
    ("tf-aws-iam-wildcard-policy", TF, TP, tf('''
        data "aws_iam_policy_document" "admin" {
          statement {
            effect    = "Allow"
            actions   = ["*"]
            resources = ["*"]
          }
        }
        '''), "actions "),
    ("tf-aws-cloudtrail-logging-disabled", TF, TP, tf('''
        resource "aws_cloudtrail" "main" {
          name           = "main"
          s3_bucket_name = "trail"
          enable_logging = false
        }
        '''), "enable_logging"),
    ("tf-provider-hardcoded-credentials", TF, TP, tf(f'''
        provider "aws" {{
          region     = "eu-west-1"
          access_key = "AKIAIOSFODNN7EXAMPLE"
          secret_key = "{SECRET}"
        }}
        '''), "access_key"),
    ("tf-provider-hardcoded-credentials", TF, TP, tf(f'''
        terraform {{
          backend "s3" {{
            bucket     = "state"
            key        = "x.tfstate"
            secret_key = "{SECRET}"
          }}
        }}
        '''), "secret_key"),
    ("tf-aws-kms-rotation-disabled", TF, TP, tf('''
        resource "aws_kms_key" "data" {
          description         = "data key"
          enable_key_rotation = false
        }
        '''), "enable_key_rotation"),
    ("tf-aws-kms-rotation-disabled", TF, TP, tf('''
        resource "aws_kms_key" "data" {
          description = "data key"
        }
        '''), 'resource "aws_kms_key"'),
    ("tf-gcp-storage-public", TF, TP, tf('''
        resource "google_storage_bucket_iam_member" "public" {
          bucket = google_storage_bucket.site.name
          role   = "roles/storage.objectViewer"
          member = "allUsers"
        }
        '''), "member ="),
    ("tf-gcp-sql-public", TF, TP, tf('''
        resource "google_sql_database_instance" "db" {
          name             = "db"
          database_version = "POSTGRES_15"
          settings {
            tier = "db-f1-micro"
            ip_configuration {
              ipv4_enabled = true
              authorized_networks {
                name  = "anyone"
                value = "0.0.0.0/0"
              }
            }
          }
        }
        '''), 'value = "0.0.0.0/0"'),
    ("tf-azure-storage-public", TF, TP, tf('''
        resource "azurerm_storage_container" "site" {
          name                  = "site"
          storage_account_name  = azurerm_storage_account.sa.name
          container_access_type = "blob"
        }
        '''), "container_access_type"),
    ("tf-azure-storage-public", TF, TP, tf('''
        resource "azurerm_storage_account" "sa" {
          name                            = "sa"
          allow_nested_items_to_be_public = true
        }
        '''), "allow_nested_items_to_be_public"),
]

# (rule, kind, path, similar safe content): the rule must not fire
NEGATIVE = [
    ("k8s-privileged-container", K8S, KP, deploy(sc="privileged: false")),
    ("k8s-allow-privilege-escalation", K8S, KP, deploy()),
    ("k8s-privilege-escalation-not-blocked", K8S, KP, deploy()),
    ("k8s-privilege-escalation-not-blocked", K8S, KP, deploy(ape="", sc="privileged: true")),  # privileged says it all
    ("k8s-host-namespace", K8S, KP, deploy(pod="hostPID: false\nhostNetwork: false")),
    ("k8s-hostpath-volume", K8S, KP, deploy(pod="volumes:\n  - name: tmp\n    emptyDir: {}")),
    ("k8s-container-runtime-socket", K8S, KP,
     deploy(pod="volumes:\n  - name: logs\n    hostPath:\n      path: /var/log")),
    ("k8s-run-as-root", K8S, KP, deploy(sc="runAsUser: 1000")),
    ("k8s-run-as-root", K8S, KP, deploy(pod_sc="runAsUser: 0", sc="runAsUser: 1000")),   # container overrides pod
    ("k8s-root-not-prevented", K8S, KP, deploy()),
    ("k8s-root-not-prevented", K8S, KP, deploy(pod_sc="", sc="runAsUser: 10001")),
    ("k8s-image-tag-latest", K8S, KP, deploy(image="nginx:1.25.3")),
    ("k8s-image-tag-latest", K8S, KP, deploy(image="nginx@sha256:" + "a" * 64)),
    ("k8s-image-tag-latest", K8S, KP, deploy(image="registry.example:5000/team/app:2.0")),
    ("k8s-missing-resource-limits", K8S, KP, deploy()),
    ("k8s-dangerous-capabilities", K8S, KP, deploy(sc="capabilities:\n  drop: [ALL]\n  add: [NET_BIND_SERVICE]")),
    ("k8s-secret-in-env", K8S, KP, deploy(container="env:\n  - name: DB_PASSWORD\n    valueFrom:\n"
                                                    "      secretKeyRef: {name: db, key: password}\n"
                                                    "  - name: DB_PASSWORD_FILE\n    value: /run/secrets/db\n"
                                                    "  - name: TOKEN_TTL\n    value: '3600'\n"
                                                    "  - name: CACHE_KEY\n    value: users-profile-cache-v2\n"
                                                    "  - name: API_KEY\n    value: $(API_KEY_FROM_SECRET)\n"
                                                    "  - name: AUTH_URL\n    value: https://auth.example/token\n"
                                                    "  - name: JWT_PUBLIC_KEY\n    value: MIIBIjANBgkqhkiG9w0BAQEFAAOC\n"
                                                    "  - name: SECRET_KEY\n    value: changeme\n")),
    ("k8s-default-namespace", K8S, KP, deploy(namespace="prod")),
    ("k8s-service-exposed", K8S, "k8s/svc.yaml",
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  type: ClusterIP\n  ports: [{port: 80}]\n"),
    ("k8s-cluster-admin-binding", K8S, "k8s/rbac.yaml",
     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: ci\nroleRef:\n"
     "  kind: ClusterRole\n  name: view\n"),
    ("k8s-rbac-wildcard", K8S, "k8s/role.yaml",
     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules:\n"
     "  - apiGroups: ['']\n    resources: ['*']\n    verbs: [get, list, watch]\n"),
    # Dockerfile
    ("docker-no-user", DOCKER, DP, dockerfile()),
    ("docker-no-user", DOCKER, DP, dockerfile(user=None, base="gcr.io/distroless/python3-debian12:nonroot")),
    ("docker-no-user", DOCKER, DP, "FROM alpine:3.19 AS base\nUSER 1000\nFROM base AS final\nCMD [\"sh\"]\n"),
    ("docker-no-user", DOCKER, DP, "FROM gcr.io/distroless/static-debian12:nonroot AS base\nFROM base\nCOPY app /app\n"),
    ("docker-user-root", DOCKER, DP, dockerfile(user="USER 10001:10001")),
    ("docker-user-root", DOCKER, DP, "FROM alpine:3.19\nUSER root\nRUN apk add --no-cache curl\nUSER app\n"),
    ("docker-image-tag-latest", DOCKER, DP, dockerfile(base="ubuntu:22.04")),
    ("docker-image-tag-latest", DOCKER, DP, dockerfile(base="ubuntu@sha256:" + "b" * 64)),
    ("docker-image-tag-latest", DOCKER, DP, "ARG BASE=python:3.12-slim\nFROM ${BASE}\nUSER app\n"),
    ("docker-image-tag-latest", DOCKER, DP, "FROM golang:1.22 AS build\nFROM scratch\nCOPY --from=build /b /b\n"
                                            "USER 65532\n"),
    ("docker-add-remote-url", DOCKER, DP, dockerfile("ADD --checksum=sha256:" + "c" * 64 +
                                                     " https://example.com/tool.tar.gz /opt/")),
    ("docker-add-remote-url", DOCKER, DP, dockerfile("ADD vendor.tar.gz /opt/")),
    ("docker-curl-pipe-shell", DOCKER, DP,
     dockerfile("RUN curl -fsSLo /tmp/i.sh https://get.example.com/i.sh && echo 'abc /tmp/i.sh' | sha256sum -c"
                " && sh /tmp/i.sh")),
    ("docker-apt-unpinned", DOCKER, DP,
     dockerfile("RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5")),
    ("docker-secret-in-env", DOCKER, DP, dockerfile("ENV DB_PASSWORD_FILE=/run/secrets/db\nARG NPM_TOKEN\n"
                                                    "ENV API_TOKEN=${API_TOKEN}\nENV PASSWORD_MIN_LENGTH=12")),
    ("docker-expose-ssh", DOCKER, DP, dockerfile("EXPOSE 8080 2222")),
    # compose
    ("compose-privileged", COMPOSE, CP, compose("privileged: false")),
    ("compose-host-namespace", COMPOSE, CP, compose("network_mode: bridge\npid: service:web")),
    ("compose-container-runtime-socket", COMPOSE, CP, compose("volumes:\n  - ./data:/var/lib/postgresql/data")),
    ("compose-secret-in-env", COMPOSE, CP,
     compose("environment:\n  POSTGRES_PASSWORD: ${PG_PASSWORD}\n  POSTGRES_HOST_AUTH_METHOD: trust\n"
             "  POSTGRES_PASSWORD_FILE: /run/secrets/pg")),
    # Terraform
    ("tf-open-ingress-admin-ports", TF, TP, tf('''
        resource "aws_security_group" "bastion" {
          ingress {
            from_port   = 22
            to_port     = 22
            protocol    = "tcp"
            cidr_blocks = ["10.0.0.0/8"]
          }
          egress {
            from_port   = 0
            to_port     = 0
            protocol    = "-1"
            cidr_blocks = ["0.0.0.0/0"]
          }
        }
        ''')),
    ("tf-open-ingress", TF, TP, tf('''
        resource "aws_security_group_rule" "https" {
          type        = "egress"
          from_port   = 443
          to_port     = 443
          protocol    = "tcp"
          cidr_blocks = ["0.0.0.0/0"]
        }
        ''')),
    ("tf-aws-s3-public-acl", TF, TP, tf('''
        resource "aws_s3_bucket_acl" "site" {
          bucket = aws_s3_bucket.site.id
          acl    = "private"
        }
        ''')),
    ("tf-aws-s3-public-access-block-disabled", TF, TP, tf('''
        resource "aws_s3_bucket_public_access_block" "site" {
          bucket                  = aws_s3_bucket.site.id
          block_public_acls       = true
          block_public_policy     = true
          ignore_public_acls      = true
          restrict_public_buckets = true
        }
        ''')),
    ("tf-aws-s3-no-encryption", TF, TP, tf('''
        resource "aws_s3_bucket" "logs" {
          bucket = "acme-logs"
        }
        resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
          bucket = aws_s3_bucket.logs.id
          rule {
            apply_server_side_encryption_by_default {
              sse_algorithm = "aws:kms"
            }
          }
        }
        ''')),
    ("tf-aws-rds-unencrypted", TF, TP, tf('''
        resource "aws_db_instance" "db" {
          engine            = "postgres"
          storage_encrypted = true
        }
        resource "aws_db_instance" "replica" {
          replicate_source_db = aws_db_instance.db.identifier
        }
        ''')),
    ("tf-aws-rds-public", TF, TP, tf('''
        resource "aws_db_instance" "db" {
          storage_encrypted   = true
          publicly_accessible = false
        }
        ''')),
    ("tf-aws-ebs-unencrypted", TF, TP, tf('''
        resource "aws_ebs_volume" "data" {
          availability_zone = "eu-west-1a"
          encrypted         = true
        }
        ''')),
    ("tf-aws-iam-wildcard-policy", TF, TP, tf('''
        resource "aws_iam_policy" "reader" {
          policy = jsonencode({
            Statement = [
              { Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" },
              { Effect = "Allow", Action = "*", Resource = "arn:aws:s3:::bucket/*" },
              { Effect = "Deny", Action = "*", Resource = "*" },
              { Effect = "Allow", NotAction = "*", Resource = "*" },
            ]
          })
        }
        ''')),
    ("tf-aws-cloudtrail-logging-disabled", TF, TP, tf('''
        resource "aws_cloudtrail" "main" {
          name           = "main"
          enable_logging = true
        }
        ''')),
    ("tf-provider-hardcoded-credentials", TF, TP, tf('''
        provider "aws" {
          region                   = "eu-west-1"
          access_key               = var.access_key
          secret_key               = "${var.secret_key}"
          shared_credentials_files = ["~/.aws/credentials"]
          profile                  = "prod"
        }
        provider "google" {
          credentials = "account.json"
        }
        ''')),
    ("tf-aws-kms-rotation-disabled", TF, TP, tf('''
        resource "aws_kms_key" "data" {
          enable_key_rotation = true
        }
        resource "aws_kms_key" "signing" {
          customer_master_key_spec = "RSA_4096"
          key_usage                = "SIGN_VERIFY"
        }
        ''')),
    ("tf-gcp-storage-public", TF, TP, tf('''
        resource "google_storage_bucket_iam_member" "reader" {
          bucket = google_storage_bucket.site.name
          role   = "roles/storage.objectViewer"
          member = "group:eng@example.com"
        }
        ''')),
    ("tf-gcp-sql-public", TF, TP, tf('''
        resource "google_sql_database_instance" "db" {
          settings {
            ip_configuration {
              authorized_networks {
                name  = "office"
                value = "203.0.113.0/24"
              }
            }
          }
        }
        ''')),
    ("tf-azure-storage-public", TF, TP, tf('''
        resource "azurerm_storage_container" "site" {
          name                  = "site"
          container_access_type = "private"
        }
        resource "azurerm_storage_account" "sa" {
          allow_nested_items_to_be_public = false
        }
        ''')),
]


def _line_of(content: str, needle: str) -> int:
    idx = content.index(needle)
    return content.count("\n", 0, idx) + 1


@pytest.mark.parametrize("rule, kind, path, content, needle", POSITIVE,
                         ids=[f"{r}-{n}" for n, (r, *_rest) in enumerate(POSITIVE)])
def test_rule_fires_at_the_offending_line(rule, kind, path, content, needle):
    found = [f for f in scan(kind, path, content) if f.rule == rule]
    assert found, scan(kind, path, content)
    assert found[0].line == _line_of(content, needle), found
    assert found[0].resource
    assert found[0].message


@pytest.mark.parametrize("rule, kind, path, content", NEGATIVE,
                         ids=[f"{r}-{n}" for n, (r, *_rest) in enumerate(NEGATIVE)])
def test_similar_safe_case_is_quiet(rule, kind, path, content):
    found = scan(kind, path, content)
    assert rule not in [f.rule for f in found], found


def test_every_rule_has_a_positive_and_a_negative_case():
    assert {r for r, *_ in POSITIVE} == set(RULES)
    assert {r for r, *_ in NEGATIVE} == set(RULES)


def test_module_metadata():
    assert RULESET_VERSION
    assert len(RULES) >= 25
    for rid, (title, severity) in RULES.items():
        assert title and severity in SEVERITIES
        assert rid.split("-", 1)[0] in ("k8s", "docker", "compose", "tf")


def test_identities_are_unique_within_a_file():
    """The pipeline identifies a misconfiguration by (rule, path, resource): two findings of one
    rule in one file need different resources."""
    text = (deploy(pod="hostNetwork: true\nhostPID: true\nvolumes:\n  - name: a\n    hostPath: {path: /a}\n"
                       "  - name: b\n    hostPath: {path: /b}",
                   container=f"env:\n  - name: DB_PASSWORD\n    value: {SECRET}\n  - name: API_TOKEN\n    value: {SECRET}")
            + "---\n" + deploy(sc="privileged: true").replace("name: api", "name: other"))
    dockerfile_text = ("FROM ubuntu:22.04 AS a\nRUN apt-get install -y curl\nRUN apt-get install -y git\n"
                       "RUN curl https://a.example/i.sh | sh\nRUN curl https://b.example/i.sh?token=x | sh\n"
                       f"ENV DB_PASSWORD={SECRET} API_TOKEN={SECRET}\n"
                       "ADD https://a.example/x.tgz /x\nADD https://user:pw@b.example/y.tgz?sig=abc /y\nUSER app\n")
    sg = tf('''
        resource "aws_security_group" "web" {
          ingress {
            from_port   = 80
            to_port     = 80
            protocol    = "tcp"
            cidr_blocks = ["0.0.0.0/0"]
          }
          ingress {
            from_port   = 443
            to_port     = 443
            protocol    = "tcp"
            cidr_blocks = ["0.0.0.0/0"]
          }
        }
        resource "aws_instance" "vm" {
          root_block_device { encrypted = false }
          ebs_block_device {
            device_name = "/dev/sdb"
            encrypted   = false
          }
          ebs_block_device {
            device_name = "/dev/sdc"
            encrypted   = false
          }
        }
        ''')
    for kind, path, content, at_least in ((K8S, KP, text, 6), (DOCKER, DP, dockerfile_text, 8), (TF, TP, sg, 5)):
        found = scan(kind, path, content)
        ids = [(f.rule, f.resource) for f in found]
        assert len(ids) == len(set(ids)), ids
        assert len(found) >= at_least, found
        for f in found:   # URLs are shown without credentials or query strings
            assert "pw@" not in (f.resource + f.message) and "sig=" not in (f.resource + f.message)
            assert "token=" not in (f.resource + f.message)
    all_positive = [(r, k, p, c) for r, k, p, c, _ in POSITIVE]
    for _, kind, path, content in all_positive:
        ids = [(f.rule, f.resource) for f in scan(kind, path, content)]
        assert len(ids) == len(set(ids)), ids


def test_clean_files_give_nothing():
    assert scan(K8S, KP, deploy()) == []
    assert scan(DOCKER, DP, dockerfile()) == []
    assert scan(COMPOSE, CP, compose("restart: always")) == []
    assert scan(TF, TP, tf('''
        resource "aws_s3_bucket" "b" {
          bucket = "b"
        }
        resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
          bucket = aws_s3_bucket.b.bucket
          rule {
            apply_server_side_encryption_by_default { sse_algorithm = "aws:kms" }
          }
        }
        resource "aws_s3_bucket_public_access_block" "b" {
          bucket                  = aws_s3_bucket.b.id
          block_public_acls       = true
          block_public_policy     = true
          ignore_public_acls      = true
          restrict_public_buckets = true
        }
        ''')) == []


# --------------------------------------------------------------------------------------
# details
# --------------------------------------------------------------------------------------
def test_resources_and_messages_name_the_object_and_container():
    content = deploy(sc="privileged: true", container="env:\n  - name: API_TOKEN\n    value: " + SECRET)
    by_rule = {f.rule: f for f in scan(K8S, KP, content)}
    priv = by_rule["k8s-privileged-container"]
    assert priv.resource == "Deployment/api container web"
    assert "Deployment/api container web" in priv.message
    env = by_rule["k8s-secret-in-env"]
    assert "API_TOKEN" in env.message and SECRET not in env.message
    (sg,) = scan(TF, TP, tf('''
        resource "aws_security_group" "web" {
          ingress {
            from_port   = 8080
            to_port     = 8080
            protocol    = "tcp"
            cidr_blocks = ["0.0.0.0/0"]
          }
        }
        '''))
    assert (sg.rule, sg.severity, sg.resource) == ("tf-open-ingress", "high", "aws_security_group.web ingress port 8080")
    assert "port 8080" in sg.message and "0.0.0.0/0" in sg.message


def test_multi_document_and_workload_kinds():
    pod_spec = ("    spec:\n      containers:\n        - name: c\n          image: busybox\n"
                "          securityContext: {privileged: true}\n")
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: busybox\n"
        "      securityContext: {privileged: true}\n"
        "---\n"
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: '* * * * *'\n"
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
        "            - {name: c, image: busybox, securityContext: {privileged: true}}\n"
        + "---\n"
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: ss}\nspec:\n  template:\n" + pod_spec
        + "---\n"
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  template:\n"
        + pod_spec.replace("containers", "initContainers")
        + "---\n"
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: listed}\n"
        "    spec:\n      containers:\n        - {name: c, image: busybox, securityContext: {privileged: true}}\n"
    )
    found = {f.resource for f in scan(K8S, KP, text) if f.rule == "k8s-privileged-container"}
    assert found == {"Pod/p container c", "CronJob/cj container c", "StatefulSet/ss container c",
                     "DaemonSet/ds init container c", "Pod/listed container c"}


def test_broken_document_keeps_earlier_findings():
    text = deploy(sc="privileged: true") + "---\nkind: [unclosed\n"
    assert "k8s-privileged-container" in rules_of(K8S, KP, text)


def test_pod_level_run_as_user_zero():
    found = [f for f in scan(K8S, KP, deploy(pod_sc="runAsUser: 0")) if f.rule == "k8s-run-as-root"]
    assert len(found) == 1 and found[0].line == _line_of(deploy(pod_sc="runAsUser: 0"), "runAsUser: 0")


def test_docker_stage_chain_and_heredocs():
    text = ("FROM python:3.11-slim AS base\nUSER root\n"
            "FROM base AS final\n"
            "RUN <<EOF\nset -e\nUSER nobody\ncurl https://x | sh\nEOF\n"
            "CMD [\"python\"]\n")
    found = scan(DOCKER, DP, text)
    rules = {f.rule: f for f in found}
    # USER root is inherited from the base stage; the heredoc's lines are not instructions
    assert rules["docker-user-root"].line == 2
    assert rules["docker-curl-pipe-shell"].line == 4          # reported on the RUN line
    # continuation lines and a parser directive for the escape character
    text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN apt-get install -y `\n    curl\nUSER app\n"
    (f,) = scan(DOCKER, "Dockerfile.win", text)
    assert (f.rule, f.line) == ("docker-apt-unpinned", 3)


def test_dockerignore_classified_as_dockerfile_gives_nothing():
    assert scan(DOCKER, "docker/.dockerignore", "node_modules\n*.log\n") == []


def test_helm_templates_best_effort():
    template = textwrap.dedent('''\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "app.fullname" . }}
          labels:
            {{- include "app.labels" . | nindent 4 }}
        spec:
          template:
            spec:
              {{- with .Values.podSecurityContext }}
              securityContext:
                {{- toYaml . | nindent 8 }}
              {{- end }}
              hostNetwork: true
              containers:
                - name: {{ .Chart.Name }}
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                  securityContext:
                    privileged: true
                  resources:
                    {{- toYaml .Values.resources | nindent 12 }}
        ''')
    found = scan("helm", "charts/app/templates/deployment.yaml", template)
    assert sorted((f.rule, f.line) for f in found) == [("k8s-host-namespace", 14), ("k8s-privileged-container", 19)]
    assert found[0].resource.startswith("Deployment/<templated>")
    # values files, helpers and notes are not checked; a broken template gives nothing
    assert scan("helm", "charts/app/values.yaml", "securityContext:\n  privileged: true\n") == []
    assert scan("helm", "charts/app/templates/_helpers.tpl", '{{- define "x" -}}privileged: true{{- end }}') == []
    assert scan("helm", "charts/app/templates/x.yaml", "{{- range .Values.x }}\n- {{ . | quote\n") == []
    # a kubernetes-classified file with template actions is treated the same way
    assert [f.rule for f in scan(K8S, "k8s/tpl.yaml", template)] == ["k8s-host-namespace", "k8s-privileged-container"]


def test_kind_decided_from_path_and_content_when_unclassified():
    assert "docker-user-root" in rules_of(None, "services/api/Dockerfile.prod", "FROM alpine:3.19\nUSER root\n")
    assert "docker-user-root" in rules_of(None, "api.dockerfile", "FROM alpine:3.19\nUSER root\n")
    assert "k8s-privileged-container" in rules_of(None, "deploy/app.yml", deploy(sc="privileged: true"))
    assert "tf-aws-rds-public" in rules_of(None, "infra/db.tf",
                                           'resource "aws_db_instance" "x" {\n  storage_encrypted = true\n'
                                           '  publicly_accessible = true\n}\n')
    assert "compose-privileged" in rules_of(None, "docker-compose.prod.yml", compose("privileged: true"))
    # not infrastructure: nothing
    assert rules_of(None, "config/app.yaml", "privileged: true\nhostNetwork: true\n") == []
    assert rules_of(None, "README.md", "FROM alpine\nUSER root\n") == []
    assert rules_of(None, "Dockerfile.md", "FROM alpine\nUSER root\n") == []
    # kinds this module does not handle
    assert rules_of("ci", ".github/workflows/ci.yml", deploy(sc="privileged: true")) == []
    assert rules_of("ansible", "site.yml", deploy(sc="privileged: true")) == []


def test_terraform_tfvars_and_lock_files_give_nothing():
    assert scan(TF, "envs/prod.tfvars", 'environment = "prod"\ndb_password = "' + SECRET + '"\n') == []
    assert scan(TF, ".terraform.lock.hcl", 'provider "registry.terraform.io/hashicorp/aws" {\n'
                                           '  version = "5.31.0"\n  hashes = ["h1:abc="]\n}\n') == []


def test_terraform_comments_do_not_confuse_lines():
    text = tf('''
        # resource "aws_db_instance" "commented" {
        /* publicly_accessible = true */
        resource "aws_db_instance" "db" {
          // publicly_accessible = false
          storage_encrypted   = true
          publicly_accessible = true
        }
        ''')
    (f,) = scan(TF, TP, text)
    assert (f.rule, f.line) == ("tf-aws-rds-public", 6)


def test_open_admin_port_ranges():
    def sg(from_port, to_port, proto="tcp"):
        return tf(f'''
            resource "aws_security_group" "x" {{
              ingress {{
                from_port   = {from_port}
                to_port     = {to_port}
                protocol    = "{proto}"
                cidr_blocks = ["0.0.0.0/0"]
              }}
            }}
            ''')
    assert rules_of(TF, TP, sg(20, 25)) == ["tf-open-ingress-admin-ports"]
    assert rules_of(TF, TP, sg(3000, 4000)) == ["tf-open-ingress-admin-ports"]     # covers 3389
    assert rules_of(TF, TP, sg(0, 65535)) == ["tf-open-ingress-admin-ports"]
    assert rules_of(TF, TP, sg(0, 0, "-1")) == ["tf-open-ingress-admin-ports"]
    assert rules_of(TF, TP, sg(80, 80)) == ["tf-open-ingress"]
    assert rules_of(TF, TP, sg("var.port", "var.port")) == ["tf-open-ingress"]
    assert scan(TF, TP, sg(20, 25))[0].severity == "critical"


def test_public_access_block_reports_unset_flags():
    (f,) = scan(TF, TP, tf('''
        resource "aws_s3_bucket_public_access_block" "b" {
          bucket            = aws_s3_bucket.b.id
          block_public_acls = true
        }
        '''))
    assert f.rule == "tf-aws-s3-public-access-block-disabled"
    assert "restrict_public_buckets" in f.message and "defaults to false" in f.message
    assert f.line == 1


def test_provider_credentials_message_has_no_value():
    found = scan(TF, TP, tf(f'''
        provider "aws" {{
          access_key = "AKIAIOSFODNN7EXAMPLE"
          secret_key = "{SECRET}"
        }}
        '''))
    (f,) = found
    assert f.line == 2 and "access_key, secret_key" in f.message
    assert "AKIAIOSFODNN7EXAMPLE" not in f.message


# --------------------------------------------------------------------------------------
# malformed input never raises
# --------------------------------------------------------------------------------------
BAD_INPUTS = [
    b"",
    b"\x00\x01\x02\xff\xfe" * 100,
    b"\xff\xfe" + "apiVersion: v1\n".encode("utf-16-le"),
    b"apiVersion: v1\nkind: Pod\nspec: [unclosed\n",
    b"apiVersion: v1\nkind: Pod\nspec:\n  containers: 5\n",
    b"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - just a string\n    - {securityContext: 7, image: 3}\n",
    b"apiVersion: v1\nkind: Deployment\nspec:\n  template: {spec: {containers: [{env: [{name: 1, value: [1]}]}]}}\n",
    b"a: &a [*a, *a]\napiVersion: v1\nkind: Pod\nspec: *a\n",
    b"apiVersion: v1\nkind: Pod\n" + b"x:\n" + b"[" * 2000 + b"]" * 2000 + b"\n",
    b"kind: List\nitems: {not: a list}\n",
    b"kind: List\nitems:\n  - kind: List\n    items:\n      - kind: List\n        items:\n"
    b"          - kind: List\n            items: []\n",
    b"FROM\nUSER\nRUN <<EOF\nnever closed\n",
    b"RUN apt-get install curl\n",
    b"FROM alpine AS\nENV\nENV =\nARG ==\nENV A=\"unterminated\nEXPOSE\nADD\n",
    b"FROM a\n\\\n\\\n\\",
    b'resource "aws_security_group" "x" {\n  ingress {\n',
    b'resource "aws_s3_bucket" {\n}\n}}}\n',
    b'resource "aws_security_group" "x" {\n  ingress = "not a block"\n  dynamic "ingress" {\n    for_each = 1\n  }\n}\n',
    b'resource "aws_iam_policy" "p" {\n  policy = "{{{{\\"Action\\": \\"*\\""\n}\n',
    b'provider "aws" {\n  access_key = 5\n  secret_key = ["a"]\n}\nterraform {\n  backend "s3" {}\n}\n',
    b"services: [1, 2]\n",
    b"services:\n  web: 5\n  db:\n    volumes: 7\n    environment: 3\n",
    b"{{ template }}\n{{- if }}\n",
]


@pytest.mark.parametrize("kind", [None, K8S, "helm", DOCKER, COMPOSE, TF, "ci", "ansible", "weird"])
@pytest.mark.parametrize("content", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_malformed_input_never_raises(kind, content):
    for path in ("k8s/x.yaml", "charts/a/templates/x.yaml", "Dockerfile", "docker-compose.yml", "main.tf", "x"):
        out = scan_misconfig(path, content, kind)
        assert isinstance(out, list)


def test_big_bracket_heavy_yaml():
    # bracket-heavy YAML goes to the pure-Python loader (libyaml could crash on deep nesting):
    # still read when small, skipped when over PURE_YAML_MAX_BYTES
    small = deploy(sc="privileged: true") + "x: [" + ", ".join(["[1]"] * 600) + "]\n"
    assert "k8s-privileged-container" in rules_of(K8S, KP, small)
    big = deploy(sc="privileged: true") + "x: [" + ", ".join(["[1]"] * 300_000) + "]\n"
    assert PURE_YAML_MAX_BYTES < len(big) < MAX_BYTES
    started = time.perf_counter()
    assert scan(K8S, KP, big) == []
    assert time.perf_counter() - started < 2


def test_bad_arguments_never_raise():
    assert scan_misconfig(None, None, None) == []            # type: ignore[arg-type]
    assert scan_misconfig("x.tf", "text", "terraform") == []  # type: ignore[arg-type]
    assert scan_misconfig("k.yaml", b"x" * (MAX_BYTES + 1), K8S) == []


# --------------------------------------------------------------------------------------
# the sample estate
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def estate_findings(tmp_path_factory):
    out = tmp_path_factory.mktemp("estate")
    write_demo_estate(out, seed=7)
    root = out / ROOT_NAME
    classifier = Classifier()
    found: set[tuple[str, int | None, str, str, str | None]] = set()
    for dirpath, dirnames, filenames in os.walk(root / "infrastructure"):
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            rel = p.relative_to(root).as_posix()
            data = p.read_bytes()
            kind = classifier.classify(rel, data[:8192]).infra_kind
            for f in scan_misconfig(rel, data, kind):
                found.add((rel, f.line, f.rule, f.severity, f.resource))
    return found


def test_sample_estate_findings(estate_findings):
    # Verified by reading the generated files (seed 7):
    expected = {
        # node-exporter DaemonSet: host namespaces, privileged, host root mounted, no limits
        ("infrastructure/k8s/node-exporter.yaml", 15, "k8s-host-namespace", "high", "DaemonSet/node-exporter"),
        ("infrastructure/k8s/node-exporter.yaml", 22, "k8s-privileged-container", "critical",
         "DaemonSet/node-exporter container node-exporter"),
        ("infrastructure/k8s/node-exporter.yaml", 29, "k8s-hostpath-volume", "high",
         "DaemonSet/node-exporter volume root"),
        ("infrastructure/k8s/node-exporter.yaml", 18, "k8s-missing-resource-limits", "low",
         "DaemonSet/node-exporter container node-exporter"),
        # worker: :latest image, no resources, no securityContext
        ("infrastructure/k8s/worker.yaml", 18, "k8s-image-tag-latest", "medium",
         "Deployment/aeon-worker container worker"),
        ("infrastructure/k8s/worker.yaml", 17, "k8s-missing-resource-limits", "low",
         "Deployment/aeon-worker container worker"),
        ("infrastructure/k8s/worker.yaml", 17, "k8s-privilege-escalation-not-blocked", "low",
         "Deployment/aeon-worker container worker"),
        ("infrastructure/k8s/worker.yaml", 17, "k8s-root-not-prevented", "low",
         "Deployment/aeon-worker container worker"),
        # api: has a memory limit, but no securityContext
        ("infrastructure/k8s/api.yaml", 21, "k8s-privilege-escalation-not-blocked", "low",
         "Deployment/aeon-api container api"),
        ("infrastructure/k8s/api.yaml", 21, "k8s-root-not-prevented", "low", "Deployment/aeon-api container api"),
        # reindex CronJob
        ("infrastructure/k8s/cronjob-reindex.yaml", 15, "k8s-missing-resource-limits", "low",
         "CronJob/reindex-documents container reindex"),
        ("infrastructure/k8s/cronjob-reindex.yaml", 15, "k8s-privilege-escalation-not-blocked", "low",
         "CronJob/reindex-documents container reindex"),
        ("infrastructure/k8s/cronjob-reindex.yaml", 15, "k8s-root-not-prevented", "low",
         "CronJob/reindex-documents container reindex"),
        # Terraform: SSH open to the world, public-read bucket, unencrypted RDS, bucket without SSE
        ("infrastructure/terraform/main.tf", 76, "tf-open-ingress-admin-ports", "critical",
         "aws_security_group.bastion ingress port 22"),
        ("infrastructure/terraform/main.tf", 62, "tf-aws-s3-public-acl", "high", "aws_s3_bucket_acl.artifacts"),
        ("infrastructure/terraform/main.tf", 33, "tf-aws-rds-unencrypted", "high", "aws_db_instance.core"),
        ("infrastructure/terraform/main.tf", 48, "tf-aws-s3-no-encryption", "low", "aws_s3_bucket.artifacts"),
        # the older copy of main.tf (before the bucket and bastion were added)
        ("infrastructure/terraform/main.tf.bak", 33, "tf-aws-rds-unencrypted", "high", "aws_db_instance.core"),
        # Dockerfiles: api runtime stage and worker (FROM base) without USER; unpinned apt in the builder
        ("infrastructure/docker/api/Dockerfile", 11, "docker-no-user", "medium", "stage runtime"),
        ("infrastructure/docker/api/Dockerfile", 5, "docker-apt-unpinned", "low",
         "stage builder apt-get install build-essential"),
        ("infrastructure/docker/worker/Dockerfile", 6, "docker-no-user", "medium", "stage worker"),
    }
    assert estate_findings == expected


def test_sample_estate_identities_are_unique(estate_findings):
    ids = [(path, rule, resource) for path, _, rule, _, resource in estate_findings]
    assert len(ids) == len(set(ids))


def test_sample_estate_quiet_files(estate_findings):
    files = {rel for rel, *_ in estate_findings}
    # USER nonroot on a distroless :nonroot base; ClusterIP service; Secret/ConfigMap; templated Helm
    for quiet in ("infrastructure/docker/api/Dockerfile.prod", "infrastructure/k8s/secret.yaml",
                  "infrastructure/k8s/configmap.yaml", "infrastructure/k8s/namespace.yaml",
                  "infrastructure/helm/aeon-api/templates/deployment.yaml",
                  "infrastructure/helm/aeon-api/templates/service.yaml", "infrastructure/docker-compose.yml",
                  "infrastructure/terraform/providers.tf"):
        assert quiet not in files
