#!/usr/bin/env python3
"""Secret-scanner benchmark: ANFL's `SecretScanner` against detect-secrets (and ripgrep as the
raw-speed floor).

  (a) the labelled corpus (`anfl_assets_tests/domain/security/secret_corpus.py`, written to
      benchmarks/.work/secret-corpus): recall and precision of both tools, a finding counted
      as true when it lands on a labelled (file, line);
  (b) the medium benchmark estate (`make_estate.py --size medium`, ~49k files, 3.1 GB; reused
      from benchmarks/.work/estate-medium when it is there): wall time and throughput of
      `detect-secrets scan --all-files ROOT`, of ANFL's scanner over the same tree (walk,
      sniff the first 8 KiB, `is_scannable`, read, `scan_bytes`, in 2 worker processes), and
      of `rg` with a handful of secret regexes.

Method: every tool runs as its own process, timed from start to exit (so interpreter start-up
counts for both Python tools); runs are interleaved (detect-secrets, ANFL, rg, then the next
repetition in rotated order) after one `cat` of the whole tree warms the page cache; figures are
medians, ratios are ratios of medians. detect-secrets runs with its default worker count
(one per CPU); ANFL uses `--workers` (default: CPUs); rg is limited to the same thread count.

detect-secrets needs about 40-70 minutes per run on the full medium estate on a 2-CPU VM, so
`--sample F` benchmarks a deterministic fraction F of the estate's files, stratified by
extension so the mix of code, configs, CSV datasets and binaries is kept (hard links in
benchmarks/.work/estate-medium-strat-F; chosen by a hash of the relative path, .git excluded),
and `--full-once` adds one un-repeated run of detect-secrets and ANFL over the whole estate.

  .venv/bin/pip install detect-secrets==1.5.0      # benchmark only, not a runtime dependency
  .venv/bin/python benchmarks/bench_security.py                       # corpus + full estate, 3 runs
  .venv/bin/python benchmarks/bench_security.py --sample 0.05 --full-once
  .venv/bin/python benchmarks/bench_security.py --only corpus

Prints a Markdown table; raw samples go to benchmarks/.work/security-last-run.json. It does not
write RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
ESTATE_ROOT_NAME = "AeonNovaProject"
DEFAULT_MAKE_ESTATE = Path(os.environ.get("ANFL_MAKE_ESTATE", "/work/shared/bench/make_estate.py"))
RG_PATTERNS = [
    r"(?:AKIA|ASIA)[A-Z2-7]{16}",
    r"gh[pousr]_[A-Za-z0-9]{36}",
    r"xox[bpars]-[0-9A-Za-z-]{10,}",
    r"[sr]k_live_[A-Za-z0-9]{24,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+",
    "(?i)(?:password|passwd|secret|api_?key|token)\\s*[:=]\\s*['\"]?[^\\s'\"]{8,}",
]
sys.path.insert(0, str(REPO))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# ANFL over a tree (run in a child process: `bench_security.py _scan ROOT`)
# --------------------------------------------------------------------------------------
_SCANNER = None


def _scan_chunk(paths: list[str]) -> tuple[list[tuple], int, int]:
    global _SCANNER
    from anfl_assets.domain.security.secrets import SecretScanner, is_scannable
    from anfl_assets.domain.sniff import sniff
    if _SCANNER is None:
        _SCANNER = SecretScanner()
    found, nbytes, nfiles = [], 0, 0
    for p in paths:
        try:
            st = os.lstat(p)
            if not (st.st_mode & 0o170000 == 0o100000):
                continue
            with open(p, "rb") as fh:
                head = fh.read(8192)
                sn = sniff(head, p, st.st_size)
                if not is_scannable(p, st.st_size, sn.is_text, sn.file_type):
                    continue
                data = head + fh.read() if len(head) == 8192 else head
        except OSError:
            continue
        nfiles += 1
        nbytes += len(data)
        for m in _SCANNER.scan_bytes(p, data):
            found.append((p, m.member, m.line, m.rule))
    return found, nbytes, nfiles


def scan_tree(root: Path, workers: int) -> dict:
    import multiprocessing as mp
    paths: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        paths.extend(os.path.join(dirpath, f) for f in filenames)
    chunks = [paths[i:i + 256] for i in range(0, len(paths), 256)]
    found, nbytes, nfiles = [], 0, 0
    if workers <= 1:
        results = map(_scan_chunk, chunks)
        for f, b, n in results:
            found += f
            nbytes += b
            nfiles += n
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            for f, b, n in pool.imap_unordered(_scan_chunk, chunks):
                found += f
                nbytes += b
                nfiles += n
    return {"files_seen": len(paths), "files_scanned": nfiles, "bytes_scanned": nbytes, "findings": found}


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------
def resolve_estate(args) -> Path:
    if args.estate:
        p = Path(args.estate).resolve()
        return p / ESTATE_ROOT_NAME if (p / ESTATE_ROOT_NAME).is_dir() else p
    out = WORK_DIR / "estate-medium"
    for _ in range(360):  # another benchmark may be generating it right now: wait for it
        if (out / ESTATE_ROOT_NAME).is_dir():
            return out / ESTATE_ROOT_NAME
        if not any(WORK_DIR.glob("estate-medium.partial*")):
            break
        time.sleep(5)
    if (out / ESTATE_ROOT_NAME).is_dir():
        return out / ESTATE_ROOT_NAME
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tmp = WORK_DIR / f"estate-medium.partial-security-{os.getpid()}"
    log(f"generating the medium estate into {tmp}")
    subprocess.run([sys.executable, str(args.make_estate), "--size", "medium", "--seed", "42", "--out", str(tmp)],
                   check=True, stdout=sys.stderr)
    if (out / ESTATE_ROOT_NAME).is_dir():  # someone else finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(out)
    return out / ESTATE_ROOT_NAME


def sample_tree(estate: Path, fraction: float) -> Path:
    """Hard-linked subset of the estate, stratified by file extension: of each extension's files
    (ordered by sha1 of the relative path) the first ceil(F x count), so the sample keeps the
    estate's mix of code, configs, CSV datasets, notebooks and binaries. .git is left out."""
    out = WORK_DIR / f"estate-medium-strat-{fraction:g}" / ESTATE_ROOT_NAME
    done = out.parent / ".complete"
    if done.exists():
        return out
    shutil.rmtree(out.parent, ignore_errors=True)
    by_ext: dict[str, list[tuple[str, str]]] = {}
    for dirpath, dirnames, filenames in os.walk(estate):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            src = os.path.join(dirpath, name)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            rel = os.path.relpath(src, estate)
            ext = name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""
            key = hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()
            by_ext.setdefault(ext, []).append((key, rel))
    for ext, items in by_ext.items():
        items.sort()
        for _, rel in items[:math.ceil(fraction * len(items))]:
            dst = out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(estate / rel, dst)
            except OSError:
                shutil.copy2(estate / rel, dst)
    done.write_text("ok\n")
    return out


def tree_size(root: Path) -> tuple[int, int, int]:
    """Regular files, their bytes, and the bytes of those that sniff as text."""
    from anfl_assets.domain.sniff import sniff
    files = size = text = 0
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            st = os.lstat(p)
            files += 1
            size += st.st_size
            try:
                with open(p, "rb") as fh:
                    if sniff(fh.read(8192), f, st.st_size).is_text:
                        text += st.st_size
            except OSError:
                pass
    return files, size, text


# --------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------
def ds_bin() -> str:
    exe = Path(sys.executable).parent / "detect-secrets"
    if not exe.exists():
        raise SystemExit("detect-secrets is not installed: .venv/bin/pip install detect-secrets==1.5.0")
    return str(exe)


def run_timed(cmd: list[str], cwd: Path | None = None, capture: bool = False, timeout: float | None = None):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=timeout)
    return time.perf_counter() - t0, proc


def run_ds(root: Path, capture: bool = False):
    return run_timed([ds_bin(), "scan", "--all-files", "."], cwd=root, capture=capture)


def run_ours(root: Path, workers: int, capture: bool = False):
    cmd = [sys.executable, str(Path(__file__).resolve()), "_scan", str(root), "--workers", str(workers)]
    return run_timed(cmd, capture=capture)


def run_rg(root: Path, threads: int):
    if shutil.which("rg") is None:
        return None, None
    cmd = ["rg", "-uu", "-j", str(threads), "-c", "--no-messages"]
    for p in RG_PATTERNS:
        cmd += ["-e", p]
    dt, proc = run_timed(cmd + [str(root)])
    if proc.returncode not in (0, 1):  # 1 = no match; 2 = error (a bad pattern, say)
        raise SystemExit(f"rg failed ({proc.returncode}): {' '.join(cmd)}")
    return dt, proc


# --------------------------------------------------------------------------------------
# (a) corpus
# --------------------------------------------------------------------------------------
def bench_corpus(report: dict, workers: int) -> None:
    from anfl_assets_tests.domain.security.secret_corpus import build_corpus
    corpus = build_corpus()
    root = WORK_DIR / "secret-corpus"
    shutil.rmtree(root, ignore_errors=True)
    corpus.write(root)
    (WORK_DIR / "secret-corpus-labels.json").write_text(corpus.labels_json())
    labels = {(p.path, p.member, p.line) for p in corpus.positives}
    plain = {(p.path, p.line) for p in corpus.positives if p.member is None}

    def score(hits: set[tuple]) -> dict:
        tp = hits & labels
        return {"findings": len(hits), "true": len(tp), "recall": len(tp) / len(labels),
                "precision": len(tp) / len(hits) if hits else 0.0,
                "recall_plain_files": len({(p, ln) for p, m, ln in tp if m is None}) / len(plain)}

    t_ds, proc = run_ds(root, capture=True)
    ds = json.loads(proc.stdout)
    ds_hits = {(f, None, r["line_number"]) for f, rs in ds["results"].items() for r in rs}
    t_ours, proc = run_ours(root, workers, capture=True)
    ours = json.loads(proc.stdout)
    ours_hits = {(os.path.relpath(p, root), m, ln) for p, m, ln, _ in ours["findings"]}
    report["corpus"] = {"files": len(corpus.files), "secrets": len(labels), "hard_negatives": len(corpus.negatives),
                        "detect-secrets": {**score(ds_hits), "seconds": t_ds},
                        "anfl": {**score(ours_hits), "seconds": t_ours}}


# --------------------------------------------------------------------------------------
# (b) estate throughput
# --------------------------------------------------------------------------------------
def bench_estate(root: Path, label: str, repeat: int, workers: int, report: dict, tools=("ds", "anfl", "rg")) -> None:
    files, size, text = tree_size(root)
    log(f"[{label}] {root}: {files} files, {size / 1e6:.1f} MB ({text / 1e6:.1f} MB text); warming the page cache")
    subprocess.run(f"find '{root}' -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=False)
    samples: dict[str, list[float]] = {t: [] for t in tools}
    order = list(tools)
    for i in range(repeat):
        for tool in order:
            if tool == "ds":
                dt, _ = run_ds(root)
            elif tool == "anfl":
                dt, _ = run_ours(root, workers)
            else:
                dt, _ = run_rg(root, workers)
                if dt is None:
                    continue
            samples[tool].append(dt)
            log(f"[{label}] run {i + 1}/{repeat} {tool}: {dt:.2f} s")
        order = order[1:] + order[:1]
    med = {t: statistics.median(v) for t, v in samples.items() if v}
    report.setdefault("estate", {})[label] = {
        "root": str(root), "files": files, "bytes": size, "text_bytes": text, "samples_s": samples, "median_s": med,
        "mb_per_s": {t: size / 1e6 / s for t, s in med.items()},
        "text_mb_per_s": {t: text / 1e6 / s for t, s in med.items()},
        "anfl_speedup_vs_ds": med["ds"] / med["anfl"] if "ds" in med and "anfl" in med else None,
        "anfl_vs_rg": med["anfl"] / med["rg"] if "rg" in med and "anfl" in med else None}


def markdown(report: dict) -> str:
    out = []
    c = report.get("corpus")
    if c:
        out += [f"**Corpus** ({c['files']} files, {c['secrets']} labelled secrets, {c['hard_negatives']} hard negatives)",
                "", "| tool | findings | true | recall | recall (plain files) | precision |", "|---|---|---|---|---|---|"]
        for tool in ("anfl", "detect-secrets"):
            r = c[tool]
            out.append(f"| {tool} | {r['findings']} | {r['true']} | {r['recall']:.3f} | {r['recall_plain_files']:.3f} "
                       f"| {r['precision']:.3f} |")
        out.append("")
    for label, e in (report.get("estate") or {}).items():
        out += [f"**Estate {label}**: `{e['root']}`, {e['files']} files, {e['bytes'] / 1e6:.1f} MB "
                f"({e['text_bytes'] / 1e6:.1f} MB of it text); medians of "
                f"{max(len(v) for v in e['samples_s'].values())} interleaved run(s)", "",
                "| tool | median s | MB/s (all bytes) | MB/s (text bytes) | runs (s) |", "|---|---|---|---|---|"]
        names = {"ds": "detect-secrets scan --all-files", "anfl": "ANFL SecretScanner (walk+sniff+scan)",
                 "rg": f"rg -uu ({len(RG_PATTERNS)} regexes)"}
        for t, s in e["median_s"].items():
            out.append(f"| {names[t]} | {s:.3f} | {e['mb_per_s'][t]:.1f} | {e['text_mb_per_s'][t]:.1f} | "
                       f"{', '.join(f'{x:.3f}' for x in e['samples_s'][t])} |")
        if e["anfl_speedup_vs_ds"]:
            out.append(f"\nANFL is **{e['anfl_speedup_vs_ds']:.1f}x** faster than detect-secrets (target >= 5x)"
                       + (f"; {e['anfl_vs_rg']:.1f}x the time of rg." if e["anfl_vs_rg"] else "."))
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if argv[:1] == ["_scan"]:
        ap = argparse.ArgumentParser()
        ap.add_argument("root")
        ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        a = ap.parse_args(argv[1:])
        print(json.dumps(scan_tree(Path(a.root), a.workers)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--estate", help="an existing estate (its AeonNovaProject dir or the dir holding it)")
    ap.add_argument("--make-estate", default=str(DEFAULT_MAKE_ESTATE))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample", type=float, default=1.0,
                    help="benchmark this fraction of the estate's files (hard-linked subset); 1 = all")
    ap.add_argument("--full-once", action="store_true", help="also one run of each tool over the full estate")
    ap.add_argument("--only", default="corpus,estate", help="corpus and/or estate")
    ap.add_argument("--tools", default="ds,anfl,rg",
                    help="estate tools, of ds,anfl,rg (e.g. anfl,rg over the full estate, where one "
                         "detect-secrets run takes hours)")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    report: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "workers": args.workers}
    if "corpus" in only:
        bench_corpus(report, args.workers)
    tools = tuple(t for t in args.tools.split(",") if t in ("ds", "anfl", "rg"))
    if "estate" in only:
        estate = resolve_estate(args)
        if args.sample < 1.0:
            bench_estate(sample_tree(estate, args.sample), f"sample {args.sample:g}", args.repeat, args.workers,
                         report, tools)
            if args.full_once:
                bench_estate(estate, "full", 1, args.workers, report, tools)
        else:
            bench_estate(estate, "full", args.repeat, args.workers, report, tools)
    (WORK_DIR / "security-last-run.json").write_text(json.dumps(report, indent=1, default=str))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
