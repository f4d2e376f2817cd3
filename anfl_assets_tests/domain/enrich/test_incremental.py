"""Incremental bookkeeping of the extractors: what is kept, what is done again."""

from __future__ import annotations

from anfl_assets.domain.enrich import pipeline
from anfl_assets.domain.inventory import refresh_file_inventory
from anfl_assets.domain.projects import get_project, register_project
from anfl_assets.domain.warehouse import Warehouse

SOURCE = b'"""Billing."""\n\n\ndef invoice_total(lines):\n    """Sum of the lines."""\n    return sum(lines)\n'


def _symbols(wh: Warehouse) -> list[tuple]:
    return [tuple(r.values()) for r in wh.query(
        "SELECT path, name, start_line, end_line FROM enrich.code_symbols ORDER BY path, start_line").to_pylist()]


def test_a_file_unreadable_at_extraction_is_tried_again_with_the_same_content(tmp_path):
    """A file that vanished between the inventory and the extraction is recorded as unreadable;
    once it is back with the same bytes (same checksum) the next run extracts it instead of
    keeping the failed record, and a run after that re-reads nothing."""
    root = tmp_path / "proj"
    (root / "billing").mkdir(parents=True)
    src = root / "billing" / "invoice.py"
    src.write_bytes(SOURCE)
    (root / "billing" / "tax.py").write_bytes(b"def vat(amount):\n    return amount * 0.2\n")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "shop", root)
    project = get_project(wh, "shop")
    refresh_file_inventory(wh, "shop", root)
    pipeline.refresh_file_classes(wh, project)  # code structure runs on the files classified as code

    src.unlink()  # gone after the inventory listed it with its checksum
    first = pipeline.refresh_code_structure(wh, project)
    assert (first.processed, first.errors) == (2, 1)
    assert _symbols(wh) == [("billing/tax.py", "vat", 1, 2)]
    (status,) = wh.query("SELECT error FROM enrich.processed WHERE path = 'billing/invoice.py' "
                         "AND extractor = 'code_structure'").to_pylist()
    assert status == {"error": "unreadable"}

    src.write_bytes(SOURCE)  # back, same content: the inventory finds the same blake3
    refresh_file_inventory(wh, "shop", root)
    pipeline.refresh_file_classes(wh, project)
    second = pipeline.refresh_code_structure(wh, project)
    assert (second.processed, second.reused, second.errors) == (1, 1, 0)
    assert _symbols(wh) == [("billing/invoice.py", "invoice_total", 4, 6), ("billing/tax.py", "vat", 1, 2)]

    third = pipeline.refresh_code_structure(wh, project)
    assert (third.processed, third.reused) == (0, 2)
    assert _symbols(wh) == [("billing/invoice.py", "invoice_total", 4, 6), ("billing/tax.py", "vat", 1, 2)]


def _shop(tmp_path, n_files: int = 3):
    root = tmp_path / "proj"
    root.mkdir()
    for k in range(n_files):
        (root / f"m{k}.py").write_bytes(f"def f{k}():\n    return {k}\n".encode())
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "shop", root)
    refresh_file_inventory(wh, "shop", root)
    return wh, root, get_project(wh, "shop")


def test_small_work_is_planned_and_committed_on_one_connection(tmp_path, monkeypatch):
    """A small todo keeps the write connection from plan to commit (one open instead of two);
    a failure in between rolls back and lets go of the lock; a big todo lets go at once."""
    from anfl_assets.domain.enrich import incremental

    wh, root, project = _shop(tmp_path)
    opened = []
    real_write = Warehouse.write

    def counting_write(self, *a, **k):
        opened.append("write")
        return real_write(self, *a, **k)

    monkeypatch.setattr(Warehouse, "write", counting_write)
    pipeline.refresh_file_classes(wh, project)
    assert opened == ["write"]  # plan and commit in one transaction
    assert wh.query("SELECT count(*) AS n FROM enrich.file_classes").to_pylist() == [{"n": 3}]

    (root / "m0.py").write_bytes(b"def changed():\n    return 0\n")
    refresh_file_inventory(wh, "shop", root)
    monkeypatch.setattr(pipeline, "_classify_chunk", lambda args: 1 / 0)
    try:
        pipeline.refresh_file_classes(wh, project)
        raise AssertionError("the failing classifier should have raised")
    except ZeroDivisionError:
        pass
    # rolled back (m0's old class row is still there) and the lock is free again
    assert wh.query("SELECT count(*) AS n FROM enrich.file_classes").to_pylist() == [{"n": 3}]
    with wh.write() as con:
        con.execute("SELECT 1").fetchall()

    monkeypatch.undo()
    monkeypatch.setattr(incremental, "HOLD_TODO_FILES", 0)
    opened.clear()
    monkeypatch.setattr(Warehouse, "write", counting_write)
    stats = pipeline.refresh_file_classes(wh, project)
    assert (stats.processed, stats.reused) == (1, 2)
    assert opened == ["write", "write"]  # planned, let go, committed on a second connection
    assert pipeline.refresh_file_classes(wh, project).processed == 0


def _drift_rows(wh: Warehouse) -> list[tuple]:
    return sorted(tuple(str(v) for v in r.values()) for r in wh.query(
        "SELECT config_identity, key_path, drift_kind, environments_present, environments_missing, values_by_env, "
        "doc_index FROM enrich.config_drift").to_pylist())


def _configs_from_scratch(tmp_path, root, name: str) -> list[tuple]:
    wh = Warehouse(tmp_path / f"{name}.duckdb")
    register_project(wh, "shop", root)
    refresh_file_inventory(wh, "shop", root)
    project = get_project(wh, "shop")
    pipeline.refresh_file_classes(wh, project)
    pipeline.refresh_config_patterns(wh, project, b"k" * 32)
    return _drift_rows(wh)


def test_drift_is_recomputed_for_the_changed_families_only_and_equals_a_full_recompute(tmp_path, monkeypatch):
    """Changing, deleting and adding environment files re-derives the drift of their overlay
    families only (the key rows of other families are not read) and gives the table a run
    from scratch gives."""
    root = tmp_path / "proj"
    for env, replicas, debug in (("dev", 1, "true"), ("staging", 2, "false"), ("prod", 3, "false")):
        (root / "yaml_configs" / env).mkdir(parents=True)
        (root / "yaml_configs" / env / "app.yaml").write_text(
            f"replicas: {replicas}\ndebug: {debug}\nimage: shop:1.{replicas}\n")
        (root / "yaml_configs" / env / "db.yaml").write_text(f"host: db-{env}\npool: 10\n")
    (root / "helm").mkdir()
    (root / "helm" / "values-dev.yaml").write_text("cpu: 100m\nmemory: 128Mi\n")
    (root / "helm" / "values-prod.yaml").write_text("cpu: 500m\n")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "shop", root)
    project = get_project(wh, "shop")

    def run() -> None:
        refresh_file_inventory(wh, "shop", root)
        pipeline.refresh_file_classes(wh, project)
        pipeline.refresh_config_patterns(wh, project, b"k" * 32)

    run()
    first = _drift_rows(wh)
    assert any(r[0] == "helm/values-{env}.yaml" and r[1] == "memory" for r in first)
    assert first == _configs_from_scratch(tmp_path, root, "ref1")

    (root / "yaml_configs" / "prod" / "app.yaml").write_text("replicas: 5\ndebug: false\nimage: shop:2.0\n")
    (root / "yaml_configs" / "staging" / "db.yaml").unlink()
    (root / "helm" / "values-staging.yaml").write_text("cpu: 200m\nmemory: 256Mi\n")
    run()
    second = _drift_rows(wh)
    assert second != first
    assert ("yaml_configs/{env}/db.yaml", "None", "missing", "['dev', 'prod']", "['staging']", "{}", "None") in second
    assert second == _configs_from_scratch(tmp_path, root, "ref2")

    # A change confined to the helm family leaves the yaml_configs rows untouched and unread.
    (root / "helm" / "values-prod.yaml").write_text("cpu: 500m\nmemory: 512Mi\n")
    refresh_file_inventory(wh, "shop", root)
    pipeline.refresh_file_classes(wh, project)
    loaded = []
    real_make = pipeline.config_patterns.KeyRow._make
    monkeypatch.setattr(pipeline.config_patterns.KeyRow, "_make", lambda values: loaded.append(values) or real_make(values))
    pipeline.refresh_config_patterns(wh, project, b"k" * 32)
    monkeypatch.undo()
    # the key rows of the three helm files (a root row and two keys each), none of yaml_configs'
    assert len(loaded) == 9 and {v[1] for v in loaded} == {"", "cpu", "memory"}
    assert _drift_rows(wh) == _configs_from_scratch(tmp_path, root, "ref3")


def test_plans_from_the_change_set_equal_full_comparisons_through_random_edits(tmp_path, monkeypatch):
    """Every plan a step makes from its mark (only the paths changed since) is checked against a
    full comparison on the same connection: same todo, same stale paths, same file count. Edits,
    touches, deletions, additions, reclassifications, a vanished file and steps run out of order
    or skipped; after each round the tables equal those of a run from scratch."""
    import os
    import random

    from anfl_assets.domain.enrich import incremental

    rng = random.Random(7)
    root = tmp_path / "proj"
    files: dict[str, bytes] = {}

    def put(rel: str, data: bytes) -> None:
        files[rel] = data
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    def source(k: int, v: int) -> bytes:
        kind = k % 6
        if kind == 0:
            return f'"""Module {k}."""\nimport os\n\n\ndef f{k}_{v}(x):\n    return x + {v}\n'.encode()
        if kind == 1:
            return f"export function g{k}() {{ return {v}; }}\nclass C{k} {{}}\n".encode()
        if kind == 2:
            return f"service:\n  replicas: {v}\n  image: shop/app{k}:1.{v}\n".encode()
        if kind == 3:
            return f"# Notes {k}\n\nVersion {v}.\n".encode()
        if kind == 4:
            return f"requests=={v}.0\nflask>=2.{k}\n".encode()
        return f"#!/bin/sh\necho {v}\n".encode() if v % 2 else f"plain text {v}\n".encode()  # code or not

    exts = {0: "py", 1: "js", 2: "yaml", 3: "md", 4: "txt", 5: ""}

    def name(k: int) -> str:
        base = f"pkg{k % 3}/requirements{k}" if k % 6 == 4 else f"pkg{k % 3}/file{k}"
        return f"{base}.{exts[k % 6]}" if exts[k % 6] else base

    for k in range(36):
        put(name(k), source(k, 0))
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    register_project(wh, "shop", root)
    project = get_project(wh, "shop")
    from anfl_assets.domain.objects import open_object_store
    store = open_object_store(f"file://{tmp_path / 'objects'}")

    compared: list[tuple[str, int | None]] = []
    files_expected: dict[int, int] = {}
    real_plan, real_commit = incremental._plan, incremental._commit

    def checked_plan(con, project_name, extractor, version, files_sql, params, select):
        work = real_plan(con, project_name, extractor, version, files_sql, params, select)
        with monkeypatch.context() as m:
            m.setattr(incremental, "_changed_paths", lambda *a: None)
            full = real_plan(con, project_name, extractor, version, files_sql, params, select)
        assert full.changed is None
        assert sorted(work.todo["path"].to_pylist()) == sorted(full.todo["path"].to_pylist()), extractor
        # the stale paths: all the full comparison finds, and beyond them only paths that are not
        # candidates now (their rows, if any, must go anyway)
        candidates = con.sql(files_sql, params=params).to_arrow_table()
        candidates = set((select(candidates) if select else candidates)["path"].to_pylist())
        stale, full_stale = set(work.stale["path"].to_pylist()), set(full.stale["path"].to_pylist())
        assert full_stale <= stale and not (stale - full_stale) & candidates, extractor
        files_expected[id(work)] = full.files
        compared.append((extractor, work.changed))
        return work

    def checked_commit(con, project_name, extractor, work, *rest):
        real_commit(con, project_name, extractor, work, *rest)
        assert work.files == files_expected.pop(id(work)), extractor  # counted at the commit when not planned

    monkeypatch.setattr(incremental, "_plan", checked_plan)
    monkeypatch.setattr(incremental, "_commit", checked_commit)
    from anfl_assets.domain.security.pipeline import refresh_security, secret_scanner
    from anfl_assets.domain.vectors.pipeline import refresh_chunks
    from anfl_assets_tests.domain.test_reclassification import WordTokenizer

    tokenizers = {i: WordTokenizer() for i in ("code", "config", "docs", "infra")}

    def all_steps(w: Warehouse, p, objects) -> dict:
        return {
            "classify": lambda: pipeline.refresh_file_classes(w, p),
            "code": lambda: pipeline.refresh_code_structure(w, p),
            "config": lambda: pipeline.refresh_config_patterns(w, p, b"k" * 32),
            "deps": lambda: pipeline.refresh_dependencies(w, p, objects),
            "security": lambda: refresh_security(w, p, b"k" * 32),
            "chunks": lambda: refresh_chunks(w, p, tokenizers, secret_scanner(None)),
        }

    steps = all_steps(wh, project, store)
    tables = ("enrich.file_classes", "enrich.code_symbols", "enrich.code_imports", "enrich.config_keys",
              "enrich.dependencies", "enrich.processed", "security.findings", "vectors.chunks")

    def snapshot(w: Warehouse) -> dict[str, list]:
        out = {}
        for t in tables:
            rows = w.query(f"SELECT * FROM {t}").drop_columns(
                [c for c in ("changed_seq",) if c in w.query(f"SELECT * FROM {t} LIMIT 0").column_names])
            out[t] = sorted(map(repr, rows.to_pylist()))
        return out

    for rnd in range(1, 9):
        for k in rng.sample(range(36), 5):  # edit
            put(name(k), source(k, rnd * 10 + k))
        k = rng.randrange(36)  # touch: a new mtime, the same bytes
        st = (root / name(k)).stat()
        os.utime(root / name(k), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9 * rnd))
        gone = rng.choice(sorted(files))
        (root / gone).unlink()
        del files[gone]
        put(f"pkg{rnd % 3}/added{rnd}.py", f"def added{rnd}():\n    return {rnd}\n".encode())
        refresh_file_inventory(wh, "shop", root)
        # Some steps, out of order: code structure may plan from classes not yet redone. (Not the
        # chunks: they cut along the stored symbols, so they run after code structure, as in the DAG.)
        order = [step for step in steps if step != "chunks"]
        rng.shuffle(order)
        for step in order[: rng.randrange(1, 6)]:
            steps[step]()
        if rnd == 4:  # a file vanishes after the inventory listed it: unreadable, retried later
            vanished = name(0)
            saved = (root / vanished).read_bytes()
            (root / vanished).unlink()
            steps["code"]()
            (root / vanished).write_bytes(saved)
        for step in steps:  # every step in order: the tables are then what a run from scratch gives
            steps[step]()
        scratch = Warehouse(tmp_path / f"scratch{rnd}.duckdb")
        register_project(scratch, "shop", root)
        refresh_file_inventory(scratch, "shop", root)
        for run in all_steps(scratch, get_project(scratch, "shop"),
                             open_object_store(f"file://{tmp_path / f'objects{rnd}'}")).values():
            run()
        assert snapshot(wh) == snapshot(scratch), f"round {rnd}"

    by_changes = [c for _, c in compared if c is not None]
    # mostly planned from the few paths a round changed (about 8 of 37); more where a step's mark
    # predates several rounds, or the first classification stamped every class row after it
    assert len(by_changes) > 40 and sum(c <= 8 for c in by_changes) >= 0.8 * len(by_changes)
