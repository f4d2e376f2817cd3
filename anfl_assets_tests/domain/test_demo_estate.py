"""The demo estate: deterministic, measured ground truth, real file formats, real git history.

These tests check the generated tree independently of the generator's own
bookkeeping (their own os.walk, hashing, format parsers and git calls), because
the ground truth is what the pipeline's findings are later compared against.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import marshal
import os
import pickle
import pickletools
import re
import stat
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anfl_assets.domain import demo_estate
from anfl_assets.domain.demo_estate import ROOT_NAME, write_demo_estate

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env,
                          text=True, errors="replace").stdout  # `log -p` shows the PDF's binary marker bytes


def snapshot(root: Path) -> list[tuple]:
    """Every entry except .git/: path, kind, mode, mtime, content (or link target)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out.append((rel, "link", os.readlink(p), int(st.st_mtime)))
            else:
                out.append((rel, "file", stat.S_IMODE(st.st_mode), int(st.st_mtime), p.read_bytes()))
    return sorted(out)


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    truth = write_demo_estate(out, seed=7)
    return out / ROOT_NAME, truth, time.monotonic() - started


# --------------------------------------------------------------------------------------
# determinism, totals, refusal
# --------------------------------------------------------------------------------------
def test_same_seed_gives_identical_tree_and_truth(estate, tmp_path):
    root, truth, _ = estate
    again = write_demo_estate(tmp_path, seed=7)
    assert again == truth
    assert snapshot(tmp_path / ROOT_NAME) == snapshot(root)
    assert git(tmp_path / ROOT_NAME, "rev-list", "HEAD") == git(root, "rev-list", "HEAD")


def test_different_seed_gives_different_secrets(estate, tmp_path):
    _, truth, _ = estate
    other = write_demo_estate(tmp_path, seed=8)
    assert {s["value"] for s in other["secrets"]}.isdisjoint({s["value"] for s in truth["secrets"]})
    assert other["git"]["head"] != truth["git"]["head"]
    assert other["seed"] == 8


def test_ground_truth_file_matches_return_value(estate):
    root, truth, _ = estate
    assert json.loads((root.parent / "ground_truth.json").read_text()) == truth
    assert truth["generator"] == "anfl demo-estate" and truth["version"] == 1
    assert truth["root"] == ROOT_NAME


def test_totals_equal_an_independent_walk(estate):
    root, truth, _ = estate
    count, total, by_top, links = 0, 0, {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames.remove(".git")
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                links.append(rel)
            elif p.is_file():
                count += 1
                total += p.stat().st_size
                top = rel.split("/")[0] if "/" in rel else "."
                by_top[top] = [by_top.get(top, [0, 0])[0] + 1, by_top.get(top, [0, 0])[1] + p.stat().st_size]
    assert truth["files"] == count
    assert truth["bytes"] == total
    assert {k: [v["files"], v["bytes"]] for k, v in truth["by_top_dir"].items()} == by_top
    assert sorted(s["path"] for s in truth["symlinks"]) == sorted(links)
    assert {"ai_model_testing", "infrastructure", "yaml_configs", "company_docs"} <= set(by_top)


def test_small_and_fast(estate):
    _, truth, seconds = estate
    assert 200 <= truth["files"] <= 600
    assert truth["bytes"] < 15 * 1024 * 1024
    assert seconds < 30  # ~1-2 s in practice; generous for slow CI machines


def test_refuses_a_non_empty_target(tmp_path):
    (tmp_path / ROOT_NAME).mkdir()
    (tmp_path / ROOT_NAME / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_demo_estate(tmp_path)
    assert sorted(os.listdir(tmp_path / ROOT_NAME)) == ["keep.txt"]
    assert not (tmp_path / "ground_truth.json").exists()


def test_module_does_not_import_dagster():
    tree = ast.parse(Path(demo_estate.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "dagster" not in imported
    assert imported <= set(sys.stdlib_module_names) | {"numpy", "__future__"}


# --------------------------------------------------------------------------------------
# duplicates, old versions, junk, symlinks, restricted docs
# --------------------------------------------------------------------------------------
def test_duplicate_groups_match_independent_hashing(estate):
    root, truth, _ = estate
    by_hash = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames.remove(".git")
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                by_hash.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), []).append(p.relative_to(root).as_posix())
    expected = sorted((sorted(v) for v in by_hash.values() if len(v) > 1), key=lambda g: g[0])
    assert [g["paths"] for g in truth["duplicate_groups"]] == expected
    groups = [set(g["paths"]) for g in truth["duplicate_groups"]]
    assert {"LICENSE", "ai_model_testing/LICENSE", "infrastructure/helm/aeon-api/LICENSE"} in groups
    assert {"ai_model_testing/models/text_encoder.safetensors",
            "ai_model_testing/experiments/exp_2024_06/text_encoder.safetensors"} in groups
    assert {"company_docs/onboarding/dev-setup.md", "ai_model_testing/docs/dev-setup.md"} in groups
    copied_dir = [g for g in groups if any(p.startswith("ai_model_testing/experiments/exp_2024_06/prompts/") for p in g)]
    assert len(copied_dir) >= 3


def test_old_versions_exist_next_to_their_latest(estate):
    root, truth, _ = estate
    olds = {o["path"]: o["latest"] for o in truth["old_versions"]}
    assert len(olds) >= 6
    for old, latest in olds.items():
        assert (root / old).is_file() and (root / latest).is_file()
        assert (root / old).read_bytes() != (root / latest).read_bytes()
    names = " ".join(olds)
    for marker in ("_v1", "_old", ".bak", "_2024-03-01"):
        assert marker in names


def test_junk_is_present_and_ignored_by_git(estate):
    root, truth, _ = estate
    junk = truth["junk"]
    for marker in ("/__pycache__/", "/node_modules/", "/.pytest_cache/", ".DS_Store"):
        assert any(marker in "/" + p for p in junk), marker
    assert all((root / p).is_file() for p in junk)
    ignored = set(truth["git"]["ignored"])
    assert set(junk) <= ignored
    assert set(git(root, "ls-files").split("\n")).isdisjoint(junk)


def test_pyc_files_are_real_bytecode_for_this_interpreter(estate):
    root, truth, _ = estate
    pycs = [p for p in truth["junk"] if p.endswith(".pyc")]
    assert len(pycs) >= 5
    assert truth["python"]["pyc_magic"] == importlib.util.MAGIC_NUMBER.hex()
    for rel in pycs:
        data = (root / rel).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        flags, mtime, size = struct.unpack("<III", data[4:16])
        source = root / rel.replace("__pycache__/", "").rsplit(".", 2)[0]
        source = source.with_suffix(".py")
        assert flags == 0 and size == source.stat().st_size and mtime == int(source.stat().st_mtime)
        assert marshal.loads(data[16:]).co_filename.endswith(source.relative_to(root).as_posix())


def test_symlinks_one_real_one_dangling(estate):
    root, truth, _ = estate
    by_state = {s["dangling"]: s for s in truth["symlinks"]}
    assert set(by_state) == {True, False}
    assert (root / by_state[False]["path"]).resolve().is_file()
    assert not (root / by_state[True]["path"]).exists() and (root / by_state[True]["path"]).is_symlink()


def test_restricted_docs_are_hr_and_finance(estate):
    root, truth, _ = estate
    restricted = truth["restricted_docs"]
    assert any(p.startswith("company_docs/hr/") for p in restricted)
    assert any(p.startswith("company_docs/finance/") for p in restricted)
    assert all(p.startswith(("company_docs/hr/", "company_docs/finance/")) for p in restricted)
    pdfs = [p for p in restricted if p.endswith(".pdf")]
    assert pdfs


def test_pdf_is_well_formed(estate):
    root, truth, _ = estate
    data = (root / next(p for p in truth["restricted_docs"] if p.endswith(".pdf"))).read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    xref_at = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    assert data[xref_at:xref_at + 4] == b"xref"
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", data)]
    for i, off in enumerate(offsets, 1):
        assert data[off:].startswith(f"{i} 0 obj".encode())


# --------------------------------------------------------------------------------------
# model files: parsed for real, never unpickled
# --------------------------------------------------------------------------------------
def _model(truth, fmt: str, name: str = "") -> str:
    return next(m["path"] for m in truth["models"] if m["format"] == fmt and name in m["path"])


def test_models_cover_every_format(estate):
    _, truth, _ = estate
    formats = {m["format"] for m in truth["models"]}
    assert formats == {"onnx", "safetensors", "torch", "pickle", "numpy"}
    malicious = [m["path"] for m in truth["models"] if m["malicious"]]
    assert malicious == ["ai_model_testing/models/legacy/untrusted_model.pkl"]


def test_safetensors_header_and_byte_ranges(estate):
    root, truth, _ = estate
    data = (root / _model(truth, "safetensors", "models/")).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    body = len(data) - 8 - n
    sizes = {"F16": 2, "F32": 4}
    ranges = []
    for name, info in header.items():
        if name == "__metadata__":
            assert all(isinstance(v, str) for v in info.values())
            continue
        begin, end = info["data_offsets"]
        assert end - begin == int(np.prod(info["shape"])) * sizes[info["dtype"]]
        ranges.append((begin, end))
        arr = np.frombuffer(data[8 + n + begin:8 + n + end], dtype="<f2" if info["dtype"] == "F16" else "<f4")
        assert np.isfinite(arr).all() and arr.std() > 0
    ranges.sort()
    assert ranges[0][0] == 0 and ranges[-1][1] == body
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # contiguous, no holes or overlaps


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, object]]:
    """Minimal protobuf wire-format reader (varint and length-delimited fields)."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((num, value))
    return out


def test_onnx_is_a_valid_model_proto(estate):
    root, truth, _ = estate
    data = (root / _model(truth, "onnx")).read_bytes()
    assert data[0] == 0x08  # field 1 (ir_version), varint
    ir_version, _ = _varint(data, 1)
    assert 3 <= ir_version <= 10
    top = _fields(data)
    opsets = [dict(_fields(v)) for num, v in top if num == 8]
    assert opsets and opsets[0][2] >= 13
    graph = _fields(next(v for num, v in top if num == 7))
    initializers = [_fields(v) for num, v in graph if num == 5]
    nodes = [dict((k, v) for k, v in _fields(v) if k == 4) for num, v in graph if num == 1]
    assert {n[4] for n in nodes} >= {b"Gemm", b"Softmax"}
    assert len(initializers) >= 2
    for tensor in initializers:
        dims = [v for k, v in tensor if k == 1]
        raw = next(v for k, v in tensor if k == 9)
        assert dict(tensor)[2] == 1  # FLOAT
        assert len(raw) == int(np.prod(dims)) * 4


class _Stub:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        return (self.name, args)


class _TorchLikeUnpickler(pickle.Unpickler):
    """Loads torch's data.pkl into plain tuples; any global outside the allow-list is refused."""

    ALLOWED = {("torch._utils", "_rebuild_tensor_v2"), ("torch", "FloatStorage"), ("collections", "OrderedDict")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused {module}.{name}")
        return dict if name == "OrderedDict" else _Stub(f"{module}.{name}")

    def persistent_load(self, pid):
        return pid


def test_torch_pt_is_a_torch_save_zip(estate):
    root, truth, _ = estate
    path = root / _model(truth, "torch")
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert {"archive/data.pkl", "archive/version", "archive/data/0"} <= set(names)
        pkl = zf.read("archive/data.pkl")
        globals_ = [arg for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"]
        assert "torch._utils _rebuild_tensor_v2" in globals_ and "torch FloatStorage" in globals_
        assert any(op.name == "BINPERSID" for op, _, _ in pickletools.genops(pkl))
        state = _TorchLikeUnpickler(io.BytesIO(pkl)).load()
        assert state
        for fn, (storage, _offset, size, _stride, _requires_grad, _hooks) in state.values():
            assert fn == "torch._utils._rebuild_tensor_v2" and storage[0] == "storage"
            assert storage[1].name == "torch.FloatStorage" and storage[3] == "cpu"
            assert storage[4] == int(np.prod(size)) and len(zf.read(f"archive/data/{storage[2]}")) == storage[4] * 4


def test_malicious_pickle_calls_os_system_without_being_loaded(estate):
    root, truth, _ = estate
    data = (root / "ai_model_testing/models/legacy/untrusted_model.pkl").read_bytes()
    globals_ = [arg for op, arg, _ in pickletools.genops(data) if op.name in ("GLOBAL", "INST")]
    assert any(g in ("posix system", "os system", "nt system") for g in globals_)
    assert any(op.name == "REDUCE" for op, _, _ in pickletools.genops(data))
    benign = (root / _model(truth, "pickle", "tokenizer")).read_bytes()
    assert not [op for op, _, _ in pickletools.genops(benign) if op.name in ("GLOBAL", "STACK_GLOBAL", "REDUCE")]


def test_numpy_dataset_loads_without_pickle(estate):
    root, truth, _ = estate
    arr = np.load(root / _model(truth, "numpy"), allow_pickle=False)
    assert arr.dtype == np.float32 and arr.ndim == 2
    rows = (root / "ai_model_testing/data/eval_set.csv").read_text().splitlines()
    assert rows[0] == "doc_id,text,label,source" and len(rows) - 1 == arr.shape[0]


def test_notebooks_are_nbformat_4(estate):
    root, truth, _ = estate
    notebooks = sorted((root / "ai_model_testing/notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 4
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        assert nb["nbformat"] == 4 and nb["cells"]
        assert all("id" in c and c["cell_type"] in ("code", "markdown") for c in nb["cells"])


def test_python_sources_compile(estate):
    root, _, _ = estate
    sources = [p for p in root.rglob("*.py") if ".git" not in p.parts]
    assert len(sources) >= 10
    for p in sources:
        compile(p.read_text(), str(p), "exec")


# --------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------
def test_malformed_yaml_is_really_malformed(estate):
    root, truth, _ = estate
    assert truth["malformed_yaml"] == ["yaml_configs/broken/invalid.yaml"]
    text = (root / truth["malformed_yaml"][0]).read_text()
    assert text.count("[") != text.count("]")  # an unclosed flow sequence, parser or not
    yaml = pytest.importorskip("yaml")
    with pytest.raises(yaml.YAMLError):
        list(yaml.safe_load_all(text))
    skip = set(truth["malformed_yaml"]) | set(truth["templated_yaml"])
    for p in list(root.rglob("*.yaml")) + list(root.rglob("*.yml")):
        rel = p.relative_to(root).as_posix()
        if rel not in skip and not rel.startswith(".git/"):
            list(yaml.safe_load_all(p.read_text()))  # every other YAML file parses


def test_config_drift_matches_the_files(estate):
    root, truth, _ = estate
    yaml = pytest.importorskip("yaml")
    parsed = {}
    for env in ("dev", "staging", "prod"):
        for p in sorted((root / "yaml_configs" / env).glob("*.yaml")):
            parsed.setdefault(p.name, {})[env] = yaml.safe_load(p.read_text())
    assert demo_estate._drift(parsed) == truth["config_drift"]
    keys = {(d["file"], d["key"]) for d in truth["config_drift"]}
    assert ("app.yaml", "app.debug") in keys and ("app.yaml", "server.workers") in keys


def test_other_config_formats(estate):
    root, _, _ = estate
    import tomllib

    cfg = root / "yaml_configs"
    assert json.loads((cfg / "services/endpoints.txt").read_text())  # a .txt that holds JSON
    assert json.loads((cfg / "services/api.json").read_text())["service"] == "aeon-api"
    assert "password" in tomllib.loads((cfg / "services/worker.toml").read_text())["broker"]
    assert (cfg / ".env").is_file() and (cfg / ".env.example").is_file()
    script = root / "infrastructure/scripts/notify-deploy"
    assert script.read_text().startswith("#!") and os.access(script, os.X_OK)
    assert (root / "infrastructure/docker/api/Dockerfile.prod").read_text().count("FROM ") >= 2
    k8s = (root / "infrastructure/k8s/api.yaml").read_text()
    assert k8s.count("\n---\n") >= 2
    assert ":latest" in (root / "infrastructure/k8s/worker.yaml").read_text()
    assert "privileged: true" in (root / "infrastructure/k8s/node-exporter.yaml").read_text()
    tf = (root / "infrastructure/terraform/main.tf").read_text()
    assert 'acl        = "public-read"' in tf and '"0.0.0.0/0"' in tf and 'module "vpc"' in tf


# --------------------------------------------------------------------------------------
# git history and secrets
# --------------------------------------------------------------------------------------
def test_git_history(estate):
    root, truth, _ = estate
    facts = truth["git"]
    shas = git(root, "rev-list", "HEAD").split()
    authors = set(git(root, "log", "--format=%an <%ae>").splitlines())
    assert len(shas) == facts["commits"] >= 30
    assert len(authors) == len(facts["authors"]) >= 4
    assert facts["head"] == shas[0] and facts["branch"] == "main"
    assert facts["tracked_files"] == len(git(root, "ls-files").splitlines())
    assert "scratch/notes_untracked.md" in facts["untracked"]
    assert {"yaml_configs/.env", ".DS_Store"} <= set(facts["ignored"])
    status = git(root, "status", "--porcelain").splitlines()
    assert status and all(line.startswith("??") for line in status)  # tracked files are clean
    assert facts["renames"] and facts["deletions"]
    dates = git(root, "log", "--format=%at").split()
    assert int(dates[0]) - int(dates[-1]) > 365 * 86400


def test_history_only_secret(estate):
    root, truth, _ = estate
    (secret,) = [s for s in truth["secrets"] if s["history_only"]]
    assert not secret["in_head"] and not secret["on_disk"] and secret["commit"] and secret["removed_in"]
    grep = subprocess.run(["git", "-C", str(root), "grep", "-F", secret["value"], "HEAD"], capture_output=True,
                          env={**os.environ, **GIT_ENV})
    assert grep.returncode == 1  # nowhere in HEAD
    assert secret["value"] not in (root / secret["path"]).read_text()
    assert secret["value"] in git(root, "log", "-p")
    assert secret["value"] in git(root, "show", f"{secret['commit']}:{secret['path']}").splitlines()[secret["line"] - 1]


def test_secrets_are_where_the_truth_says(estate):
    root, truth, _ = estate
    kinds = {s["kind"] for s in truth["secrets"]}
    assert {"aws_access_key_id", "aws_secret_access_key", "github_token", "slack_bot_token", "stripe_live_key",
            "private_key", "postgres_url", "password"} <= kinds
    patterns = {"aws_access_key_id": r"AKIA[A-Z2-7]{16}", "aws_secret_access_key": r"[A-Za-z0-9+/]{40}",
                "github_token": r"ghp_[A-Za-z0-9]{36}", "slack_bot_token": r"xoxb-\d+-\d+-[A-Za-z0-9]+",
                "stripe_live_key": r"sk_live_[A-Za-z0-9]{24,}", "postgres_url": r"postgresql://[^:]+:[^@]+@.+"}
    for s in truth["secrets"]:
        if s["kind"] in patterns:
            assert re.fullmatch(patterns[s["kind"]], s["value"]), s["kind"]
        if s["on_disk"]:
            lines = (root / s["path"]).read_text().splitlines()
            assert s["value"].splitlines()[0] in lines[s["line"] - 1]
        tracked = s["commit"] is not None
        assert s["in_head"] == (tracked and not s["history_only"])
    pem = next(s for s in truth["secrets"] if s["kind"] == "private_key")
    assert pem["value"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
