"""File classification: a labelled set of realistic files, rule-file behaviour, fuzzing, the demo estate.

The labelled set is built in memory (heads, as the inventory reads them) and
sniffed the way the pipeline sniffs, so the classifier is tested on the
facts it gets in production: a PNG named .txt arrives with file_type png.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import pickle
import random
import sqlite3
import struct
import tarfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from anfl_assets.domain.enrich.classify import (
    CATEGORIES,
    RULES_PATH,
    Classification,
    Classifier,
)
from anfl_assets.domain.sniff import sniff

HEAD = 8192


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier()


def run(clf: Classifier, path: str, content: bytes) -> Classification:
    """Classify as the pipeline does: sniff the head, pass the facts along."""
    head = content[:HEAD]
    s = sniff(head, path, len(content))
    return clf.classify(path, head, s.file_type, s.is_text, len(content))


# ============================================================================================
# Content makers: real-looking files, not one-liners
# ============================================================================================
def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def safetensors_bytes() -> bytes:
    header = json.dumps({"__metadata__": {"format": "pt"},
                         "encoder.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
    return struct.pack("<Q", len(header)) + header + bytes(64)


def onnx_bytes() -> bytes:
    # ModelProto: ir_version=8, producer_name="pytorch", producer_version="2.1.0", then a graph.
    return b"\x08\x08\x12\x07pytorch\x1a\x052.1.0:\x90\x01\n\x1f\n\x05input\x12\x06output\x1a\x04Gemm" + bytes(200)


def torch_bytes() -> bytes:
    return zip_bytes({"archive/data.pkl": pickle.dumps({"weight": [0.1] * 16}, protocol=2),
                      "archive/version": b"3\n", "archive/data/0": bytes(256)})


def pickle_bytes(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=4)


def npy_bytes(shape: tuple[int, ...] = (32, 8)) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros(shape, dtype=np.float32))
    return buf.getvalue()


def npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(10), y=np.ones(4))
    return buf.getvalue()


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(20)), "label": ["pos", "neg"] * 10}), buf)
    return buf.getvalue()


def feather_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, pa.schema([("x", pa.int64())])) as w:
        w.write_table(pa.table({"x": [1, 2, 3]}))
    return sink.getvalue().to_pybytes()


def sqlite_bytes() -> bytes:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, model TEXT, score REAL)")
    con.executemany("INSERT INTO runs (model, score) VALUES (?, ?)", [("a", 0.5), ("b", 0.7)])
    con.commit()
    data = con.serialize()
    con.close()
    return data


def png_bytes() -> bytes:
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
            b"\x1f\xf3\xffa\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05" + bytes(40))


def jpg_bytes() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(300)


def pyc_bytes() -> bytes:
    return importlib.util.MAGIC_NUMBER + b"\x00\x00\x00\x00" + struct.pack("<II", 1700000000, 120) + b"\xe3" + bytes(80)


def office_bytes(kind: str) -> bytes:
    part = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}[kind]
    return zip_bytes({"[Content_Types].xml": b"<?xml version='1.0'?><Types/>", part: b"<x/>"})


def hdf5_bytes() -> bytes:
    return b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00\x04\x00\x10\x00" + bytes(400)


def pdf_bytes() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(100)


def elf_bytes() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(200)


def random_binary(seed: int, n: int = 2048) -> bytes:
    rnd = random.Random(seed)
    return b"\x00\x01\xfe" + bytes(rnd.getrandbits(8) for _ in range(n))


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


PY_MODULE = lines(
    '"""Evaluation metrics for the ranking models."""',
    "from __future__ import annotations",
    "",
    "import math",
    "from collections.abc import Sequence",
    "",
    "",
    "def ndcg(relevances: Sequence[float], k: int = 10) -> float:",
    '    """Normalised discounted cumulative gain at k."""',
    "    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(relevances[:k]))",
    "    ideal = sorted(relevances, reverse=True)[:k]",
    "    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))",
    "    return dcg / idcg if idcg else 0.0",
)
JS_MODULE = lines(
    "'use strict';",
    "const express = require('express');",
    "const { Pool } = require('pg');",
    "",
    "const app = express();",
    "const pool = new Pool({ connectionString: process.env.DATABASE_URL });",
    "",
    "app.get('/health', async (req, res) => {",
    "  const { rows } = await pool.query('SELECT 1 AS ok');",
    "  res.json({ status: rows[0].ok === 1 ? 'ok' : 'degraded' });",
    "});",
    "",
    "module.exports = app;",
)
TS_MODULE = lines(
    "import { Injectable } from '@angular/core';",
    "import { HttpClient } from '@angular/common/http';",
    "",
    "export interface Invoice { id: string; total: number; dueDate: string }",
    "",
    "@Injectable({ providedIn: 'root' })",
    "export class InvoiceService {",
    "  constructor(private readonly http: HttpClient) {}",
    "  list(): Promise<Invoice[]> { return this.http.get<Invoice[]>('/api/invoices').toPromise(); }",
    "}",
)
GO_MODULE = lines(
    "package server",
    "",
    'import (\n\t"context"\n\t"net/http"\n\t"time"\n)',
    "",
    "// Server wraps the HTTP server with graceful shutdown.",
    "type Server struct {\n\tsrv *http.Server\n}",
    "",
    "func (s *Server) Shutdown(ctx context.Context) error {",
    "\tctx, cancel := context.WithTimeout(ctx, 10*time.Second)",
    "\tdefer cancel()",
    "\treturn s.srv.Shutdown(ctx)",
    "}",
)
JAVA_MODULE = lines(
    "package com.aeonnova.billing;",
    "",
    "import java.math.BigDecimal;",
    "import java.util.List;",
    "",
    "public final class InvoiceTotals {",
    "    private InvoiceTotals() {}",
    "",
    "    public static BigDecimal sum(List<BigDecimal> amounts) {",
    "        return amounts.stream().reduce(BigDecimal.ZERO, BigDecimal::add);",
    "    }",
    "}",
)
RUST_MODULE = lines(
    "use std::collections::HashMap;",
    "",
    "/// Counts tokens in a document.",
    "pub fn token_counts(text: &str) -> HashMap<&str, usize> {",
    "    let mut counts = HashMap::new();",
    "    for token in text.split_whitespace() {",
    "        *counts.entry(token).or_insert(0) += 1;",
    "    }",
    "    counts",
    "}",
)
C_MODULE = lines(
    "#include <stdio.h>",
    "#include <stdlib.h>",
    '#include "crc32.h"',
    "",
    "uint32_t crc32_update(uint32_t crc, const unsigned char *buf, size_t len) {",
    "    crc = ~crc;",
    "    while (len--) {",
    "        crc ^= *buf++;",
    "        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;",
    "    }",
    "    return ~crc;",
    "}",
)
CPP_MODULE = lines(
    "#include <vector>",
    "#include <algorithm>",
    "",
    "namespace aeon {",
    "template <typename T>",
    "T median(std::vector<T> v) {",
    "    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());",
    "    return v[v.size() / 2];",
    "}",
    "}  // namespace aeon",
)
SHELL_SCRIPT = lines(
    "#!/usr/bin/env bash",
    "# Rotate the nightly backups, keeping the last 14.",
    "set -euo pipefail",
    'BACKUP_DIR="${BACKUP_DIR:-/var/backups/aeon}"',
    'find "$BACKUP_DIR" -name "*.sql.gz" -mtime +14 -print -delete',
    'echo "rotated backups in $BACKUP_DIR"',
)
RUBY_MODULE = lines(
    "require 'json'",
    "",
    "module Aeon",
    "  class Report",
    "    def initialize(rows)",
    "      @rows = rows",
    "    end",
    "",
    "    def to_json(*)",
    "      { count: @rows.size, total: @rows.sum { |r| r[:amount] } }.to_json",
    "    end",
    "  end",
    "end",
)
PHP_MODULE = lines(
    "<?php",
    "declare(strict_types=1);",
    "",
    "namespace App\\Http\\Controllers;",
    "",
    "final class HealthController",
    "{",
    "    public function __invoke(): array",
    "    {",
    "        return ['status' => 'ok'];",
    "    }",
    "}",
)
SQL_SCRIPT = lines(
    "-- Monthly revenue by customer segment",
    "CREATE OR REPLACE VIEW revenue_by_segment AS",
    "SELECT c.segment, date_trunc('month', i.issued_at) AS month, sum(i.total) AS revenue",
    "FROM invoices i",
    "JOIN customers c ON c.id = i.customer_id",
    "WHERE i.status = 'paid'",
    "GROUP BY 1, 2;",
)
KOTLIN_MODULE = lines(
    "package com.aeonnova.app",
    "",
    "data class User(val id: Long, val email: String)",
    "",
    "fun List<User>.byDomain(): Map<String, List<User>> = groupBy { it.email.substringAfter('@') }",
)
CSS_FILE = lines(
    ":root { --brand: #3355ff; --muted: #6b7280; }",
    "body {",
    "  font-family: Inter, system-ui, sans-serif;",
    "  color: #111827;",
    "}",
    ".card { border-radius: 8px; padding: 1rem; box-shadow: 0 1px 2px rgba(0,0,0,.1); }",
)
MAKEFILE = lines(
    ".PHONY: test lint build",
    "",
    "PYTHON ?= python3",
    "",
    "test:",
    "\t$(PYTHON) -m pytest -q",
    "",
    "lint:",
    "\truff check src tests",
    "",
    "build:",
    "\tdocker build -t aeon/api:latest -f infrastructure/docker/api/Dockerfile .",
)
DOCKERFILE = lines(
    "FROM python:3.11-slim AS base",
    "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1",
    "WORKDIR /app",
    "COPY requirements.txt .",
    "RUN pip install --no-cache-dir -r requirements.txt",
    "COPY src/ ./src/",
    "USER 10001",
    'CMD ["uvicorn", "src.api:app", "--host", "0.0.0.0", "--port", "8080"]',
)
JENKINSFILE = lines(
    "pipeline {",
    "  agent { label 'docker' }",
    "  stages {",
    "    stage('Test') { steps { sh 'make test' } }",
    "    stage('Build') { steps { sh 'make build' } }",
    "    stage('Deploy') { when { branch 'main' } steps { sh './deploy.sh prod' } }",
    "  }",
    "}",
)
LICENSE_MIT = lines(
    "MIT License",
    "",
    "Copyright (c) 2024 AeonNova",
    "",
    "Permission is hereby granted, free of charge, to any person obtaining a copy",
    "of this software and associated documentation files (the \"Software\"), to deal",
    "in the Software without restriction, including without limitation the rights",
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell",
)
MARKDOWN_DOC = lines(
    "# Incident response",
    "",
    "When the pager fires:",
    "",
    "1. Acknowledge within 5 minutes.",
    "2. Open an incident channel `#inc-<date>-<topic>`.",
    "3. Assign an incident commander and a scribe.",
    "",
    "## Severity levels",
    "",
    "| Level | Meaning |",
    "|-------|---------|",
    "| SEV1  | Customer-facing outage |",
)
RST_DOC = lines(
    "Installation",
    "============",
    "",
    "Install the package from the internal index::",
    "",
    "    pip install aeon-eval",
    "",
    ".. note:: Python 3.11 or newer is required.",
)
PROSE_TXT = lines(
    "Travel and expenses policy",
    "",
    "Employees may book economy class for flights under six hours. Hotel costs",
    "are reimbursed up to the city limit published by Finance each January.",
    "Receipts must be submitted within 30 days of the trip.",
)
HTML_DOC = lines(
    "<!DOCTYPE html>",
    "<html lang=\"en\">",
    "<head><meta charset=\"utf-8\"><title>API guide</title></head>",
    "<body>",
    "<h1>API guide</h1>",
    "<p>All endpoints require a bearer token issued by the identity service.</p>",
    "</body>",
    "</html>",
)

K8S_DEPLOYMENT = lines(
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    "  name: aeon-api",
    "  namespace: aeon",
    "  labels: {app: aeon-api}",
    "spec:",
    "  replicas: 3",
    "  selector:",
    "    matchLabels: {app: aeon-api}",
    "  template:",
    "    metadata:",
    "      labels: {app: aeon-api}",
    "    spec:",
    "      containers:",
    "        - name: api",
    "          image: registry.aeonnova.example/aeon-api:1.4.2",
    "          ports: [{containerPort: 8080}]",
)
K8S_SERVICE = lines(
    "# Service in front of the API pods",
    "---",
    "apiVersion: v1",
    "kind: Service",
    "metadata:",
    "  name: aeon-api",
    "spec:",
    "  selector: {app: aeon-api}",
    "  ports:",
    "    - port: 80",
    "      targetPort: 8080",
)
K8S_MULTI = K8S_SERVICE + lines(
    "---",
    "apiVersion: networking.k8s.io/v1",
    "kind: Ingress",
    "metadata:",
    "  name: aeon-api",
    "spec:",
    "  tls:",
    "    - hosts: [api.aeonnova.example]",
    "      secretName: api-tls",
)
K8S_CRD = lines(
    "apiVersion: cert-manager.io/v1",
    "kind: Certificate",
    "metadata:",
    "  name: api-tls",
    "spec:",
    "  secretName: api-tls",
    "  dnsNames: [api.aeonnova.example]",
    "  issuerRef: {name: letsencrypt, kind: ClusterIssuer}",
)
K8S_JSON = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags"},
                       "data": {"NEW_CHECKOUT": "true"}}, indent=2).encode()
HELM_CHART = lines(
    "apiVersion: v2",
    "name: aeon-api",
    "description: The AeonNova public API",
    "type: application",
    "version: 0.7.1",
    'appVersion: "1.4.2"',
)
HELM_VALUES = lines(
    "replicaCount: 2",
    "image:",
    "  repository: registry.aeonnova.example/aeon-api",
    "  pullPolicy: IfNotPresent",
    '  tag: ""',
    "service:",
    "  type: ClusterIP",
    "  port: 80",
    "ingress:",
    "  enabled: true",
)
HELM_TEMPLATE = lines(
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    '  name: {{ include "aeon-api.fullname" . }}',
    "spec:",
    "  replicas: {{ .Values.replicaCount }}",
    "  template:",
    "    spec:",
    "      containers:",
    '        - image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"',
)
HELM_HELPERS = lines(
    '{{- define "aeon-api.fullname" -}}',
    '{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}',
    "{{- end }}",
)
COMPOSE = lines(
    "services:",
    "  api:",
    "    build: .",
    '    ports: ["8080:8080"]',
    "    depends_on: [db]",
    "  db:",
    "    image: postgres:15",
    "    environment:",
    "      POSTGRES_PASSWORD: example",
    "volumes:",
    "  pgdata: {}",
)
GH_WORKFLOW = lines(
    "name: ci",
    "on:",
    "  push: {branches: [main]}",
    "  pull_request: {}",
    "jobs:",
    "  test:",
    "    runs-on: ubuntu-latest",
    "    steps:",
    "      - uses: actions/checkout@v4",
    "      - uses: actions/setup-python@v5",
    "        with: {python-version: '3.11'}",
    "      - run: make test",
)
GITLAB_CI = lines(
    "stages: [test, build, deploy]",
    "test:",
    "  stage: test",
    "  image: python:3.11",
    "  script:",
    "    - pip install -r requirements.txt",
    "    - pytest -q",
)
AZURE_PIPELINE = lines(
    "trigger: [main]",
    "pool: {vmImage: ubuntu-latest}",
    "steps:",
    "  - task: UsePythonVersion@0",
    "    inputs: {versionSpec: '3.11'}",
    "  - script: make test",
)
CIRCLECI = lines(
    "version: 2.1",
    "jobs:",
    "  test:",
    "    docker: [{image: cimg/python:3.11}]",
    "    steps: [checkout, {run: make test}]",
    "workflows:",
    "  main: {jobs: [test]}",
)
BITBUCKET = lines(
    "image: python:3.11",
    "pipelines:",
    "  default:",
    "    - step:",
    "        name: Test",
    "        script: [pip install -r requirements.txt, pytest -q]",
)
TRAVIS = lines("language: python", "python: ['3.11']", "install: pip install -r requirements.txt", "script: pytest")
PLAYBOOK = lines(
    "---",
    "- name: Configure web servers",
    "  hosts: web",
    "  become: true",
    "  vars:",
    "    nginx_port: 80",
    "  roles:",
    "    - common",
    "    - nginx",
    "",
    "- name: Configure databases",
    "  hosts: db",
    "  tasks:",
    "    - name: Install postgres",
    "      ansible.builtin.apt: {name: postgresql, state: present}",
)
PLAYBOOK_IMPORTS = lines("---", "- import_playbook: webservers.yml", "- import_playbook: dbservers.yml")
ROLE_TASKS = lines(
    "---",
    "- name: Install nginx",
    "  ansible.builtin.apt:",
    "    name: nginx",
    "    state: present",
    "- name: Template the site",
    "  ansible.builtin.template:",
    "    src: site.conf.j2",
    "    dest: /etc/nginx/conf.d/site.conf",
    "  notify: reload nginx",
)
TERRAFORM = lines(
    'terraform {',
    '  required_providers {',
    '    aws = { source = "hashicorp/aws", version = "~> 5.0" }',
    '  }',
    '}',
    '',
    'resource "aws_s3_bucket" "docs" {',
    '  bucket = "aeon-docs-${var.environment}"',
    '  tags   = local.common_tags',
    '}',
)
TFVARS = lines('environment = "prod"', 'instance_type = "m6i.large"', 'min_size = 3', 'max_size = 12')
TF_JSON = json.dumps({"resource": {"aws_sqs_queue": {"jobs": {"name": "aeon-jobs"}}}}, indent=2).encode()
TERRAGRUNT = lines('include "root" {', '  path = find_in_parent_folders()', '}', 'inputs = { environment = "prod" }')
CLOUDFORMATION = lines(
    "AWSTemplateFormatVersion: '2010-09-09'",
    "Description: Docs bucket",
    "Resources:",
    "  DocsBucket:",
    "    Type: AWS::S3::Bucket",
    "    Properties: {BucketName: aeon-docs}",
)

APP_YAML = lines(
    "app:",
    "  environment: prod",
    "  log_level: info",
    "server:",
    "  workers: 12",
    "  timeout_seconds: 60",
    "database:",
    "  host: db.internal.aeonnova.example",
    "  pool_size: 20",
)
APP_JSON = json.dumps({"service": "worker", "queues": ["ocr", "embed"], "concurrency": 8,
                       "retry": {"max_attempts": 5, "backoff_seconds": 30}}, indent=2).encode()
PYPROJECT = lines(
    "[project]",
    'name = "aeon-eval"',
    'version = "0.3.0"',
    'requires-python = ">=3.11"',
    'dependencies = ["numpy>=1.26", "onnxruntime>=1.17"]',
    "",
    "[tool.ruff]",
    "line-length = 110",
)
SETUP_CFG = lines("[metadata]", "name = aeon-eval", "", "[options]", "packages = find:", "python_requires = >=3.11",
                  "", "[flake8]", "max-line-length = 110")
TOX_INI = lines("[tox]", "envlist = py311, lint", "", "[testenv]", "deps = pytest", "commands = pytest -q")
EDITORCONFIG = lines("root = true", "", "[*]", "indent_style = space", "indent_size = 4", "end_of_line = lf")
DOTENV = lines("# local settings", "DATABASE_URL=postgresql://localhost:5432/aeon",
               "REDIS_URL=redis://localhost:6379/0",
               "LOG_LEVEL=debug")
PACKER_HCL = lines('source "amazon-ebs" "base" {', '  ami_name      = "aeon-base-{{timestamp}}"',
                   '  instance_type = "t3.small"', '  region        = "eu-west-1"', '}')
VAULT_HCL = lines('storage "raft" {', '  path = "/vault/data"', '}',
                  'listener "tcp" {', '  address = "0.0.0.0:8200"', '}')
POM_XML = lines(
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    "  <modelVersion>4.0.0</modelVersion>",
    "  <groupId>com.aeonnova</groupId>",
    "  <artifactId>billing</artifactId>",
    "  <version>1.2.0</version>",
    "</project>",
)
LOG4J_XML = lines('<?xml version="1.0"?>', '<Configuration status="WARN">',
                  '  <Appenders><Console name="out"/></Appenders>',
                  "</Configuration>")
CSPROJ = lines('<Project Sdk="Microsoft.NET.Sdk">', "  <PropertyGroup>",
               "    <TargetFramework>net8.0</TargetFramework>",
               "  </PropertyGroup>", "</Project>")
NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Data exploration"]},
              {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
               "source": ["import pandas as pd\n", "df = pd.read_csv('../data/eval_set.csv')\n", "df.describe()"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()
CSV_DATA = lines("id,text,label", "1,The invoice was paid on time,positive", "2,Late again and no apology,negative",
                 "3,Delivered as described,neutral")
TSV_DATA = lines("id\ttext\tlabel", "1\tGreat support\tpositive", "2\tSlow refund\tnegative")
JSONL_DATA = lines(json.dumps({"case_id": "c-000", "task": "summarize", "document": "Lease agreement ..."}),
                   json.dumps({"case_id": "c-001", "task": "classify", "document": "Invoice #4411 ..."}))
JSON_RECORDS = json.dumps([{"id": i, "name": f"customer-{i}", "segment": "smb"} for i in range(20)], indent=2).encode()
MINIFIED_JS = (b"/*! lib v3.7.1 | (c) OpenJS Foundation | MIT */\n"
               b"!function(e,t){\"use strict\";\"object\"==typeof module"
               + b"&&\"object\"==typeof module.exports?module.exports=e.document?t(e,!0):function(e){return t(e)}:t(e)}"
               * 40 + b"\n")
SOURCEMAP = json.dumps({"version": 3, "file": "app.min.js", "sources": ["src/app.js"], "names": [],
                        "mappings": "AAAA,SAASA,IAAI" * 50}).encode()
GO_GENERATED = lines(
    "// Code generated by protoc-gen-go. DO NOT EDIT.",
    "// versions:",
    "// \tprotoc-gen-go v1.31.0",
    "// source: billing/v1/invoice.proto",
    "",
    "package billingv1",
    "",
    'import protoreflect "google.golang.org/protobuf/reflect/protoreflect"',
    "",
    "type Invoice struct {\n\tId string\n}",
)
PB2_PY = lines(
    "# -*- coding: utf-8 -*-",
    "# Generated by the protocol buffer compiler.  DO NOT EDIT!",
    "# source: invoice.proto",
    '"""Generated protocol buffer code."""',
    "from google.protobuf import descriptor as _descriptor",
)
JS_GENERATED = lines("/**", " * @generated SignedSource<<4a7b2c>>", " * Relay compiler output", " */",
                     "'use strict';", "module.exports = { kind: 'Fragment', name: 'UserCard' };")
DJANGO_MIGRATION = lines(
    "# Generated by Django 4.2.7 on 2024-01-15 10:22",
    "",
    "from django.db import migrations, models",
    "",
    "",
    "class Migration(migrations.Migration):",
    "    dependencies = [('billing', '0003_invoice_due_date')]",
    "    operations = [migrations.AddField('invoice', 'paid_at', models.DateTimeField(null=True))]",
)
AUTOGEN_TS = lines("// This file is autogenerated by openapi-generator. Do not edit manually.",
                   "export interface Pet { id: number; name: string }")
PEM_KEY = lines("-----BEGIN CERTIFICATE-----", "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ",
                "RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD", "-----END CERTIFICATE-----")
REQUIREMENTS = lines("# pinned by pip-compile", "numpy==1.26.4", "onnxruntime==1.17.1", "pydantic>=2.5,<3")
LOCK_YARN = lines("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.", "# yarn lockfile v1", "",
                  'left-pad@^1.3.0:', '  version "1.3.0"')
LOG_TEXT = lines("2024-06-01T10:00:01Z INFO worker started pid=4121", "2024-06-01T10:00:05Z WARN queue lag 12s",
                 "2024-06-01T10:01:00Z INFO processed 412 jobs")


# ============================================================================================
# The labelled set: (path, content, category, expected extras)
# ============================================================================================
def labelled_set() -> list[tuple[str, bytes, str, dict[str, str | None]]]:
    code, cfg, doc, infra = "code", "config", "documentation", "infrastructure"
    model, data, media, junk, other = "model", "data", "media/binary", "build-artifact/cache", "other"
    cases: list[tuple[str, bytes, str, dict[str, str | None]]] = []

    def add(path: str, content: bytes, category: str, **extra: str | None) -> None:
        cases.append((path, content, category, extra))

    # --- code by extension, each language in a couple of places
    for i, (ext, body, lang) in enumerate([
        ("py", PY_MODULE, "python"), ("js", JS_MODULE, "javascript"), ("ts", TS_MODULE, "typescript"),
        ("go", GO_MODULE, "go"), ("java", JAVA_MODULE, "java"), ("rs", RUST_MODULE, "rust"),
        ("c", C_MODULE, "c"),
        ("h", b"#pragma once\nuint32_t crc32_update(uint32_t, const unsigned char *, size_t);\n", "c"),
        ("cpp", CPP_MODULE, "cpp"), ("hpp", CPP_MODULE, "cpp"), ("rb", RUBY_MODULE, "ruby"),
        ("php", PHP_MODULE, "php"), ("sql", SQL_SCRIPT, "sql"), ("kt", KOTLIN_MODULE, "kotlin"),
        ("sh", SHELL_SCRIPT, "shell"), ("css", CSS_FILE, "css"), ("scss", CSS_FILE, "css"),
        ("tsx", TS_MODULE, "typescript"), ("jsx", JS_MODULE, "javascript"),
        ("pyi", b"def ndcg(r: list[float]) -> float: ...\n", "python"),
    ]):
        add(f"services/svc{i}/src/module_{i}.{ext}", body, code, language=lang, rule="code.source")
        add(f"libs/shared/pkg{i}/impl.{ext}", body, code, language=lang)
    add("ai_model_testing/src/aeon_eval/__init__.py", b"", code, language="python", rule="code.source")
    add("proto/billing/v1/invoice.proto",
        b'syntax = "proto3";\npackage billing.v1;\nmessage Invoice { string id = 1; }\n', code, language="protobuf")
    add("Makefile", MAKEFILE, code, language="makefile")
    add("tools/make/rules.mk", MAKEFILE, code, language="makefile")
    add("CMakeLists.txt", b"cmake_minimum_required(VERSION 3.20)\nproject(crc C)\nadd_library(crc crc32.c)\n", code,
        language="cmake")
    add("BUILD.bazel", b'py_library(name = "eval", srcs = glob(["*.py"]))\n', code, language="starlark")
    add("prompts/summarize.jinja", b"Summarise the document in {{ n_sentences }} sentences.\n{{ document }}\n", code,
        language="jinja")
    add("site/partials/page.html.j2",
        b"<h1>{{ title }}</h1>\n{% for p in posts %}<p>{{ p }}</p>{% endfor %}\n", code, language="jinja")

    # --- shebang scripts without extension, and a script whose extension lies
    add("bin/rotate-backups", SHELL_SCRIPT, code, language="shell", rule="code.shebang")
    add("bin/ingest",
        b"#!/usr/bin/env python3\nimport sys\n\nfor line in sys.stdin:\n    print(line.strip().upper())\n",
        code, language="python", rule="code.shebang")
    add("scripts/serve", b"#!/usr/bin/env node\nrequire('../dist/server').listen(8080);\n", code, language="javascript")
    add("scripts/report", b"#!/usr/bin/perl\nuse strict;\nuse warnings;\nprint \"report\\n\";\n", code, language="perl")
    add("scripts/seed", b"#!/usr/bin/env ruby\nrequire 'json'\nputs JSON.dump({seed: 42})\n", code, language="ruby")
    add("scripts/odd-interpreter", b"#!/usr/bin/env tclsh\nputs \"hello\"\n", code, rule="code.shebang")
    add("scripts/migrate.sh", b"#!/usr/bin/env python3\n\"\"\"Misnamed: a Python migration helper.\"\"\"\nimport os\n"
        b"print(os.environ.get('DATABASE_URL'))\n", code, language="python")
    add("infrastructure/scripts/notify-deploy",
        b"#!/bin/sh\ncurl -fsS -X POST \"$SLACK_HOOK\" -d '{\"text\": \"deployed\"}'\n", code, language="shell")

    # --- notebooks, minified, generated, vendored
    for name in ("01_data_exploration", "02_model_comparison", "Untitled"):
        add(f"notebooks/{name}.ipynb", NOTEBOOK, code, language="python", rule="code.notebook")
    add("web/static/app.js", MINIFIED_JS, code, language="javascript", rule="code.minified")
    add("web/static/jquery-3.7.1.min.js", MINIFIED_JS, code, language="javascript", rule="code.minified")
    add("web/static/theme.min.css", b".a{color:red}.b{margin:0 auto}" * 20, code, language="css", rule="code.minified")
    add("gen/billing/v1/invoice.pb.go", GO_GENERATED, code, language="go", rule="code.generated")
    add("internal/api/zz_types.go", GO_GENERATED, code, language="go", rule="code.generated")
    add("py/billing/invoice_pb2.py", PB2_PY, code, language="python", rule="code.generated")
    add("web/src/__generated__/UserCard.graphql.js", JS_GENERATED, code, language="javascript", rule="code.generated")
    add("billing/migrations/0004_invoice_paid_at.py", DJANGO_MIGRATION, code, language="python", rule="code.generated")
    add("web/src/api/models.ts", AUTOGEN_TS, code, language="typescript", rule="code.generated")
    add("vendor/github.com/pkg/errors/errors.go", GO_MODULE, code, language="go", rule="code.vendored")
    add("third_party/zlib/crc32.c", C_MODULE, code, language="c", rule="code.vendored")
    add("src/aeon/_vendor/six.py", PY_MODULE, code, language="python", rule="code.vendored")
    add("vendor/laravel/framework/src/Support/Str.php", PHP_MODULE, code, language="php", rule="code.vendored")

    # --- build artifacts and caches
    for mod in ("harness", "judges", "__init__"):
        add(f"ai_model_testing/llm_eval_harness/__pycache__/{mod}.cpython-311.pyc", pyc_bytes(), junk,
            rule="cache.python")
    add("legacy/util.pyc", pyc_bytes(), junk, rule="cache.python")
    add("web/node_modules/left-pad/index.js", JS_MODULE, junk, rule="cache.node-modules")
    add("web/node_modules/left-pad/package.json", b'{"name": "left-pad", "version": "1.3.0"}\n', junk)
    add("web/node_modules/left-pad/README.md", MARKDOWN_DOC, junk)
    add("web/node_modules/.package-lock.json", b'{"lockfileVersion": 3}\n', junk)
    add(".pytest_cache/v/cache/lastfailed", b'{\n  "tests/test_a.py::test_x": true\n}', junk, rule="cache.tooling")
    add(".pytest_cache/CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55\n", junk)
    add("notebooks/.ipynb_checkpoints/Untitled-checkpoint.ipynb", NOTEBOOK, junk, rule="cache.tooling")
    add(".mypy_cache/3.11/aeon/cli.data.json", b'{".class": "MypyFile"}', junk)
    add(".tox/py311/log/1-commands[0].log", LOG_TEXT, junk)
    add("dist/aeon_eval-0.3.0-py3-none-any.whl", zip_bytes({"aeon_eval/__init__.py": b""}), junk, rule="build.output")
    add("dist/assets/index-4f2a.js", MINIFIED_JS, junk, rule="build.output")
    add("build/lib/aeon_eval/metrics.py", PY_MODULE, junk, rule="build.output")
    add("services/indexer/src/indexer/dist/rset_count.py", PY_MODULE, code, language="python")  # a package named dist
    add("web/dist/app.min.js.map", SOURCEMAP, junk)
    add("web/static/app.min.js.map", SOURCEMAP, junk, rule="build.sourcemap")
    add(".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(200), junk, rule="cache.os-metadata")
    add("company_docs/meetings/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(200), junk)
    add("src/aeon_eval.egg-info/PKG-INFO", b"Metadata-Version: 2.1\nName: aeon-eval\nVersion: 0.3.0\n", junk,
        rule="build.output")
    add("src/aeon_eval.egg-info/SOURCES.txt", b"setup.py\nsrc/aeon_eval/__init__.py\n", junk)
    add("crates/tok/target/release/deps/libtok.rlib", random_binary(1), junk)
    add("native/obj/crc32.o", elf_bytes(), junk, rule="build.compiled")
    add("java/out/Invoice.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x41" + bytes(100), junk, rule="build.compiled")
    add(".venv/lib/python3.11/site-packages/six.py", PY_MODULE, junk)
    add("infrastructure/terraform/.terraform/providers/registry.terraform.io/hashicorp/aws/5.31.0/linux_amd64/"
        "terraform-provider-aws", elf_bytes(), junk)
    add("src/.main.py.swp", b"b0VIM 9.0\x00" + bytes(100), junk, rule="cache.editor")

    # --- infrastructure: every kind, with config_format where it applies
    add("infrastructure/terraform/main.tf", TERRAFORM, infra, infra_kind="terraform", config_format="hcl")
    add("infrastructure/terraform/modules/vpc/variables.tf",
        b'variable "cidr" {\n  type    = string\n  default = "10.0.0.0/16"\n}\n', infra, infra_kind="terraform")
    add("infrastructure/terraform/envs/prod.tfvars", TFVARS, infra, infra_kind="terraform", config_format="hcl")
    add("infrastructure/terraform/queues.tf.json", TF_JSON, infra, infra_kind="terraform", config_format="json")
    add("live/prod/terragrunt.hcl", TERRAGRUNT, infra, infra_kind="terraform", config_format="hcl")
    add("infrastructure/terraform/.terraform.lock.hcl",
        b'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.31.0"\n}\n', infra, infra_kind="terraform")
    add("infrastructure/terraform/main.tf.bak", TERRAFORM, infra, infra_kind="terraform")
    add("infrastructure/k8s/deployment.yaml", K8S_DEPLOYMENT, infra, infra_kind="kubernetes", config_format="yaml")
    add("infrastructure/k8s/service.yml", K8S_SERVICE, infra, infra_kind="kubernetes", config_format="yaml")
    add("deploy/manifests/all.yaml", K8S_MULTI, infra, infra_kind="kubernetes")
    add("deploy/certs/certificate.yaml", K8S_CRD, infra, infra_kind="kubernetes")
    add("deploy/flags-configmap.json", K8S_JSON, infra, infra_kind="kubernetes", config_format="json")
    add("deploy/legacy/api-deployment.conf", K8S_DEPLOYMENT, infra, infra_kind="kubernetes", config_format="yaml")
    add("deploy/overlays/prod/kustomization.yaml", b"resources:\n  - ../../base\nnamePrefix: prod-\n", infra,
        infra_kind="kubernetes")
    add("infrastructure/helm/aeon-api/Chart.yaml", HELM_CHART, infra, infra_kind="helm", config_format="yaml")
    add("infrastructure/helm/aeon-api/values.yaml", HELM_VALUES, infra, infra_kind="helm", rule="infra.helm.values")
    add("infrastructure/helm/aeon-api/values-prod.yaml", HELM_VALUES, infra, infra_kind="helm")
    add("deploy/aeon-worker/values.yaml", HELM_VALUES, infra, infra_kind="helm")
    add("infrastructure/helm/aeon-api/templates/deployment.yaml", HELM_TEMPLATE, infra, infra_kind="helm",
        rule="infra.helm.template", config_format="yaml")
    add("infrastructure/helm/aeon-api/templates/_helpers.tpl", HELM_HELPERS, infra, infra_kind="helm")
    add("infrastructure/helm/aeon-api/templates/NOTES.txt",
        b"Get the URL with:\n  kubectl get svc {{ include \"aeon-api.fullname\" . }}\n", infra, infra_kind="helm")
    add("infrastructure/helm/aeon-api/.helmignore", b".git/\n*.swp\n", infra, infra_kind="helm")
    add("infrastructure/docker/api/Dockerfile", DOCKERFILE, infra, infra_kind="dockerfile", rule="infra.dockerfile")
    add("infrastructure/docker/api/Dockerfile.prod", DOCKERFILE, infra, infra_kind="dockerfile")
    add("docker/worker.Dockerfile", DOCKERFILE, infra, infra_kind="dockerfile")
    add("Containerfile", DOCKERFILE, infra, infra_kind="dockerfile")
    add(".dockerignore", b".git\n**/__pycache__\n**/node_modules\n", infra, infra_kind="dockerfile")
    add("docker-compose.yml", COMPOSE, infra, infra_kind="compose", config_format="yaml")
    add("docker-compose.override.yml", COMPOSE, infra, infra_kind="compose")
    add("deploy/compose.yaml", COMPOSE, infra, infra_kind="compose")
    add(".github/workflows/ci.yml", GH_WORKFLOW, infra, infra_kind="ci-pipeline", config_format="yaml")
    add("infrastructure/.github/workflows/deploy.yaml", GH_WORKFLOW, infra, infra_kind="ci-pipeline")
    add(".gitlab-ci.yml", GITLAB_CI, infra, infra_kind="ci-pipeline", rule="infra.ci.gitlab")
    add("Jenkinsfile", JENKINSFILE, infra, infra_kind="ci-pipeline", rule="infra.ci.jenkins")
    add("ci/Jenkinsfile.release", JENKINSFILE, infra, infra_kind="ci-pipeline")
    add("azure-pipelines.yml", AZURE_PIPELINE, infra, infra_kind="ci-pipeline")
    add(".circleci/config.yml", CIRCLECI, infra, infra_kind="ci-pipeline", rule="infra.ci.circleci")
    add("bitbucket-pipelines.yml", BITBUCKET, infra, infra_kind="ci-pipeline")
    add(".travis.yml", TRAVIS, infra, infra_kind="ci-pipeline")
    add("ansible/site.yml", PLAYBOOK, infra, infra_kind="ansible", rule="infra.ansible.playbook")
    add("ansible/all.yml", PLAYBOOK_IMPORTS, infra, infra_kind="ansible")
    add("ansible/roles/nginx/tasks/main.yml", ROLE_TASKS, infra, infra_kind="ansible", rule="infra.ansible.role")
    add("ansible/roles/nginx/handlers/main.yml",
        b"- name: reload nginx\n  ansible.builtin.service: {name: nginx, state: reloaded}\n", infra,
        infra_kind="ansible")
    add("ansible/roles/nginx/templates/site.conf.j2", b"server {\n  listen {{ nginx_port }};\n}\n", infra,
        infra_kind="ansible")
    add("ansible/group_vars/all.yml", b"ntp_server: time.aeonnova.example\n", infra, infra_kind="ansible")
    add("ansible/ansible.cfg", b"[defaults]\ninventory = inventory.ini\nhost_key_checking = False\n", infra,
        infra_kind="ansible", config_format="ini")
    add("cloudformation/docs-bucket.yaml", CLOUDFORMATION, infra, infra_kind="cloudformation")

    # --- config, every format
    for env in ("dev", "staging", "prod"):
        add(f"yaml_configs/{env}/app.yaml", APP_YAML, cfg, config_format="yaml", rule="config.yaml")
        add(f"services/worker/{env}.json", APP_JSON, cfg, config_format="json", rule="config.json")
    add("yaml_configs/broken/invalid.yaml", b"gateway:\n  listeners: [http, https\n  routes:\n   - path: /api\n", cfg,
        config_format="yaml")
    add("yaml_configs/prod/app.yaml.bak", APP_YAML, cfg, config_format="yaml")
    add(".pre-commit-config.yaml", b"repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n    rev: v0.4.4\n",
        cfg, config_format="yaml")
    add("yaml_configs/services/endpoints.txt",
        b'{\n  "api": "https://api.aeonnova.example",\n  "docs": "https://docs"\n}\n', cfg, config_format="json",
        rule="config.json")
    add("web/package.json", b'{\n  "name": "web",\n  "scripts": {"build": "vite build"}\n}\n', cfg,
        config_format="json")
    add("web/tsconfig.json", b'{\n  "compilerOptions": {"strict": true, "target": "ES2022"}\n}\n', cfg,
        config_format="json")
    add("pyproject.toml", PYPROJECT, cfg, config_format="toml")
    add("services/worker/worker.toml", b'[queue]\nname = "ocr"\nconcurrency = 4\n', cfg, config_format="toml")
    add("setup.cfg", SETUP_CFG, cfg, config_format="ini")
    add("tox.ini", TOX_INI, cfg, config_format="ini")
    add(".editorconfig", EDITORCONFIG, cfg, config_format="ini")
    add("yaml_configs/.env", DOTENV, cfg, config_format="env", rule="config.dotenv")
    add("yaml_configs/.env.example", DOTENV, cfg, config_format="env")
    add("deploy/.env.production", DOTENV, cfg, config_format="env")
    add("deploy/prod.env", DOTENV, cfg, config_format="env")
    add("packer/base.pkr.hcl", PACKER_HCL, cfg, config_format="hcl")
    add("vault/config.hcl", VAULT_HCL, cfg, config_format="hcl")
    add("billing/pom.xml", POM_XML, cfg, config_format="xml")
    add("billing/src/main/resources/log4j2.xml", LOG4J_XML, cfg, config_format="xml")
    add("dotnet/Billing.csproj", CSPROJ, cfg, config_format="xml")
    add("nginx/nginx.conf", b"worker_processes auto;\nevents { worker_connections 1024; }\n", cfg)
    add("app/src/main/resources/application.properties",
        b"server.port=8080\nspring.datasource.url=jdbc:postgresql://db/app\n", cfg)
    add("requirements.txt", REQUIREMENTS, cfg, rule="config.dependencies")
    add("requirements-dev.txt", REQUIREMENTS, cfg)
    add("go.mod", b"module github.com/aeonnova/api\n\ngo 1.22\n\nrequire github.com/pkg/errors v0.9.1\n", cfg)
    add("web/yarn.lock", LOCK_YARN, cfg, rule="config.lockfile")
    add("poetry.lock", b'[[package]]\nname = "numpy"\nversion = "1.26.4"\n', cfg, config_format="toml")
    add("web/package-lock.json", b'{\n  "name": "web",\n  "lockfileVersion": 3\n}\n', cfg, config_format="json")
    add(".gitignore", b"__pycache__/\n*.pyc\n.env\nnode_modules/\n", cfg, rule="config.named")
    add("CODEOWNERS", b"*  @aeonnova/platform\n/infrastructure/  @aeonnova/security\n", cfg)
    add("infrastructure/certs/ca.pem", PEM_KEY, cfg, rule="config.key-material")
    add("infrastructure/ssh/deploy_key", PEM_KEY.replace(b"CERTIFICATE", b"OPENSSH PRIVATE KEY"), cfg,
        rule="config.key-material")

    # --- documentation
    for topic in ("incident-response", "database-failover", "on-call-rota", "onboarding", "architecture"):
        add(f"company_docs/runbooks/{topic}.md", MARKDOWN_DOC, doc, rule="doc.markup")
    add("README.md", MARKDOWN_DOC, doc)
    add("docs/install.rst", RST_DOC, doc)
    add("docs/guide.adoc", b"= User guide\n:toc:\n\n== Getting started\n\nRun the installer.\n", doc)
    add("company_docs/policies/travel-and-expenses.txt", PROSE_TXT, doc, rule="doc.text")
    add("prompts/system.txt", b"You are a careful assistant. Answer only from the provided documents.\n", doc)
    add("docs/api/index.html", HTML_DOC, doc, rule="doc.html")
    add("docs/docker.md", b"# Dockerfile notes\n\nWe build from the slim image; see Dockerfile.prod.\n", doc)
    add("infrastructure/docker/Dockerfile.md", b"# How to use the Dockerfile\n\nRun `make image`.\n", doc)
    add("web/src/app/app.component.html", b'<div *ngIf="user">{{ user.name }}</div>\n', code, language="html",
        rule="code.html-template")
    add("shop/templates/cart.html", b'{% extends "base.html" %}\n{% block body %}<h1>Cart</h1>{% endblock %}\n',
        code, language="html")
    add("company_docs/finance/board_report_q4_2024.pdf", pdf_bytes(), doc, rule="doc.binary")
    add("company_docs/hr/handbook.docx", office_bytes("docx"), doc)
    add("company_docs/sales/pitch.pptx", office_bytes("pptx"), doc)
    add("LICENSE", LICENSE_MIT, doc, rule="doc.named")
    add("infrastructure/helm/aeon-api/LICENSE", LICENSE_MIT, doc)
    add("CHANGELOG", b"v1.4.2\n  * Fix pagination of /invoices\nv1.4.1\n  * Faster OCR queue\n", doc)
    add("AUTHORS", b"Maya Lindqvist <maya@aeonnova.example>\nTomas Okafor <tomas@aeonnova.example>\n", doc)
    add("CONTRIBUTING.md", MARKDOWN_DOC, doc)
    add("company_docs/runbooks/current-oncall.md", b"", doc)  # a dangling symlink reads as nothing

    # --- models
    add("ai_model_testing/models/text_encoder.safetensors", safetensors_bytes(), model, rule="model.signature")
    add("ai_model_testing/models/sentiment_classifier.onnx", onnx_bytes(), model, rule="model.signature")
    add("ai_model_testing/models/ranker_head.pt", torch_bytes(), model, rule="model.signature")
    add("checkpoints/epoch_12.pth", torch_bytes(), model)
    add("hf/bert-base/pytorch_model.bin", torch_bytes(), model, rule="model.signature")
    add("ai_model_testing/models/legacy/untrusted_model.pkl", pickle_bytes({"coef": [0.1, 0.2], "intercept": 0.3}),
        model, rule="model.pickle")
    add("ai_model_testing/models/tokenizer_vocab.pkl", pickle_bytes({"the": 0, "invoice": 1}), model)
    add("experiments/churn_classifier.pkl", pickle_bytes({"kind": "GradientBoosting"}), model)
    add("experiments/rf_model.joblib", pickle_bytes({"n_estimators": 100}), model)
    add("llm/mistral-7b-instruct.Q4_K_M.gguf", b"GGUF\x03\x00\x00\x00" + bytes(200), model)
    add("llm/misnamed-weights.dat", b"GGUF\x03\x00\x00\x00" + random_binary(2), model, rule="model.signature")
    add("mobile/detector.tflite", b"\x1c\x00\x00\x00TFL3" + random_binary(3), model)
    add("keras/classifier.h5", hdf5_bytes(), model)
    add("keras/classifier.keras", zip_bytes({"config.json": b"{}", "model.weights.h5": hdf5_bytes()}), model)
    add("ios/Sentiment.mlmodel", random_binary(4), model)
    add("tf/saved_model/saved_model.pb", b"\x08\x01\x12\x8c\x02\n\x0e\n\x05serve" + random_binary(5), model)
    add("tokenizers/spm.model", random_binary(6), model)
    add("weights/detector.pt", b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146a1b1e0f3c1d2"
        b"9e5c1f0a4b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0\nsize 91234567\n", model, rule="model.extension")

    # --- data
    add("ai_model_testing/data/eval_set.csv", CSV_DATA, data, rule="data.extension")
    add("company_docs/finance/forecast_2025.csv", CSV_DATA, data)
    add("data/reviews.tsv", TSV_DATA, data)
    add("ai_model_testing/llm_eval_harness/datasets/contracts_v1.jsonl", JSONL_DATA, data)
    add("data/cases.json", JSONL_DATA, data, rule="data.json-records")
    add("exports/customers.json", JSON_RECORDS, data, rule="data.json-records")
    add("ai_model_testing/llm_eval_harness/results/baseline_2024-w21.json", APP_JSON, data, rule="data.in-data-folder")
    add("ai_model_testing/data/eval_embeddings.npy", npy_bytes(), data, rule="data.signature")
    add("features/train.npz", npz_bytes(), data)
    add("warehouse/events.parquet", parquet_bytes(), data, rule="data.signature")
    add("warehouse/events.feather", feather_bytes(), data)
    add("warehouse/events.arrow", feather_bytes(), data)
    add("app/local.db", sqlite_bytes(), data)
    add("analytics/runs.sqlite", sqlite_bytes(), data)
    add("company_docs/finance/vendor_spend_2024.xlsx", office_bytes("xlsx"), data)
    add("data/corpus.csv.gz", gzip.compress(CSV_DATA), data)
    add("cache/features.pkl", pickle_bytes([[0.1, 0.2], [0.3, 0.4]]), data, rule="data.pickle")
    add("climate/era5.hdf5", hdf5_bytes(), data)

    # --- media and binaries, including a PNG that calls itself text
    add("web/static/logo.png", png_bytes(), media, rule="media.image")
    add("company_docs/diagrams/architecture.png", png_bytes(), media)
    add("company_docs/diagram.txt", png_bytes(), media, rule="media.image")
    add("web/static/hero.jpg", jpg_bytes(), media)
    add("web/static/spinner.gif", b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + bytes(100), media)
    add("web/static/icon.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M0 0h24v24H0z"/></svg>\n', media)
    add("marketing/jingle.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x0f" + random_binary(7), media, rule="media.audio")
    add("marketing/voice.wav", b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(100), media)
    add("marketing/demo.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100), media,
        rule="media.video")
    add("web/fonts/Inter.woff2", b"wOF2\x00\x01\x00\x00" + random_binary(8), media, rule="media.font")
    add("web/fonts/Inter.ttf", b"\x00\x01\x00\x00\x00\x10\x01\x00\x00\x04" + bytes(200), media)
    add("releases/aeon-cli-1.4.2.zip", zip_bytes({"aeon": elf_bytes()}), media, rule="media.archive")
    add("backups/site-2024-06-01.tar.gz", tar_gz_bytes({"index.html": HTML_DOC}), media)
    add("tools/aeon-cli", elf_bytes(), media, rule="media.executable")
    add("tools/win/aeon.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200), media)
    add("tools/blob.dat", random_binary(9), media, rule="media.binary")
    add("fixtures/unknown.bin", random_binary(10), media)

    # --- other
    add("logs/.gitkeep", b"", other, rule="other.empty")
    add("tmp/notes", b"remember to rotate the staging keys before friday\n", other, rule="other.text")
    add("logs/worker.log", LOG_TEXT, other)
    add("misc/CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55\n", other)
    add("pkg-1.0.dist-info/INSTALLER", b"pip\n", other)
    add("site/distutils-precedence.pth", b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n", cfg, rule="config.other")
    return cases


def test_labelled_set_is_big_and_covers_every_category() -> None:
    cases = labelled_set()
    assert len(cases) >= 200
    assert len({path for path, *_ in cases}) == len(cases), "duplicate paths in the labelled set"
    assert {category for _, _, category, _ in cases} == set(CATEGORIES)


def test_labelled_accuracy(clf: Classifier) -> None:
    cases = labelled_set()
    confusion: Counter[tuple[str, str]] = Counter()
    wrong = []
    for path, content, expected, extra in cases:
        got = run(clf, path, content)
        confusion[(expected, got.category)] += 1
        mismatched = {k: (v, getattr(got, k)) for k, v in extra.items() if getattr(got, k) != v}
        if got.category != expected or mismatched:
            wrong.append(f"{path}: expected {expected} {extra}, got {got}")
    accuracy = 1 - len(wrong) / len(cases)
    summary = "\n".join(f"  {e:22} -> {g:22} {n}" for (e, g), n in sorted(confusion.items()) if e != g)
    print(f"labelled set: {len(cases)} files, accuracy {accuracy:.1%}")
    assert accuracy >= 0.98, f"accuracy {accuracy:.1%}\nconfusion (expected -> got):\n{summary}\n" + "\n".join(wrong)
    assert {g for _, g in confusion} == set(CATEGORIES)


def test_classify_sniffs_when_the_inventory_facts_are_missing(clf: Classifier) -> None:
    for path, content, _, _ in labelled_set():
        assert clf.classify(path, content[:HEAD], size=len(content)) == run(clf, path, content), path


def test_content_beats_a_lying_or_missing_extension(clf: Classifier) -> None:
    assert run(clf, "notes/diagram.txt", png_bytes()).category == "media/binary"
    assert run(clf, "cfg/endpoints.txt", b'{"api": "https://api"}\n') == Classification(
        "config", None, "json", None, "config.json")
    k8s = run(clf, "deploy/api.conf", K8S_DEPLOYMENT)
    assert (k8s.category, k8s.infra_kind, k8s.config_format) == ("infrastructure", "kubernetes", "yaml")
    assert run(clf, "deploy/Dockerfile.prod", DOCKERFILE).infra_kind == "dockerfile"
    assert run(clf, "bin/tool", SHELL_SCRIPT) == Classification("code", "shell", None, None, "code.shebang")
    assert run(clf, "bin/tool.sh", b"#!/usr/bin/env python3\nprint('hi')\n").language == "python"
    assert run(clf, "pkg/__init__.py", b"") == Classification("code", "python", None, None, "code.source")
    assert run(clf, "pkg/empty.unknown", b"") == Classification("other", None, None, None, "other.empty")


def test_rule_ids_are_reported_and_known(clf: Classifier) -> None:
    ids = {r["id"] for r in yaml.safe_load(RULES_PATH.read_text())["rules"]}
    for path, content, _, _ in labelled_set():
        assert run(clf, path, content).rule in ids


def write_rules(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_user_rules_come_first_and_change_the_version(tmp_path: Path, clf: Classifier) -> None:
    user = write_rules(tmp_path / "rules.yaml", """
rules:
  - id: acme.prompts
    match: {ext: [jinja], path: [prompts/]}
    category: documentation
  - id: acme.k8s-as-config
    match: {path: [deploy/legacy/]}
    category: config
    config_format: auto
languages:
  matlab: {ext: [m]}
""")
    custom = Classifier(extra_rules_path=user)
    assert custom.version != clf.version
    assert custom.classify("prompts/judge.jinja", b"Rate {{ answer }}\n").rule == "acme.prompts"
    assert clf.classify("prompts/judge.jinja", b"Rate {{ answer }}\n").rule == "code.source"
    got = custom.classify("deploy/legacy/api.conf", K8S_DEPLOYMENT)
    assert (got.category, got.config_format, got.rule) == ("config", "yaml", "acme.k8s-as-config")
    assert custom.classify("analysis/fit.m", b"x = linspace(0, 1, 10);\n").language == "matlab"
    # Unmatched files still get the built-in answer.
    assert custom.classify("src/app.py", PY_MODULE) == clf.classify("src/app.py", PY_MODULE)


def test_user_file_can_disable_builtin_rules(tmp_path: Path) -> None:
    user = write_rules(tmp_path / "rules.yaml", "disable: [infra.helm.values]\n")
    got = Classifier(extra_rules_path=user).classify("deploy/helm/api/values.yaml", HELM_VALUES)
    assert (got.category, got.config_format, got.rule) == ("config", "yaml", "config.yaml")


def test_version_is_stable_and_follows_the_rules(tmp_path: Path, clf: Classifier) -> None:
    assert Classifier().version == clf.version
    copy = write_rules(tmp_path / "builtin.yaml", RULES_PATH.read_text() + "\n# a comment changes nothing\n")
    assert Classifier(rules_path=copy).version == clf.version
    edited = write_rules(tmp_path / "edited.yaml", RULES_PATH.read_text().replace("id: doc.text", "id: doc.plain-text"))
    assert Classifier(rules_path=edited).version != clf.version


@pytest.mark.parametrize("text, message", [
    ("rules:\n  - {id: a, match: {ext: [x]}, category: sourcecode}\n", "category"),
    ("rules:\n  - {id: a, match: {extension: [x]}, category: code}\n", "unknown conditions"),
    ("rules:\n  - {id: a, match: {detector: yaml_parse}, category: code}\n", "unknown detector"),
    ("rules:\n  - {id: a, match: {content: '(['}, category: code}\n", "content regex"),
    ("rules:\n  - {id: code.source, category: code}\n", "unique"),
    ("disable: [no.such.rule]\n", "disable"),
    ("rulez: []\n", "unknown keys"),
])
def test_bad_user_rules_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Classifier(extra_rules_path=write_rules(tmp_path / "rules.yaml", text))


def test_builtin_patterns_compile_and_a_bad_replacement_file_is_refused_at_load(tmp_path: Path) -> None:
    """Built-in patterns compile at first use (an incremental run compiles few); every one of
    them compiles, and a replacement rule file is checked when loaded, like a user's."""
    Classifier().compile_all()
    bad = write_rules(tmp_path / "only.yaml", "rules:\n  - {id: a, match: {content: '(['}, category: code}\n")
    with pytest.raises(ValueError, match="content regex"):
        Classifier(rules_path=bad)


def test_replacement_rules_without_catch_all_fall_back_to_other(tmp_path: Path) -> None:
    only = write_rules(tmp_path / "only.yaml",
                       "rules:\n  - {id: py, match: {ext: [py]}, category: code, language: python}\n")
    c = Classifier(rules_path=only)
    assert c.classify("a.py", b"") == Classification("code", "python", None, None, "py")
    assert c.classify("a.xyz", b"hello") == Classification("other", None, None, None, "fallback")


def test_fuzz_always_one_of_the_nine(clf: Classifier) -> None:
    rnd = random.Random(1234)
    alphabet = "abcXYZ._-~/ü\\ *?[]#!" + "".join(chr(c) for c in range(0x20, 0x7f, 7))
    fragments = ["node_modules", "templates", "vendor", "roles", ".github", "workflows", "__pycache__", "Dockerfile",
                 "values.yaml", ".env", "x.tf", "a.min.js", "b.pkl", "models", ".bak", "~", ".", "..", ""]
    types = [None, "python", "yaml", "json", "empty", "binary", "png", "pickle", "text", "symlink", "made-up"]
    heads = [b"", b"#!", b"apiVersion: v1\nkind: Pod\n", b"GGUF", b"- hosts: all\n  tasks: []\n",
             b'{"a": 1}\n{"b": 2}\n']
    for _ in range(3000):
        path = "/".join(rnd.choice(fragments) if rnd.random() < 0.5 else
                        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
                        for _ in range(rnd.randint(1, 5)))
        head = rnd.choice(heads) + bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        got = clf.classify(path, head, rnd.choice(types), rnd.choice([None, True, False]),
                           rnd.choice([None, 0, len(head), 10**9]))
        assert got.category in CATEGORIES and got.rule, (path, head[:40], got)


def test_speed_per_file(clf: Classifier) -> None:
    """The whole enrichment pass has ~11 s for ~49,000 files; classification may take ~20 us of it."""
    items = []
    for path, content, _, _ in labelled_set():
        head = content[:HEAD]
        s = sniff(head, path, len(content))
        items.append((path, head, s.file_type, s.is_text, len(content)))
    fresh = Classifier()
    start = time.perf_counter()
    for item in items:
        fresh.classify(*item)
    cold = (time.perf_counter() - start) / len(items) * 1e6
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            fresh.classify(*item)
    warm = (time.perf_counter() - start) / len(items) / rounds * 1e6
    print(f"classify: {cold:.1f} us/file with an empty cache, {warm:.1f} us/file warm ({len(items)} files)")
    # Loose bound: catches a rule that scans every file, not a busy machine.
    assert warm < 100


def test_demo_estate(tmp_path: Path, clf: Classifier) -> None:
    from anfl_assets.domain.demo_estate import write_demo_estate

    truth = write_demo_estate(tmp_path)
    root = tmp_path / truth["root"]
    got: dict[str, Classification] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                got[rel] = clf.classify(rel, b"", "symlink", False, 0)
                continue
            size = full.stat().st_size
            with open(full, "rb") as fh:
                head = fh.read(HEAD)
            got[rel] = clf.classify(rel, head, sniff(head, rel, size).file_type, None, size)
    assert len(got) >= truth["files"]

    for m in truth["models"]:
        expected = "data" if m["path"].endswith(".npy") else "model"
        assert got[m["path"]].category == expected, (m, got[m["path"]])
    for rel in truth["malformed_yaml"]:
        assert (got[rel].category, got[rel].config_format) == ("config", "yaml"), got[rel]
    tf = [rel for rel in got if rel.startswith("infrastructure/") and rel.endswith(".tf")]
    assert tf and all(got[rel].infra_kind == "terraform" for rel in tf)
    docs = [rel for rel in got if rel.startswith("company_docs/") and rel.endswith(".md") and "node_modules" not in rel]
    assert docs and all(got[rel].category == "documentation" for rel in docs)
    junk = [rel for rel in got if "__pycache__/" in rel or "node_modules/" in rel]
    assert len(junk) > 20 and all(got[rel].category == "build-artifact/cache" for rel in junk)
    assert all(got[rel].category == "build-artifact/cache" for rel in truth["junk"])
    assert all(got[rel].infra_kind == "helm" for rel in truth["templated_yaml"])
    # Not asked for, but worth pinning: every category the estate holds is found.
    assert {c.category for c in got.values()} >= {"code", "config", "documentation", "infrastructure", "model",
                                                   "data", "build-artifact/cache"}
