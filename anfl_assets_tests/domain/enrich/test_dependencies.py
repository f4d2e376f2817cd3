"""enrich.dependencies: manifest extraction (exact rows), internal resolution, usage, SBOM."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from anfl_assets.domain.enrich import dependencies as D
from anfl_assets.domain.enrich.dependencies import extract_declared


def attrs_of(deps: D.DeclaredDeps) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for i, k, v in deps.attrs:
        out.setdefault(i, {})[k] = v
    return out


def ok(path: str, text: str) -> D.DeclaredDeps:
    assert D.is_dependency_source(path, None), path
    deps = extract_declared(path, text.encode())
    assert deps.error is None, deps.error
    return deps


# ======================================================================================
# file selection
# ======================================================================================
@pytest.mark.parametrize("path,expected", [
    ("requirements.txt", True), ("svc/requirements-dev.txt", True), ("dev-requirements.txt", True),
    ("requirements/prod.txt", True), ("requirements.in", True), ("constraints.txt", True),
    ("requirements_old.txt", True), ("pyproject.toml", True), ("setup.cfg", True), ("setup.py", True),
    ("Pipfile", True), ("Pipfile.lock", True), ("poetry.lock", True), ("web/package.json", True),
    ("package-lock.json", True), ("npm-shrinkwrap.json", True), ("yarn.lock", True), ("go.mod", True),
    ("Cargo.toml", True), ("Cargo.lock", True), ("pom.xml", True), ("Dockerfile", True),
    ("docker/api/Dockerfile.prod", True), ("api.dockerfile", True), ("Containerfile", True),
    ("charts/x/Chart.yaml", True), ("Chart.lock", True), ("infra/main.tf", True),
    ("infra/.terraform.lock.hcl", True), ("k8s/api.yaml", True), ("compose.yml", True),
    ("README.md", False), ("Dockerfile.md", False), ("src/app.py", False), ("infra/prod.tfvars", False),
    ("main.tf.bak", False), ("notes.txt", False), ("go.sum", False),
    ("web/node_modules/left-pad/package.json", False), ("web/node_modules/.package-lock.json", False),
    (".venv/lib/python3.11/site-packages/x/requirements.txt", False), ("vendor/github.com/x/go.mod", False),
])
def test_is_dependency_source(path, expected):
    assert D.is_dependency_source(path, None) is expected


def test_unsupported_file_gives_nothing():
    assert extract_declared("src/app.py", b"import os\n") == D.DeclaredDeps([])


# ======================================================================================
# Python
# ======================================================================================
REQUIREMENTS = """\
# Production requirements for the API; regenerate with `make lock`
--index-url https://pypi.org/simple
--extra-index-url https://pypi.aeonnova.example/simple
-r base.txt
-c ../constraints.txt

requests[security,socks]==2.31.0   # pinned for the TLS fix
numpy>=1.26,<3
pandas ~= 2.2
urllib3 <2 ; python_version < "3.10"
boto3==1.34.84 \\
    --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
uvicorn[standard]
-e .
-e ./libs/aeon-core[dev]
-e git+https://github.com/aeonnova/tokenizers.git@v0.3.1#egg=aeon-tokenizers
aeon-plugins @ https://files.aeonnova.example/aeon_plugins-1.4.0-py3-none-any.whl
https://files.aeonnova.example/wheels/fast_json-0.9.2-cp311-cp311-manylinux_2_17_x86_64.whl
./vendor/wheels/legacy_sdk-2.0.0.tar.gz
torch==2.3.0+cpu ; platform_system == "Linux" and platform_machine == "x86_64"
"""


def test_requirements_txt():
    deps = ok("services/api/requirements.txt", REQUIREMENTS)
    assert deps.rows == [
        ("pypi", "base.txt", "path:services/api/base.txt", "include", "requirements", 4),
        ("pypi", "../constraints.txt", "path:services/constraints.txt", "include", "constraints", 5),
        ("pypi", "requests", "==2.31.0", "declared", "runtime", 7),
        ("pypi", "numpy", ">=1.26,<3", "declared", "runtime", 8),
        ("pypi", "pandas", "~=2.2", "declared", "runtime", 9),
        ("pypi", "urllib3", "<2", "declared", "runtime", 10),
        ("pypi", "boto3", "==1.34.84", "declared", "runtime", 11),
        ("pypi", "uvicorn", None, "declared", "runtime", 13),
        ("pypi", ".", "path:services/api", "declared", "runtime", 14),
        ("pypi", "./libs/aeon-core", "path:services/api/libs/aeon-core", "declared", "runtime", 15),
        ("pypi", "aeon-tokenizers", "git+https://github.com/aeonnova/tokenizers.git@v0.3.1#egg=aeon-tokenizers",
         "declared", "runtime", 16),
        ("pypi", "aeon-plugins", "https://files.aeonnova.example/aeon_plugins-1.4.0-py3-none-any.whl",
         "declared", "runtime", 17),
        ("pypi", "fast-json",
         "https://files.aeonnova.example/wheels/fast_json-0.9.2-cp311-cp311-manylinux_2_17_x86_64.whl",
         "declared", "runtime", 18),
        ("pypi", "legacy-sdk", "path:services/api/vendor/wheels/legacy_sdk-2.0.0.tar.gz", "declared", "runtime", 19),
        ("pypi", "torch", "==2.3.0+cpu", "declared", "runtime", 20),
    ]
    assert attrs_of(deps) == {
        2: {"extras": "security,socks"},
        5: {"marker": 'python_version < "3.10"'},
        7: {"extras": "standard"},
        8: {"editable": "true"},
        9: {"editable": "true", "extras": "dev"},
        10: {"editable": "true"},
        14: {"marker": 'platform_system == "Linux" and platform_machine == "x86_64"'},
    }


def test_requirements_bad_line_keeps_the_rest():
    deps = extract_declared("requirements.txt", b"flask==3.0.2\nthis is not a requirement!!\nclick>=8\n")
    assert deps.rows == [("pypi", "flask", "==3.0.2", "declared", "runtime", 1),
                         ("pypi", "click", ">=8", "declared", "runtime", 3)]
    assert deps.error.startswith("line 2: invalid requirement 'this is not a requirement!!'")


@pytest.mark.parametrize("path,detail", [
    ("requirements-dev.txt", "dev"), ("dev-requirements.txt", "dev"), ("requirements/test.txt", "dev"),
    ("requirements_test.txt", "dev"), ("requirements_old.txt", "runtime"), ("requirements/prod.txt", "runtime"),
])
def test_requirements_scope_from_name(path, detail):
    assert extract_declared(path, b"pytest==8.1.1\n").rows == [("pypi", "pytest", "==8.1.1", "declared", detail, 1)]


PYPROJECT_PEP621 = """\
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "aeon-api"
version = "2.14.9"
requires-python = ">=3.11"
dependencies = [
    "fastapi>=0.110,<1",
    "uvicorn[standard]==0.29.0",
    "pydantic-settings~=2.2",
    'tomli>=2.0; python_version < "3.11"',
    "aeon-core @ git+https://github.com/aeonnova/aeon-core.git@v1.2.0",
]

[project.optional-dependencies]
s3 = ["boto3>=1.34"]
test = [
    "pytest>=8",
    "httpx",
]

[dependency-groups]
lint = ["ruff==0.4.4"]

[tool.ruff]
line-length = 110
"""


def test_pyproject_pep621():
    deps = ok("pyproject.toml", PYPROJECT_PEP621)
    assert deps.rows == [
        ("pypi", "setuptools", ">=68", "declared", "build", 2),
        ("pypi", "wheel", None, "declared", "build", 2),
        ("pypi", "fastapi", ">=0.110,<1", "declared", "runtime", 10),
        ("pypi", "uvicorn", "==0.29.0", "declared", "runtime", 11),
        ("pypi", "pydantic-settings", "~=2.2", "declared", "runtime", 12),
        ("pypi", "tomli", ">=2.0", "declared", "runtime", 13),
        ("pypi", "aeon-core", "git+https://github.com/aeonnova/aeon-core.git@v1.2.0", "declared", "runtime", 14),
        ("pypi", "boto3", ">=1.34", "declared", "optional:s3", 18),
        ("pypi", "pytest", ">=8", "declared", "optional:test", 20),
        ("pypi", "httpx", None, "declared", "optional:test", 21),
        ("pypi", "ruff", "==0.4.4", "declared", "group:lint", 25),
    ]
    assert attrs_of(deps) == {3: {"extras": "standard"}, 5: {"marker": 'python_version < "3.11"'}}
    assert deps.provides == [("pypi", "aeon-api")]


PYPROJECT_POETRY = """\
[tool.poetry]
name = "aeon-worker"
version = "1.8.0"
description = "Celery workers for document processing"

[tool.poetry.dependencies]
python = "^3.11"
celery = {version = "^5.3", extras = ["redis"]}
requests = "^2.31"
"ruamel.yaml" = ">=0.18"
pendulum = { version = "3.0.0", optional = true }
aeon-core = { path = "../aeon-core", develop = true }
aeon-proto = { git = "https://github.com/aeonnova/proto.git", tag = "v0.9.1" }
numpy = [
    { version = "<2.0", python = "<3.12" },
    { version = ">=2.0", python = ">=3.12" },
]

[tool.poetry.extras]
dates = ["pendulum"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"
mypy = "*"

[build-system]
requires = ["poetry-core>=1.9"]
build-backend = "poetry.core.masonry.api"
"""


def test_pyproject_poetry():
    deps = ok("services/worker/pyproject.toml", PYPROJECT_POETRY)
    assert deps.rows == [
        ("pypi", "celery", "^5.3", "declared", "runtime", 8),
        ("pypi", "requests", "^2.31", "declared", "runtime", 9),
        ("pypi", "ruamel.yaml", ">=0.18", "declared", "runtime", 10),
        ("pypi", "pendulum", "3.0.0", "declared", "optional:dates", 11),
        ("pypi", "aeon-core", "path:services/aeon-core", "declared", "runtime", 12),
        ("pypi", "aeon-proto", "git+https://github.com/aeonnova/proto.git@v0.9.1", "declared", "runtime", 13),
        ("pypi", "numpy", "<2.0 || >=2.0", "declared", "runtime", 14),
        ("pypi", "pytest", "^8.0", "declared", "group:dev", 23),
        ("pypi", "mypy", None, "declared", "group:dev", 24),
        ("pypi", "poetry-core", ">=1.9", "declared", "build", 27),
    ]
    assert attrs_of(deps) == {0: {"extras": "redis"}, 4: {"editable": "true"},
                              6: {"marker": "python <3.12 || python >=3.12"}}
    assert deps.provides == [("pypi", "aeon-worker")]


SETUP_CFG = """\
[metadata]
name = aeon-cli
version = 0.4.0

[options]
packages = find:
python_requires = >=3.10
install_requires =
    click>=8.1
    rich==13.7.1
    importlib-metadata>=6; python_version<"3.10"
setup_requires =
    setuptools_scm>=8

[options.extras_require]
yaml =
    PyYAML>=6.0
test =
    pytest>=8
    pytest-cov
"""


def test_setup_cfg():
    deps = ok("tools/cli/setup.cfg", SETUP_CFG)
    assert deps.rows == [
        ("pypi", "click", ">=8.1", "declared", "runtime", 9),
        ("pypi", "rich", "==13.7.1", "declared", "runtime", 10),
        ("pypi", "importlib-metadata", ">=6", "declared", "runtime", 11),
        ("pypi", "setuptools_scm", ">=8", "declared", "build", 13),
        ("pypi", "PyYAML", ">=6.0", "declared", "optional:yaml", 17),
        ("pypi", "pytest", ">=8", "declared", "optional:test", 19),
        ("pypi", "pytest-cov", None, "declared", "optional:test", 20),
    ]
    assert attrs_of(deps) == {2: {"marker": 'python_version < "3.10"'}}
    assert deps.provides == [("pypi", "aeon-cli")]


def test_setup_py_literals():
    text = ('from setuptools import setup\n\nsetup(\n    name="legacy-tool",\n'
            '    install_requires=["six>=1.16", "requests==2.25.1"],\n'
            '    extras_require={"s3": ["boto3"]},\n    tests_require=REQS,\n)\n')
    deps = ok("legacy/setup.py", text)
    assert deps.rows == [("pypi", "six", ">=1.16", "declared", "runtime", 5),
                         ("pypi", "requests", "==2.25.1", "declared", "runtime", 5),
                         ("pypi", "boto3", None, "declared", "optional:s3", 6)]
    assert deps.provides == [("pypi", "legacy-tool")]


PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
flask = "==3.0.2"
gunicorn = "*"
sqlalchemy = {version = ">=2.0", extras = ["asyncio"]}
aeon-sdk = {git = "https://github.com/aeonnova/aeon-sdk.git", ref = "main", editable = true}
pywin32 = {version = "*", markers = "sys_platform == 'win32'"}

[dev-packages]
black = "==24.3.0"

[requires]
python_version = "3.11"
"""


def test_pipfile():
    deps = ok("Pipfile", PIPFILE)
    assert deps.rows == [
        ("pypi", "flask", "==3.0.2", "declared", "runtime", 7),
        ("pypi", "gunicorn", None, "declared", "runtime", 8),
        ("pypi", "sqlalchemy", ">=2.0", "declared", "runtime", 9),
        ("pypi", "aeon-sdk", "git+https://github.com/aeonnova/aeon-sdk.git@main", "declared", "runtime", 10),
        ("pypi", "pywin32", None, "declared", "runtime", 11),
        ("pypi", "black", "==24.3.0", "declared", "dev", 14),
    ]
    assert attrs_of(deps) == {2: {"extras": "asyncio"}, 3: {"editable": "true"},
                              4: {"marker": "sys_platform == 'win32'"}}


def test_pipfile_lock():
    text = json.dumps({
        "_meta": {"hash": {"sha256": "ab12"}, "pipfile-spec": 6, "requires": {"python_version": "3.11"}},
        "default": {"flask": {"hashes": ["sha256:aa"], "index": "pypi", "version": "==3.0.2"},
                    "werkzeug": {"hashes": ["sha256:bb"], "markers": "python_version >= '3.8'",
                                 "version": "==3.0.1"}},
        "develop": {"black": {"hashes": ["sha256:cc"], "version": "==24.3.0"}},
    }, indent=4)
    deps = ok("Pipfile.lock", text)
    assert deps.rows == [("pypi", "flask", "3.0.2", "locked", "runtime", 12),
                         ("pypi", "werkzeug", "3.0.1", "locked", "runtime", 19),
                         ("pypi", "black", "24.3.0", "locked", "dev", 28)]


POETRY_LOCK = """\
# This file is automatically @generated by Poetry 1.4.2 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.2.2"
description = "Python package for providing Mozilla's CA Bundle."
category = "main"
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2024.2.2-py3-none-any.whl", hash = "sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1"},
]

[[package]]
name = "pendulum"
version = "3.0.0"
description = "Python datetimes made easy"
category = "main"
optional = true
python-versions = ">=3.8"
files = []

[[package]]
name = "pytest"
version = "8.1.1"
description = "pytest: simple powerful testing with Python"
category = "dev"
optional = false
python-versions = ">=3.8"
files = []

[package.dependencies]
iniconfig = "*"
packaging = "*"
pluggy = ">=1.4,<2.0"

[[package]]
name = "requests"
version = "2.31.0"
description = "Python HTTP for Humans."
category = "main"
optional = false
python-versions = ">=3.7"
files = []

[package.dependencies]
certifi = ">=2017.4.17"
charset-normalizer = ">=2,<4"
idna = ">=2.5,<4"
urllib3 = {version = ">=1.21.1,<3", markers = "python_version >= \\"3.7\\""}

[package.extras]
socks = ["PySocks (>=1.5.6,!=1.5.7)"]

[[package]]
name = "urllib3"
version = "2.2.1"
description = "HTTP library with thread-safe connection pooling, file post, and more."
category = "main"
optional = false
python-versions = ">=3.8"
files = []

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "5b3fd4e1c0e0e44a84c5e0c3f7f1e2f1b8a0e8c71b3b4e6f0c9d2a1b0c3d4e5f"
"""


def test_poetry_lock():
    deps = ok("poetry.lock", POETRY_LOCK)
    assert deps.rows == [
        ("pypi", "certifi", "2024.2.2", "locked", "runtime", 4),
        ("pypi", "pendulum", "3.0.0", "locked", "optional", 15),
        ("pypi", "pytest", "8.1.1", "locked", "dev", 24),
        ("pypi", "requests", "2.31.0", "locked", "runtime", 38),
        ("pypi", "urllib3", "2.2.1", "locked", "runtime", 56),
    ]
    assert deps.edges == [
        ("pypi", "pytest", "8.1.1", "iniconfig", None), ("pypi", "pytest", "8.1.1", "packaging", None),
        ("pypi", "pytest", "8.1.1", "pluggy", None),
        ("pypi", "requests", "2.31.0", "certifi", "2024.2.2"), ("pypi", "requests", "2.31.0", "charset-normalizer", None),
        ("pypi", "requests", "2.31.0", "idna", None), ("pypi", "requests", "2.31.0", "urllib3", "2.2.1"),
    ]


def test_poetry2_lock_groups():
    text = ('[[package]]\nname = "ruff"\nversion = "0.4.4"\ngroups = ["lint"]\nfiles = []\n\n'
            '[[package]]\nname = "httpx"\nversion = "0.27.0"\ngroups = ["main", "dev"]\nfiles = []\n\n'
            '[[package]]\nname = "anyio"\nversion = "4.3.0"\nfiles = []\n')
    assert ok("poetry.lock", text).rows == [("pypi", "ruff", "0.4.4", "locked", "group:lint", 2),
                                            ("pypi", "httpx", "0.27.0", "locked", "runtime", 8),
                                            ("pypi", "anyio", "4.3.0", "locked", "unknown", 14)]


# ======================================================================================
# npm
# ======================================================================================
PACKAGE_JSON = """\
{
  "name": "@aeonnova/web",
  "version": "3.2.0",
  "private": true,
  "scripts": {
    "build": "vite build",
    "test": "vitest run"
  },
  "dependencies": {
    "@tanstack/react-query": "^5.28.4",
    "react": "18.2.0",
    "react-dom": "18.2.0",
    "lodash": "~4.17.21",
    "aeon-ui": "file:../aeon-ui",
    "legacy-fetch": "npm:node-fetch@^2.7.0",
    "chart-lib": "github:aeonnova/chart-lib#v1.0.2"
  },
  "devDependencies": {
    "typescript": "5.4.3",
    "@types/lodash": "^4.17.0",
    "vite": ">=5.2 <6"
  },
  "peerDependencies": {
    "react": ">=18"
  },
  "optionalDependencies": {
    "fsevents": "*"
  }
}
"""


def test_package_json():
    deps = ok("web/package.json", PACKAGE_JSON)
    assert deps.rows == [
        ("npm", "@tanstack/react-query", "^5.28.4", "declared", "runtime", 10),
        ("npm", "react", "18.2.0", "declared", "runtime", 11),
        ("npm", "react-dom", "18.2.0", "declared", "runtime", 12),
        ("npm", "lodash", "~4.17.21", "declared", "runtime", 13),
        ("npm", "aeon-ui", "path:aeon-ui", "declared", "runtime", 14),
        ("npm", "legacy-fetch", "npm:node-fetch@^2.7.0", "declared", "runtime", 15),
        ("npm", "chart-lib", "github:aeonnova/chart-lib#v1.0.2", "declared", "runtime", 16),
        ("npm", "typescript", "5.4.3", "declared", "dev", 19),
        ("npm", "@types/lodash", "^4.17.0", "declared", "dev", 20),
        ("npm", "vite", ">=5.2 <6", "declared", "dev", 21),
        ("npm", "react", ">=18", "declared", "peer", 24),
        ("npm", "fsevents", None, "declared", "optional", 27),
    ]
    assert attrs_of(deps) == {5: {"alias": "node-fetch"}}
    assert deps.provides == [("npm", "@aeonnova/web")]


PACKAGE_LOCK_V3 = """\
{
  "name": "@aeonnova/web",
  "version": "3.2.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "@aeonnova/web",
      "version": "3.2.0",
      "workspaces": ["packages/*"],
      "dependencies": {"lodash": "~4.17.21", "react": "18.2.0"},
      "devDependencies": {"@babel/code-frame": "^7.24.2", "typescript": "5.4.3"},
      "optionalDependencies": {"fsevents": "*"}
    },
    "node_modules/@aeonnova/shared": {
      "resolved": "packages/shared",
      "link": true
    },
    "node_modules/@babel/code-frame": {
      "version": "7.24.2",
      "resolved": "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.24.2.tgz",
      "integrity": "sha512-y5+tLQyV8pg3fsiln67BVLD1P13Eg4lh5RW9mF0zUuvLrv9uIQ4MCL+CRT+FTsBlBjcIan6PGsLcBN0m3ClUyQ==",
      "dev": true,
      "dependencies": {"js-tokens": "^8.0.0"}
    },
    "node_modules/@babel/code-frame/node_modules/js-tokens": {
      "version": "8.0.3",
      "dev": true
    },
    "node_modules/fsevents": {
      "version": "2.3.3",
      "optional": true,
      "os": ["darwin"]
    },
    "node_modules/js-tokens": {
      "version": "4.0.0"
    },
    "node_modules/lodash": {
      "version": "4.17.21"
    },
    "node_modules/loose-envify": {
      "version": "1.4.0",
      "dependencies": {"js-tokens": "^3.0.0 || ^4.0.0"},
      "bin": {"loose-envify": "cli.js"}
    },
    "node_modules/react": {
      "version": "18.2.0",
      "dependencies": {"loose-envify": "^1.1.0"},
      "engines": {"node": ">=0.10.0"}
    },
    "node_modules/typescript": {
      "version": "5.4.3",
      "dev": true,
      "bin": {"tsc": "bin/tsc", "tsserver": "bin/tsserver"}
    },
    "packages/shared": {
      "name": "@aeonnova/shared",
      "version": "0.1.0"
    }
  }
}
"""


def test_package_lock_v3():
    deps = ok("web/package-lock.json", PACKAGE_LOCK_V3)
    assert deps.rows == [
        ("npm", "@babel/code-frame", "7.24.2", "locked", "dev", 19),
        ("npm", "js-tokens", "8.0.3", "locked", "dev", 26),
        ("npm", "fsevents", "2.3.3", "locked", "optional", 30),
        ("npm", "js-tokens", "4.0.0", "locked", "runtime", 35),
        ("npm", "lodash", "4.17.21", "locked", "runtime", 38),
        ("npm", "loose-envify", "1.4.0", "locked", "runtime", 41),
        ("npm", "react", "18.2.0", "locked", "runtime", 46),
        ("npm", "typescript", "5.4.3", "locked", "dev", 51),
    ]
    # nested node_modules win over the hoisted copy (Node's lookup)
    assert deps.edges == [("npm", "@babel/code-frame", "7.24.2", "js-tokens", "8.0.3"),
                          ("npm", "loose-envify", "1.4.0", "js-tokens", "4.0.0"),
                          ("npm", "react", "18.2.0", "loose-envify", "1.4.0")]
    assert deps.provides == [("npm", "@aeonnova/web")]


def test_package_lock_v1():
    text = json.dumps({"name": "old", "lockfileVersion": 1, "dependencies": {
        "debug": {"version": "2.6.9", "requires": {"ms": "2.0.0"},
                  "dependencies": {"ms": {"version": "2.0.0"}}},
        "ms": {"version": "2.1.3", "dev": True}}}, indent=2)
    deps = ok("package-lock.json", text)
    assert deps.rows == [("npm", "debug", "2.6.9", "locked", "runtime", 5),
                         ("npm", "ms", "2.0.0", "locked", "runtime", 11),
                         ("npm", "ms", "2.1.3", "locked", "dev", 16)]
    assert deps.edges == [("npm", "debug", "2.6.9", "ms", "2.0.0")]


YARN_LOCK = """\
# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.22.13":
  version "7.24.2"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.24.2.tgz#9a1a56f8cf3d8b5b4c3c8e1d5c3c5c9c4a6f8f1d"
  integrity sha512-y5+tLQyV8pg3fsiln67BVLD1P13Eg4lh5RW9mF0zUuvLrv9uIQ4MCL+CRT+FTsBlBjcIan6PGsLcBN0m3ClUyQ==
  dependencies:
    "@babel/highlight" "^7.24.2"
    picocolors "^1.0.0"

"@babel/highlight@^7.24.2":
  version "7.24.2"
  resolved "https://registry.yarnpkg.com/@babel/highlight/-/highlight-7.24.2.tgz#3f539503efc83d3c59080a10e6634306e0370d26"
  integrity sha512-Yac1ao4flkTxTteCDZLEvdxg2fZfz1v8M4QpaGypq/WPDqg3ijHYbDfs+LG5hvzSoqaSZ9/Z9lKSP3CjZjv+pA==
  dependencies:
    js-tokens "^4.0.0"

js-tokens@^4.0.0:
  version "4.0.0"
  resolved "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#19203fb59991df98e3a287050d4647cdeaf32499"
  integrity sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==

lodash@^4.17.20, lodash@^4.17.21:
  version "4.17.21"
  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae8454cf0b3df370c3d6911c"
  integrity sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==
"""


def test_yarn_lock_v1():
    deps = ok("web/yarn.lock", YARN_LOCK)
    assert deps.rows == [("npm", "@babel/code-frame", "7.24.2", "locked", "unknown", 5),
                         ("npm", "@babel/highlight", "7.24.2", "locked", "unknown", 13),
                         ("npm", "js-tokens", "4.0.0", "locked", "unknown", 20),
                         ("npm", "lodash", "4.17.21", "locked", "unknown", 25)]
    assert deps.edges == [("npm", "@babel/code-frame", "7.24.2", "@babel/highlight", "7.24.2"),
                          ("npm", "@babel/code-frame", "7.24.2", "picocolors", None),
                          ("npm", "@babel/highlight", "7.24.2", "js-tokens", "4.0.0")]


def test_yarn_berry_lock():
    text = ('__metadata:\n  version: 8\n  cacheKey: 10c0\n\n'
            '"lodash@npm:^4.17.21":\n  version: 4.17.21\n  resolution: "lodash@npm:4.17.21"\n\n'
            '"web@workspace:.":\n  version: 0.0.0-use.local\n  resolution: "web@workspace:."\n'
            '  dependencies:\n    lodash: "npm:^4.17.21"\n')
    deps = ok("yarn.lock", text)
    assert deps.rows == [("npm", "lodash", "4.17.21", "locked", "unknown", 5)]


# ======================================================================================
# Go, Cargo, Maven
# ======================================================================================
GO_MOD = """\
module github.com/aeonnova/gateway

go 1.22.1

toolchain go1.22.3

require (
	github.com/gorilla/mux v1.8.1
	github.com/prometheus/client_golang v1.19.0
	go.uber.org/zap v1.27.0
	golang.org/x/sync v0.6.0 // indirect
)

require github.com/aeonnova/shared v0.0.0-20240301120000-abcdef123456

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.2.0 // indirect
)

replace github.com/aeonnova/shared => ../shared

exclude github.com/gorilla/mux v1.8.0
"""


def test_go_mod():
    deps = ok("gateway/go.mod", GO_MOD)
    assert deps.rows == [
        ("go", "github.com/gorilla/mux", "v1.8.1", "declared", "runtime", 8),
        ("go", "github.com/prometheus/client_golang", "v1.19.0", "declared", "runtime", 9),
        ("go", "go.uber.org/zap", "v1.27.0", "declared", "runtime", 10),
        ("go", "golang.org/x/sync", "v0.6.0", "declared", "indirect", 11),
        ("go", "github.com/aeonnova/shared", "v0.0.0-20240301120000-abcdef123456", "declared", "runtime", 14),
        ("go", "github.com/beorn7/perks", "v1.0.1", "declared", "indirect", 17),
        ("go", "github.com/cespare/xxhash/v2", "v2.2.0", "declared", "indirect", 18),
    ]
    assert attrs_of(deps) == {4: {"replace": "path:shared"}}
    assert deps.provides == [("go", "github.com/aeonnova/gateway")]
    assert D.go_module_path(GO_MOD.encode()) == "github.com/aeonnova/gateway"


CARGO_TOML = """\
[package]
name = "aeon-indexer"
version = "0.3.0"
edition = "2021"

[dependencies]
serde = { version = "1.0.197", features = ["derive"] }
tokio = { version = "=1.36.0", features = ["rt-multi-thread", "macros"] }
anyhow = "1"
aeon-common = { path = "../common" }
tantivy = { git = "https://github.com/quickwit-oss/tantivy", tag = "0.21.1" }
log = { workspace = true }
rand = { version = "0.8", optional = true }
yaml = { package = "serde_yaml", version = "0.9" }

[dependencies.reqwest]
version = "0.12"
default-features = false
features = ["rustls-tls"]

[dev-dependencies]
criterion = "0.5"

[build-dependencies]
cc = "1.0.90"

[target.'cfg(unix)'.dependencies]
nix = "0.28"
"""


def test_cargo_toml():
    deps = ok("indexer/Cargo.toml", CARGO_TOML)
    assert deps.rows == [
        ("cargo", "serde", "1.0.197", "declared", "runtime", 7),
        ("cargo", "tokio", "=1.36.0", "declared", "runtime", 8),
        ("cargo", "anyhow", "1", "declared", "runtime", 9),
        ("cargo", "aeon-common", "path:common", "declared", "runtime", 10),
        ("cargo", "tantivy", "https://github.com/quickwit-oss/tantivy@0.21.1", "declared", "runtime", 11),
        ("cargo", "log", None, "declared", "runtime", 12),
        ("cargo", "rand", "0.8", "declared", "optional", 13),
        ("cargo", "serde_yaml", "0.9", "declared", "runtime", 14),
        ("cargo", "reqwest", "0.12", "declared", "runtime", 16),
        ("cargo", "criterion", "0.5", "declared", "dev", 22),
        ("cargo", "cc", "1.0.90", "declared", "build", 25),
        ("cargo", "nix", "0.28", "declared", "runtime", 28),
    ]
    assert attrs_of(deps) == {0: {"features": "derive"}, 1: {"features": "rt-multi-thread,macros"},
                              5: {"workspace": "true"}, 7: {"rename": "yaml"}, 8: {"features": "rustls-tls"},
                              11: {"target": "cfg(unix)"}}
    assert deps.provides == [("cargo", "aeon-indexer")]


def test_cargo_lock():
    text = ('version = 3\n\n[[package]]\nname = "aeon-indexer"\nversion = "0.3.0"\ndependencies = [\n "serde",\n]\n\n'
            '[[package]]\nname = "serde"\nversion = "1.0.197"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'
            'checksum = "3fb1c873e1b9b056a4dc4c0c198b24c3ffa059243875552b2bd0933b1aee4ce2"\n'
            'dependencies = [\n "serde_derive",\n]\n\n'
            '[[package]]\nname = "serde_derive"\nversion = "1.0.197"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n')
    deps = ok("Cargo.lock", text)
    assert deps.rows == [("cargo", "serde", "1.0.197", "locked", "unknown", 11),
                         ("cargo", "serde_derive", "1.0.197", "locked", "unknown", 20)]
    assert deps.edges == [("cargo", "serde", "1.0.197", "serde_derive", "1.0.197")]


POM_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>

  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.2.4</version>
    <relativePath/>
  </parent>

  <groupId>com.aeonnova</groupId>
  <artifactId>billing-service</artifactId>
  <version>1.5.0-SNAPSHOT</version>

  <properties>
    <java.version>17</java.version>
    <jackson.version>2.17.0</jackson.version>
    <testcontainers.version>1.19.7</testcontainers.version>
  </properties>

  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.testcontainers</groupId>
        <artifactId>testcontainers-bom</artifactId>
        <version>${testcontainers.version}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
      <dependency>
        <groupId>com.google.guava</groupId>
        <artifactId>guava</artifactId>
        <version>33.1.0-jre</version>
      </dependency>
    </dependencies>
  </dependencyManagement>

  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>com.fasterxml.jackson.core</groupId>
      <artifactId>jackson-databind</artifactId>
      <version>${jackson.version}</version>
    </dependency>
    <dependency>
      <groupId>com.google.guava</groupId>
      <artifactId>guava</artifactId>
    </dependency>
    <dependency>
      <groupId>${project.groupId}</groupId>
      <artifactId>billing-api</artifactId>
      <version>${project.version}</version>
    </dependency>
    <dependency>
      <groupId>org.postgresql</groupId>
      <artifactId>postgresql</artifactId>
      <version>${postgresql.version}</version>
      <scope>runtime</scope>
    </dependency>
    <dependency>
      <groupId>org.testcontainers</groupId>
      <artifactId>postgresql</artifactId>
      <scope>test</scope>
    </dependency>
    <dependency>
      <groupId>org.projectlombok</groupId>
      <artifactId>lombok</artifactId>
      <version>1.18.32</version>
      <optional>true</optional>
    </dependency>
  </dependencies>

  <build>
    <plugins>
      <plugin>
        <groupId>org.springframework.boot</groupId>
        <artifactId>spring-boot-maven-plugin</artifactId>
      </plugin>
      <plugin>
        <artifactId>maven-surefire-plugin</artifactId>
        <version>3.2.5</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def test_pom_xml_with_properties():
    deps = ok("billing/pom.xml", POM_XML)
    assert deps.rows == [
        ("maven", "org.springframework.boot:spring-boot-starter-parent", "3.2.4", "declared", "parent", 9),
        ("maven", "org.testcontainers:testcontainers-bom", "1.19.7", "declared", "import", 28),
        ("maven", "com.google.guava:guava", "33.1.0-jre", "declared", "managed", 35),
        ("maven", "org.springframework.boot:spring-boot-starter-web", None, "declared", "runtime", 44),
        ("maven", "com.fasterxml.jackson.core:jackson-databind", "2.17.0", "declared", "runtime", 48),
        ("maven", "com.google.guava:guava", "33.1.0-jre", "declared", "runtime", 53),
        ("maven", "com.aeonnova:billing-api", "1.5.0-SNAPSHOT", "declared", "runtime", 57),
        # defined by the Spring Boot parent, not in this pom: left as written
        ("maven", "org.postgresql:postgresql", "${postgresql.version}", "declared", "runtime", 62),
        ("maven", "org.testcontainers:postgresql", None, "declared", "dev", 68),
        ("maven", "org.projectlombok:lombok", "1.18.32", "declared", "optional", 73),
        ("maven", "org.springframework.boot:spring-boot-maven-plugin", None, "declared", "build", 83),
        ("maven", "org.apache.maven.plugins:maven-surefire-plugin", "3.2.5", "declared", "build", 86),
    ]
    assert attrs_of(deps) == {1: {"type": "pom"}, 5: {"version_from": "dependencyManagement"}}
    assert deps.provides == [("maven", "com.aeonnova:billing-service")]


def test_pom_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (f'<?xml version="1.0"?>\n<!DOCTYPE project [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            '<project><dependencies><dependency><groupId>g</groupId><artifactId>&xxe;</artifactId>'
            '<version>1</version></dependency></dependencies></project>\n')
    deps = extract_declared("pom.xml", text.encode())
    assert "TOP-SECRET" not in repr(deps)


# ======================================================================================
# containers, charts, Terraform, CI
# ======================================================================================
DOCKERFILE = """\
# syntax=docker/dockerfile:1.7
ARG PYTHON_VERSION=3.11.9
ARG NODE_IMAGE=node:20.12-alpine
ARG BASE_DIGEST

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS assets
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ ./
RUN npm run build

FROM --platform=linux/amd64 python:${PYTHON_VERSION}-slim-bookworm AS builder
ARG PIP_INDEX_URL
RUN apt-get update \\
    && apt-get install -y --no-install-recommends build-essential \\
    && rm -rf /var/lib/apt/lists/*
RUN pip wheel --wheel-dir /wheels -r requirements.txt

FROM builder AS test
RUN pytest -q

FROM gcr.io/distroless/python3-debian12@sha256:0f9e2c6d4e1a7b3c5d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c AS runtime
COPY --from=builder /wheels /wheels
COPY --from=assets /web/dist /app/static
COPY --from=ghcr.io/astral-sh/uv:0.1.35 /uv /bin/uv
USER nonroot
ENTRYPOINT ["python", "-m", "aeon.api"]
"""


def test_dockerfile_multistage():
    deps = ok("docker/api/Dockerfile", DOCKERFILE)
    digest = "sha256:0f9e2c6d4e1a7b3c5d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c"
    assert deps.rows == [
        ("docker", "node", "20.12-alpine", "image", "build-stage", 6),
        ("docker", "python", "3.11.9-slim-bookworm", "image", "build-stage", 13),
        # `FROM builder AS test` names a stage, not an image
        ("docker", "gcr.io/distroless/python3-debian12", digest, "image", "runtime", 23),
        ("docker", "ghcr.io/astral-sh/uv", "0.1.35", "image", "copy-from", 26),
    ]
    assert attrs_of(deps) == {0: {"platform": "$BUILDPLATFORM", "stage": "assets"},
                              1: {"platform": "linux/amd64", "stage": "builder"},
                              2: {"stage": "runtime"}}


def test_dockerfile_runtime_follows_stage_chain_and_unresolved_args():
    text = ("ARG BASE\nFROM python:3.12-slim AS base\nRUN pip install uv\n\nFROM base AS app\n"
            "COPY . /app\n\nFROM ${BASE} AS other\nFROM app\nCMD [\"python\"]\n")
    deps = ok("Dockerfile", text)
    assert deps.rows == [("docker", "python", "3.12-slim", "image", "runtime", 2),
                         ("docker", "${BASE}", None, "image", "build-stage", 8)]
    assert attrs_of(deps) == {0: {"stage": "base"}, 1: {"stage": "other", "unresolved": "BASE"}}


K8S = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: search
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.aeonnova.example/search/migrate:1.4.2
        - name: wait-for-db
          image: busybox:1.36
      containers:
        - name: search
          image: registry.aeonnova.example/search/api@sha256:9b2c1e7d3a4f5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c
          ports:
            - containerPort: 8080
        - name: envoy
          image: "envoyproxy/envoy:v1.29.2"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: search-compact
spec:
  schedule: "0 4 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: compact
              image: registry.aeonnova.example/search/api:1.4.2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: search-config
data:
  image: not-a-container-image
"""


def test_k8s_manifests():
    deps = ok("k8s/search.yaml", K8S)
    assert deps.rows == [
        ("docker", "registry.aeonnova.example/search/migrate", "1.4.2", "image", "init", 10),
        ("docker", "busybox", "1.36", "image", "init", 12),
        ("docker", "registry.aeonnova.example/search/api",
         "sha256:9b2c1e7d3a4f5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c", "image", "runtime", 15),
        ("docker", "envoyproxy/envoy", "v1.29.2", "image", "runtime", 19),
        ("docker", "registry.aeonnova.example/search/api", "1.4.2", "image", "runtime", 33),
    ]


COMPOSE = """\
services:
  web:
    build:
      context: ./web
      dockerfile: Dockerfile.dev
    image: aeon/web:dev
    ports: ["3000:3000"]
  db:
    image: "postgres:${PG_VERSION:-16.2}-alpine"
    platform: linux/amd64
  cache:
    image: redis@sha256:3134997edb04277814aa51a4175a588d45eb4299272f8eff2307bbf8b39e4d43
  queue:
    image: ${QUEUE_IMAGE}
  worker:
    build: ./worker
volumes:
  pgdata: {}
"""


def test_compose():
    deps = ok("deploy/compose.yaml", COMPOSE)
    assert deps.rows == [
        ("docker", "Dockerfile.dev", "path:deploy/web/Dockerfile.dev", "include", "build", 3),
        ("docker", "aeon/web", "dev", "image", "runtime", 6),
        ("docker", "postgres", "16.2-alpine", "image", "runtime", 9),
        ("docker", "redis", "sha256:3134997edb04277814aa51a4175a588d45eb4299272f8eff2307bbf8b39e4d43",
         "image", "runtime", 12),
        ("docker", "${QUEUE_IMAGE}", None, "image", "runtime", 14),
        ("docker", "Dockerfile", "path:deploy/worker/Dockerfile", "include", "build", 16),
    ]
    assert attrs_of(deps) == {0: {"service": "web"}, 1: {"service": "web"},
                              2: {"service": "db", "platform": "linux/amd64"}, 3: {"service": "cache"},
                              4: {"unresolved": "QUEUE_IMAGE", "service": "queue"}, 5: {"service": "worker"}}


CHART = """\
apiVersion: v2
name: search
version: 0.4.1
appVersion: "1.4.2"
dependencies:
  - name: postgresql
    version: "~15.2.0"
    repository: https://charts.bitnami.com/bitnami
    condition: postgresql.enabled
  - name: common
    version: 2.x.x
    repository: oci://registry-1.docker.io/bitnamicharts
    tags: [bitnami-common]
  - name: search-shared
    version: 0.1.0
    repository: file://../search-shared
    alias: shared
"""


def test_chart_yaml():
    deps = ok("charts/search/Chart.yaml", CHART)
    assert deps.rows == [
        ("helm", "postgresql", "~15.2.0", "chart", "runtime", 6),
        ("helm", "common", "2.x.x", "chart", "runtime", 10),
        ("helm", "search-shared", "path:charts/search-shared", "chart", "runtime", 14),
    ]
    assert attrs_of(deps) == {
        0: {"repository": "https://charts.bitnami.com/bitnami", "condition": "postgresql.enabled"},
        1: {"repository": "oci://registry-1.docker.io/bitnamicharts"},
        2: {"repository": "file://../search-shared", "alias": "shared"},
    }
    assert deps.provides == [("helm", "search")]
    assert D.dependency_rows("p", "charts/search/Chart.yaml", deps)[2] == (
        "p", "charts/search/Chart.yaml", "internal", "helm", "search-shared", "path:charts/search-shared",
        "chart", "runtime", 14, "charts/search-shared")


def test_helm_values_and_templates():
    values = ("image:\n  registry: ghcr.io\n  repository: aeonnova/search\n  tag: \"1.4.2\"\n"
              "metrics:\n  exporter:\n    image:\n      repository: prom/statsd-exporter\n      tag: v0.26.0\n"
              "sidecarImage: busybox:1.36\n")
    assert ok("charts/search/values.yaml", values).rows == [
        ("docker", "ghcr.io/aeonnova/search", "1.4.2", "image", "runtime", 3),
        ("docker", "prom/statsd-exporter", "v0.26.0", "image", "runtime", 8),
        ("docker", "busybox", "1.36", "image", "runtime", 10),
    ]
    template = ('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels:\n'
                '    {{- include "x.labels" . | nindent 4 }}\nspec:\n  template:\n    spec:\n      containers:\n'
                '        - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n')
    assert extract_declared("charts/search/templates/deployment.yaml", template.encode()) == D.DeclaredDeps([])


TERRAFORM = """\
terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
    google = {
      source  = "registry.terraform.io/hashicorp/google"
      version = ">= 5.0, < 6.0"
    }
    datadog = {
      source = "DataDog/datadog"
    }
    legacy = "~> 1.0"
  }
}

module "network" {
  source = "../modules/network"
  cidr   = var.cidr
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "20.8.4"

  cluster_name = "aeon-${var.environment}"
}

module "dns" {
  source = "git::https://github.com/aeonnova/tf-modules.git//dns?ref=v2.3.0"
}

resource "aws_s3_bucket" "logs" {
  bucket = "aeon-logs"
}
"""
TERRAFORM_ROWS = [
    ("terraform", "hashicorp/aws", "~> 5.40", "provider", "runtime", 5),
    ("terraform", "registry.terraform.io/hashicorp/google", ">= 5.0, < 6.0", "provider", "runtime", 9),
    ("terraform", "DataDog/datadog", None, "provider", "runtime", 13),
    ("terraform", "hashicorp/legacy", "~> 1.0", "provider", "runtime", 16),
    ("terraform", "../modules/network", "path:infra/live/modules/network", "module", "runtime", 20),
    ("terraform", "terraform-aws-modules/eks/aws", "20.8.4", "module", "runtime", 25),
    ("terraform", "git::https://github.com/aeonnova/tf-modules.git//dns", "v2.3.0", "module", "runtime", 32),
]


def test_terraform():
    deps = ok("infra/live/prod/main.tf", TERRAFORM)
    assert deps.rows == TERRAFORM_ROWS
    assert attrs_of(deps) == {4: {"label": "network"}, 5: {"label": "eks"}, 6: {"label": "dns"}}


def test_terraform_regex_fallback():
    broken = TERRAFORM + '\nresource "aws_iam_role" "r" {\n  name = = "oops"\n'
    deps = extract_declared("infra/live/prod/main.tf", broken.encode())
    assert deps.rows == TERRAFORM_ROWS
    assert deps.error.startswith("hcl2: ") and "regex fallback used" in deps.error


def test_terraform_lock():
    text = ('# This file is maintained automatically by "terraform init".\n\n'
            'provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.40.0"\n'
            '  constraints = "~> 5.40"\n  hashes = [\n    "h1:abc=",\n  ]\n}\n')
    deps = ok("infra/.terraform.lock.hcl", text)
    assert deps.rows == [("terraform", "hashicorp/aws", "5.40.0", "locked", "runtime", 3)]
    assert attrs_of(deps) == {0: {"constraints": "~> 5.40"}}


def test_github_workflow_and_gitlab_ci():
    wf = ("name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    container: python:3.12-slim\n"
          "    services:\n      db:\n        image: postgres:16\n    steps:\n      - uses: actions/checkout@v4\n"
          "      - uses: ./.github/actions/setup\n      - uses: docker://alpine:3.19\n      - run: make test\n"
          "  release:\n    uses: aeonnova/workflows/.github/workflows/release.yml@v2\n")
    deps = ok(".github/workflows/ci.yml", wf)
    assert deps.rows == [
        ("docker", "python", "3.12-slim", "image", "ci", 6),
        ("docker", "postgres", "16", "image", "ci", 9),
        ("github-actions", "actions/checkout", "v4", "action", "ci", 11),
        ("github-actions", "./.github/actions/setup", "path:.github/actions/setup", "include", "ci", 12),
        ("docker", "alpine", "3.19", "image", "ci", 13),
        ("github-actions", "aeonnova/workflows/.github/workflows/release.yml", "v2", "action", "ci", 16),
    ]
    gl = ("image: python:3.12\nservices:\n  - name: redis:7\n    alias: cache\nstages: [test]\n"
          "test:\n  stage: test\n  image:\n    name: node:20\n  script: [npm test]\n"
          "build:\n  image: $CI_REGISTRY_IMAGE/builder:latest\n")
    deps = ok(".gitlab-ci.yml", gl)
    assert deps.rows == [("docker", "python", "3.12", "image", "ci", 1),
                         ("docker", "redis", "7", "image", "ci", 3),
                         ("docker", "node", "20", "image", "ci", 9),
                         ("docker", "$CI_REGISTRY_IMAGE/builder", "latest", "image", "ci", 12)]
    assert attrs_of(deps) == {1: {"service": "true"}, 2: {"job": "test"},
                              3: {"unresolved": "CI_REGISTRY_IMAGE", "job": "build"}}


# ======================================================================================
# malformed input never crashes
# ======================================================================================
def test_malformed_package_json_reports_error():
    deps = extract_declared("web/package.json", b'{"name": "web", "dependencies": {"react": "18.2.0",')
    assert deps.rows == []
    assert deps.error.startswith("package.json: JSONDecodeError: ")
    deps = extract_declared("web/package.json", b'{"dependencies": ["react"], "devDependencies": {"vite": "5"}}')
    assert deps.rows == [("npm", "vite", "5", "declared", "dev", 1)]
    assert deps.error == "dependencies is not an object"
    assert extract_declared("package.json", b"[1, 2]").error == "package.json: ValueError: package.json is not a JSON object"


@pytest.mark.parametrize("path,content,prefix", [
    ("pyproject.toml", b"[project\ndependencies = [", "pyproject: TOMLDecodeError: "),
    ("Cargo.toml", b"[dependencies]\nserde = {", "cargo.toml: TOMLDecodeError: "),
    ("pom.xml", b"<project><dependencies><dependency>", "pom: ParseError: "),
    ("pom.xml", b"<settings/>", "pom: ValueError: pom root element is <settings>"),
    ("charts/x/Chart.yaml", b"dependencies:\n  - name: [unclosed\n", "chart: "),
    ("docker-compose.yml", b"services:\n  web:\n    image: 'unterminated\n", "yaml: "),
    ("Pipfile.lock", b"{", "pipfile.lock: JSONDecodeError: "),
    ("setup.py", b"setup(install_requires=[\n", "setup.py: SyntaxError: "),
    ("Dockerfile", b"RUN echo hi\n", "no FROM instruction"),
])
def test_malformed_inputs_report_errors(path, content, prefix):
    deps = extract_declared(path, content)
    assert deps.error is not None and deps.error.startswith(prefix), deps.error


def test_garbage_never_raises():
    fixtures = {
        "requirements.txt": REQUIREMENTS, "pyproject.toml": PYPROJECT_POETRY, "setup.cfg": SETUP_CFG,
        "Pipfile": PIPFILE, "poetry.lock": POETRY_LOCK, "package.json": PACKAGE_JSON,
        "package-lock.json": PACKAGE_LOCK_V3, "yarn.lock": YARN_LOCK, "go.mod": GO_MOD, "Cargo.toml": CARGO_TOML,
        "pom.xml": POM_XML, "Dockerfile": DOCKERFILE, "k8s.yaml": K8S, "compose.yaml": COMPOSE,
        "Chart.yaml": CHART, "main.tf": TERRAFORM,
    }
    blobs = [b"", b"\x00\xff\xfe\x00" * 50, "\ufeff{[<\"'".encode(), b"a: &a [*a, *a]\n" * 3,
             b"- - - - -\n" * 200, "\u202e\u0000\x07".encode()]
    for path, text in fixtures.items():
        data = text.encode()
        cases = blobs + [data[: len(data) // 3], data[: len(data) // 2], data.replace(b"\n", b"\r\n"),
                         data.replace(b'"', b"")]
        for blob in cases:
            deps = extract_declared(path, blob)
            assert isinstance(deps, D.DeclaredDeps)
            assert all(len(r) == 6 for r in deps.rows)


def test_utf16_and_bom_are_decoded():
    text = "requests==2.31.0\n"
    assert ok("requirements.txt", "\ufeff" + text).rows == [("pypi", "requests", "==2.31.0", "declared", "runtime", 1)]
    deps = extract_declared("requirements.txt", text.encode("utf-16"))
    assert deps.rows == [("pypi", "requests", "==2.31.0", "declared", "runtime", 1)]


# ======================================================================================
# internal edges
# ======================================================================================
PROJECT_PATHS = {
    "app/__init__.py", "app/main.py", "app/models.py", "app/utils/__init__.py", "app/utils/text.py",
    "scripts/run.py", "scripts/helpers.py", "tools/cli.py", "tools/logging.py",
    "svc/pyproject.toml", "svc/src/aeon_svc/__init__.py", "svc/src/aeon_svc/core.py",
    "svc/src/aeon_svc/sub/__init__.py", "svc/src/aeon_svc/sub/leaf.py", "svc/tests/test_core.py",
    "web/src/index.ts", "web/src/components/Button.tsx", "web/src/lib/index.ts", "web/src/lib/format.js",
    "web/src/util.ts", "web/package.json",
    "gateway/go.mod", "gateway/cmd/server/main.go", "gateway/internal/auth/auth.go",
    "gateway/internal/auth/auth_test.go", "gateway/internal/auth/token.go",
    "scripts/deploy.sh", "scripts/lib/common.sh",
}


@pytest.mark.parametrize("imp,targets", [
    # python: absolute, relative, __init__, trailing imported name, src layout, stdlib/third party
    (("app/main.py", "python", "app.utils.text", 3), ["app/utils/text.py"]),
    (("app/main.py", "python", ".models", 4), ["app/models.py"]),
    (("app/main.py", "python", "app.models.User", 5), ["app/models.py"]),
    (("app/main.py", "python", "app.utils", 6), ["app/utils/__init__.py"]),
    (("app/utils/text.py", "python", "..models", 2), ["app/models.py"]),
    (("app/utils/text.py", "python", ".", 3), ["app/utils/__init__.py"]),
    (("app/utils/text.py", "python", "...too_far", 4), []),
    (("app/main.py", "python", "os.path", 1), []),
    (("app/main.py", "python", "numpy", 2), []),
    (("app/main.py", "python", "logging", 7), []),  # tools/logging.py does not shadow stdlib elsewhere
    (("tools/cli.py", "python", "logging", 1), ["tools/logging.py"]),  # ... but does for its sibling
    (("scripts/run.py", "python", "helpers", 1), ["scripts/helpers.py"]),
    (("svc/tests/test_core.py", "python", "aeon_svc.core", 1), ["svc/src/aeon_svc/core.py"]),
    (("svc/src/aeon_svc/core.py", "python", ".sub.leaf", 2), ["svc/src/aeon_svc/sub/leaf.py"]),
    (("svc/src/aeon_svc/core.py", "python", "aeon_svc.sub", 3), ["svc/src/aeon_svc/sub/__init__.py"]),
    # javascript / typescript
    (("web/src/index.ts", "typescript", "./components/Button", 1), ["web/src/components/Button.tsx"]),
    (("web/src/index.ts", "typescript", "./lib", 2), ["web/src/lib/index.ts"]),
    (("web/src/index.ts", "typescript", "./util.js", 3), ["web/src/util.ts"]),
    (("web/src/components/Button.tsx", "typescript", "../lib/format", 1), ["web/src/lib/format.js"]),
    (("web/src/index.ts", "typescript", "react", 4), []),
    (("web/src/index.ts", "typescript", "../../../outside", 5), []),
    (("web/src/lib/format.js", "javascript", "../../package.json", 1), ["web/package.json"]),
    # go: packages inside the module -> their non-test files
    (("gateway/cmd/server/main.go", "go", "github.com/aeonnova/gateway/internal/auth", 3),
     ["gateway/internal/auth/auth.go", "gateway/internal/auth/token.go"]),
    (("gateway/cmd/server/main.go", "go", "github.com/gorilla/mux", 4), []),
    # shell source
    (("scripts/deploy.sh", "shell", "lib/common.sh", 3), ["scripts/lib/common.sh"]),
    (("scripts/deploy.sh", "shell", '"$(dirname "$0")/lib/common.sh"', 4), ["scripts/lib/common.sh"]),
    (("scripts/deploy.sh", "bash", "${BASH_SOURCE%/*}/lib/common.sh", 5), ["scripts/lib/common.sh"]),
    (("scripts/deploy.sh", "shell", "~/.bashrc", 6), []),
])
def test_resolve_internal(imp, targets):
    got = D.resolve_internal([imp], PROJECT_PATHS, go_module="github.com/aeonnova/gateway")
    assert got == [(imp[0], t, imp[3]) for t in targets]


def test_resolve_internal_batch_rows_and_mapping_go_module():
    imports = [("gateway/cmd/server/main.go", "go", "github.com/aeonnova/gateway/internal/auth", 3),
               ("app/main.py", "python", ".models", 4), ("app/main.py", "python", ".models", 4)]
    got = D.resolve_internal(imports, PROJECT_PATHS, go_module={"gateway": "github.com/aeonnova/gateway"})
    assert got == [("gateway/cmd/server/main.go", "gateway/internal/auth/auth.go", 3),
                   ("gateway/cmd/server/main.go", "gateway/internal/auth/token.go", 3),
                   ("app/main.py", "app/models.py", 4)]
    rows = D.import_rows("p", imports[1:2], PROJECT_PATHS)
    assert rows == [("p", "app/main.py", "internal", "python", ".models", None, "import", "import", 4,
                     "app/models.py")]
    assert len(rows[0]) == len(D.DEPENDENCY_COLUMNS)


def test_python_top_level_names():
    assert D.python_top_level_names(PROJECT_PATHS) == {
        "app", "run", "helpers", "cli", "logging", "aeon_svc", "test_core"}


# ======================================================================================
# declared vs imported
# ======================================================================================
def test_usage_status():
    declared = [
        ("pypi", "PyYAML", "svc/requirements.txt"), ("pypi", "scikit-learn", "svc/requirements.txt"),
        ("pypi", "requests", "svc/requirements.txt"), ("pypi", "python-dateutil", "svc/requirements.txt"),
        ("pypi", "protobuf", "svc/requirements.txt"), ("pypi", "Pillow", "svc/requirements.txt"),
        ("pypi", "pytest", "svc/requirements.txt"), ("pypi", "google-cloud-storage", "svc/requirements.txt"),
        ("pypi", "flask", "other/requirements/base.txt"),
        ("npm", "lodash", "web/package.json"), ("npm", "@scope/name", "web/package.json"),
        ("npm", "@types/lodash", "web/package.json"), ("npm", "left-pad", "web/package.json"),
        ("go", "github.com/gorilla/mux", "gateway/go.mod"), ("go", "go.uber.org/zap", "gateway/go.mod"),
        ("docker", "python", "Dockerfile"),  # not a code ecosystem: ignored
    ]
    imported = [
        ("python", "yaml", "svc/src/x.py"), ("python", "sklearn.linear_model", "svc/src/x.py"),
        ("python", "dateutil.parser", "svc/src/x.py"), ("python", "google.protobuf.json_format", "svc/src/x.py"),
        ("python", "requests", "svc/src/x.py"), ("python", "PIL.Image", "svc/src/x.py"),
        ("python", "google.cloud.storage", "svc/src/x.py"),
        ("python", "os", "svc/src/x.py"), ("python", "aeon_svc.core", "svc/src/x.py"),
        ("python", ".sibling", "svc/src/x.py"),
        ("python", "cv2", "svc/src/x.py"), ("python", "bs4", "svc/src/y.py"),
        ("python", "flask", "svc/src/y.py"),  # declared, but only for other/
        ("python", "flask", "other/app.py"),
        ("python", "requests", "tools/t.py"),  # no manifest governs tools/: checked against all
        ("typescript", "lodash/fp", "web/src/a.ts"), ("typescript", "@scope/name/sub", "web/src/a.ts"),
        ("typescript", "node:fs", "web/src/a.ts"), ("typescript", "path", "web/src/a.ts"),
        ("javascript", "./local", "web/src/a.ts"), ("typescript", "axios", "web/src/b.ts"),
        ("typescript", "@other/pkg/deep", "web/src/b.ts"), ("typescript", "@aeonnova/web/x", "web/src/b.ts"),
        ("go", "github.com/gorilla/mux", "gateway/main.go"), ("go", "fmt", "gateway/main.go"),
        ("go", "net/http", "gateway/main.go"), ("go", "github.com/aeonnova/gateway/internal/auth", "gateway/main.go"),
        ("go", "github.com/pkg/errors/sub", "gateway/main.go"),
        ("rust", "serde", "x.rs"),
    ]
    own = {"aeon_svc", "@aeonnova/web", "github.com/aeonnova/gateway"}
    never, undeclared = D.usage_status(declared, imported, own)
    assert never == [("go", "go.uber.org/zap", "gateway/go.mod"),
                     ("npm", "left-pad", "web/package.json"),
                     ("pypi", "pytest", "svc/requirements.txt")]
    assert undeclared == [
        ("go", "github.com/pkg/errors", "github.com/pkg/errors/sub", "gateway/main.go"),
        ("npm", "@other/pkg", "@other/pkg/deep", "web/src/b.ts"),
        ("npm", "axios", "axios", "web/src/b.ts"),
        ("pypi", "beautifulsoup4", "bs4", "svc/src/y.py"),
        ("pypi", "flask", "flask", "svc/src/y.py"),
        ("pypi", "opencv-python", "cv2", "svc/src/x.py"),
    ]


def test_python_dist_candidates():
    assert D.python_dist_candidates("yaml")[0] == "pyyaml"
    assert D.python_dist_candidates("google.protobuf.json_format")[0] == "protobuf"
    assert D.python_dist_candidates("google.cloud.storage.blob")[0] == "google-cloud-storage"
    assert D.python_dist_candidates("Tree_Sitter")[0] == "tree-sitter"
    assert "python-dotenv" in D.python_dist_candidates("dotenv")
    assert D.npm_package_of("@scope/name/sub/path") == "@scope/name"
    assert D.npm_package_of("lodash/fp") == "lodash"
    assert [D.npm_package_of(s) for s in ("node:fs", "fs/promises", "./x", "/abs", "https://x/y.js")] == [None] * 5


# ======================================================================================
# SBOM
# ======================================================================================
FIXED = __import__("datetime").datetime(2024, 6, 1, tzinfo=__import__("datetime").timezone.utc)


def _sbom_rows():
    rows = []
    for path, text in (("svc/requirements.txt", "requests==2.31.0\nnumpy>=1.26,<3\n-e ./libs/core\n"),
                       ("svc/poetry.lock", POETRY_LOCK),
                       ("web/package.json", '{"dependencies": {"@scope/name": "1.2.3", "lodash": "^4.17.0"}}'),
                       ("gateway/go.mod", GO_MOD), ("indexer/Cargo.toml", CARGO_TOML), ("billing/pom.xml", POM_XML),
                       ("docker/api/Dockerfile", DOCKERFILE), ("k8s/search.yaml", K8S),
                       ("charts/search/Chart.yaml", CHART), ("infra/live/prod/main.tf", TERRAFORM),
                       (".github/workflows/ci.yml", "jobs:\n  t:\n    steps:\n      - uses: actions/checkout@v4\n")):
        deps = ok(path, text)
        yield path, deps
    return rows


def test_sbom_valid_with_purls_containers_and_graph():
    rows, edges, files = [], [], []
    for path, deps in _sbom_rows():
        rows += D.dependency_rows("demo", path, deps)
        edges += deps.edges
        files.append(deps)
    data = D.build_sbom("demo", rows, edges, timestamp=FIXED, repositories=D.sbom_repositories(files))
    assert isinstance(data, bytes)
    D.validate_sbom(data)  # also validated inside build_sbom
    bom = json.loads(data)
    assert bom["specVersion"] == "1.6" and bom["bomFormat"] == "CycloneDX"
    assert bom["metadata"]["component"] == {"bom-ref": "project:demo", "name": "demo", "type": "application"}
    comps = {c["purl"]: c for c in bom["components"]}
    for purl in ("pkg:pypi/requests@2.31.0", "pkg:pypi/urllib3@2.2.1", "pkg:pypi/certifi@2024.2.2",
                 "pkg:pypi/numpy", "pkg:npm/%40scope/name@1.2.3", "pkg:npm/lodash",
                 "pkg:golang/github.com/gorilla/mux@v1.8.1",
                 "pkg:golang/github.com/aeonnova/shared@v0.0.0-20240301120000-abcdef123456",
                 "pkg:cargo/tokio@1.36.0", "pkg:cargo/serde", "pkg:maven/com.google.guava/guava@33.1.0-jre",
                 "pkg:maven/org.springframework.boot/spring-boot-starter-parent@3.2.4",
                 "pkg:docker/node@20.12-alpine", "pkg:docker/astral-sh/uv@0.1.35?repository_url=ghcr.io",
                 "pkg:docker/busybox@1.36",
                 "pkg:helm/postgresql?repository_url=https://charts.bitnami.com/bitnami",
                 "pkg:terraform/terraform-aws-modules/eks/aws@20.8.4#module",
                 "pkg:terraform/hashicorp/aws#provider",
                 "pkg:github/actions/checkout@v4"):
        assert purl in comps, (purl, sorted(comps))
    assert comps["pkg:npm/%40scope/name@1.2.3"]["group"] == "@scope"
    assert comps["pkg:docker/busybox@1.36"]["type"] == "container"
    images = [c for c in bom["components"] if c["purl"].startswith("pkg:docker/")]
    assert images and all(c["type"] == "container" for c in images)
    assert all(c["type"] == "library" for c in bom["components"] if c["purl"].startswith("pkg:pypi/"))
    # no internal references (path:, `-e ./libs/core`, local chart/module) and no unresolved ${...}
    assert not any("path" in c["purl"] or "%24%7B" in c["purl"] for c in bom["components"])
    assert comps["pkg:pypi/pytest@8.1.1"]["scope"] == "excluded"
    assert comps["pkg:pypi/requests@2.31.0"]["scope"] == "required"
    assert {"name": "anfl:source", "value": "svc/requirements.txt:1"} in comps["pkg:pypi/requests@2.31.0"]["properties"]
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in bom["dependencies"]}
    assert "pkg:pypi/requests@2.31.0" in deps["project:demo"]
    assert "pkg:pypi/urllib3@2.2.1" in deps["pkg:pypi/requests@2.31.0"]  # from the poetry.lock graph
    assert "pkg:pypi/urllib3@2.2.1" not in deps["project:demo"]
    # deterministic for the same input
    assert D.build_sbom("demo", rows, edges, timestamp=FIXED, repositories=D.sbom_repositories(files)) == data


def test_sbom_accepts_arrow_style_dicts_and_empty_projects():
    deps = ok("requirements.txt", "requests==2.31.0\n")
    dicts = [dict(zip(D.DEPENDENCY_COLUMNS, r)) for r in D.dependency_rows("p", "requirements.txt", deps)]
    bom = json.loads(D.build_sbom("p", dicts, timestamp=FIXED))
    assert [c["purl"] for c in bom["components"]] == ["pkg:pypi/requests@2.31.0"]
    empty = json.loads(D.build_sbom("nothing", []))
    assert empty.get("components", []) == [] and empty["metadata"]["component"]["name"] == "nothing"


def test_validate_sbom_rejects_invalid():
    with pytest.raises(D.SbomError, match="'type' is a required property at /components/0"):
        D.validate_sbom('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "x"}]}', "p")


@pytest.mark.parametrize("eco,kind,spec,version", [
    ("pypi", "declared", "==2.31.0", "2.31.0"), ("pypi", "declared", ">=2", None), ("pypi", "declared", "==2.*", None),
    ("pypi", "declared", "3.0.0", "3.0.0"), ("npm", "declared", "1.2.3", "1.2.3"), ("npm", "declared", "^1.2.3", None),
    ("cargo", "declared", "1.0.197", None), ("cargo", "declared", "=1.36.0", "1.36.0"),
    ("maven", "declared", "[1.0,2.0)", None), ("maven", "declared", "${x}", None), ("helm", "chart", "13.2.24", "13.2.24"),
    ("helm", "chart", "~15.2.0", None), ("terraform", "provider", "~> 5.31", None), ("terraform", "provider", "3.6.0", "3.6.0"),
    ("go", "declared", "v1.8.1", "v1.8.1"), ("docker", "image", "3.11-slim", "3.11-slim"),
    ("pypi", "locked", "2.2.1", "2.2.1"), ("npm", "declared", "path:web/x", None),
])
def test_exact_version(eco, kind, spec, version):
    assert D.exact_version(eco, kind, spec) == version


# ======================================================================================
# the sample estate
# ======================================================================================
@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    from anfl_assets.domain.demo_estate import write_demo_estate

    base = tmp_path_factory.mktemp("estate")
    write_demo_estate(base)
    root = base / "AeonNovaProject"
    found: dict[str, D.DeclaredDeps] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for fn in filenames:
            rel = Path(dirpath, fn).relative_to(root).as_posix()
            if D.is_dependency_source(rel, None):
                found[rel] = extract_declared(rel, Path(dirpath, fn).read_bytes())
    return root, found


def _rows(found, kind=None, eco=None):
    return [(path,) + r for path, deps in found.items() for r in deps.rows
            if (kind is None or r[3] == kind) and (eco is None or r[0] == eco)]


def test_sample_estate_images(estate):
    root, found = estate
    assert {p: d.error for p, d in found.items() if d.error} == {}
    got = {(p, name + (":" + spec if spec else "")) for p, _, name, spec, *_ in _rows(found, kind="image")}

    expected = set()
    for f in sorted((root / "infrastructure/k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            stack = [doc]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    for key in ("containers", "initContainers"):
                        for c in node.get(key) or []:
                            expected.add((f.relative_to(root).as_posix(), c["image"]))
                    stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
    compose = root / "infrastructure/docker-compose.yml"
    for svc in yaml.safe_load(compose.read_text())["services"].values():
        if "image" in svc:
            expected.add(("infrastructure/docker-compose.yml", svc["image"]))
    for f in root.joinpath("infrastructure/docker").rglob("Dockerfile*"):
        text = f.read_text()
        stages = {m.lower() for m in re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", text)}
        for image in re.findall(r"(?im)^FROM\s+(?:--platform=\S+\s+)?(\S+)", text):
            if image.lower() not in stages:
                expected.add((f.relative_to(root).as_posix(), image))
    gitlab = yaml.safe_load((root / "infrastructure/.gitlab-ci.yml").read_text())
    expected |= {("infrastructure/.gitlab-ci.yml", gitlab["default"]["image"]),
                 ("infrastructure/.gitlab-ci.yml", gitlab["helm-lint"]["image"])}
    values = yaml.safe_load((root / "infrastructure/helm/aeon-api/values.yaml").read_text())
    expected.add(("infrastructure/helm/aeon-api/values.yaml", values["image"]["repository"]))

    assert len(expected) >= 12
    assert got == expected
    # the worker's final stage builds on `base`: its image is what runs
    worker = [r for r in found["infrastructure/docker/worker/Dockerfile"].rows]
    assert worker == [("docker", "python", "3.11-slim", "image", "runtime", 1)]


def test_sample_estate_charts_terraform_python_npm(estate):
    root, found = estate
    chart = yaml.safe_load((root / "infrastructure/helm/aeon-api/Chart.yaml").read_text())
    assert {(n, v) for _, _, n, v, *_ in _rows(found, kind="chart")} == \
        {(d["name"], d["version"]) for d in chart["dependencies"]}

    providers_tf = (root / "infrastructure/terraform/providers.tf").read_text()
    block = providers_tf[providers_tf.index("required_providers"):]
    expected_providers = set(zip(re.findall(r'source\s*=\s*"([^"]+)"', block)[:3],
                                 re.findall(r'version\s*=\s*"([^"]+)"', block)[:3]))
    assert {(n, v) for _, _, n, v, *_ in _rows(found, kind="provider")} == expected_providers
    main_tf = (root / "infrastructure/terraform/main.tf").read_text()
    module_sources = set(re.findall(r'(?s)module\s+"[^"]+"\s*\{\s*source\s*=\s*"([^"]+)"', main_tf))
    assert {n for _, _, n, *_ in _rows(found, kind="module")} == module_sources
    locked = {(n, v) for _, _, n, v, *_ in _rows(found, kind="locked", eco="terraform")}
    assert {n for n, _ in locked} == {n for n, _ in expected_providers}

    req = root / "ai_model_testing/requirements.txt"
    expected_req = {tuple(ln.split("==")) for ln in req.read_text().splitlines() if ln and not ln.startswith("#")}
    got_req = {(n, v[2:]) for p, _, n, v, *_ in _rows(found, eco="pypi") if p == "ai_model_testing/requirements.txt"}
    assert got_req == expected_req
    assert "company_docs/site/node_modules/left-pad/package.json" not in found
    npm = {n for p, _, n, *_ in _rows(found, eco="npm")}
    assert npm == set(json.loads((root / "company_docs/site/package.json").read_text())["dependencies"])


def test_sample_estate_sbom(estate):
    root, found = estate
    rows, edges = [], []
    for path, deps in sorted(found.items()):
        rows += D.dependency_rows("AeonNovaProject", path, deps)
        edges += deps.edges
    bom = json.loads(D.build_sbom("AeonNovaProject", rows, edges, timestamp=FIXED,
                                  repositories=D.sbom_repositories(found.values())))
    purls = {c["purl"] for c in bom["components"]}
    containers = {c["purl"] for c in bom["components"] if c["type"] == "container"}
    assert {"pkg:docker/postgres@15.5", "pkg:docker/redis@7.2-alpine", "pkg:docker/python@3.11-slim",
            "pkg:docker/prometheus/node-exporter@v1.7.0?repository_url=quay.io",
            "pkg:docker/distroless/python3-debian12@nonroot?repository_url=gcr.io",
            "pkg:docker/aeon/api@2.14.9?repository_url=registry.aeonnova.example"} <= containers
    assert {"pkg:helm/postgresql@13.2.24?repository_url=https://charts.bitnami.com/bitnami",
            "pkg:terraform/hashicorp/random@3.6.0#provider", "pkg:terraform/hashicorp/aws@5.31.0#provider",
            "pkg:terraform/terraform-aws-modules/eks/aws@19.21.0#module",
            "pkg:pypi/numpy@1.26.4", "pkg:npm/%40aeonnova/docs-theme"} <= purls
