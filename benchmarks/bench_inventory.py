#!/usr/bin/env python3
"""Benchmark the file-inventory scanner against the standard tools it competes with.

Every figure is a ratio against a reference tool timed IN THE SAME RUN, on the
same tree, with the runs of both interleaved (reference, ours, reference, ours,
...). Absolute seconds on a small, noisy VM mean little from one day to the
next; a ratio taken minutes apart on the same cache state does. Each
measurement is repeated and the MEDIAN is reported.

Targets (see benchmarks/README.md for the reasoning behind each):

  full_warm / full_cold  full inventory with checksums: throughput >= 0.7x of
                         `find R -type f -print0 | xargs -0 -P2 -n 512 b3sum --num-threads 1`
                         (page cache hot / file data evicted before every run),
                         plus a sweep of reader set-ups (--readers: threads tN, processes pN)
  rescan                 re-scan with nothing changed: bytes_read == 0 and
                         time <= 1.5x of `find R -printf '%p %s %T@ %C@ %i\\n'`
  walk                   walk_tree alone: rate >= 0.5x of the same find -printf
  memory                 peak RSS of build_inventory over 300,000 files < 600 MB
  git                    read_history on a 10,000-commit repository <= 2x of
                         `git log HEAD --numstat -z -M > /dev/null`

Usage (from the repository root):

  .venv/bin/python benchmarks/bench_inventory.py                    # medium estate, generated under benchmarks/.work
  .venv/bin/python benchmarks/bench_inventory.py --estate /tmp/estates/medium
  .venv/bin/python benchmarks/bench_inventory.py --only walk,rescan --repeat 3 --no-write

Only the standard library plus the package's own dependencies are used; the
reference tools are `b3sum` (Debian package b3sum), GNU `find` and `git`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"  # git-ignored: generated estates, trees, repositories, raw samples
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RUNS_MARKER = "<!-- bench_inventory runs: newest first; the script inserts below this line -->"
DEFAULT_MAKE_ESTATE = Path("/work/shared/bench/make_estate.py")
ESTATE_ROOT_NAME = "AeonNovaProject"

B3SUM_CMD = "find {root} -type f -print0 | xargs -0 -P2 -n 512 b3sum --num-threads 1 > /dev/null"
FIND_CMD = "find {root} -printf '%p %s %T@ %C@ %i\\n' > /dev/null"
GIT_LOG_CMD = "git -C {repo} log HEAD --numstat -z -M > /dev/null"
# What gitrepo.read_history actually runs (format and flags), to split git's cost from parsing.
GIT_LOG_PKG_CMD = ("git -C {repo} -c core.quotepath=off log HEAD --relative --numstat -z -M "
                   "'--format=%x1e%H%x1f%an%x1f%ae%x1f%at%x1f%P%x1f%s' > /dev/null")

MEASUREMENTS = ("walk", "rescan", "full_warm", "full_cold", "memory", "git")
# Repetitions when --repeat is not given: 5 where a run costs seconds, 3 where it costs minutes.
DEFAULT_REPEATS = {"walk": 5, "rescan": 5, "full_warm": 5, "full_cold": 5, "memory": 3, "git": 5}


# --------------------------------------------------------------------------------------
# result records
# --------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the results table: a figure, its reference, the ratio and the verdict."""

    name: str
    reference: str            # what the reference tool is, e.g. "b3sum x2"
    ref_s: float | None       # median seconds of the reference
    ours: str                 # what of ours ran, e.g. "build_inventory(threads=4)"
    ours_s: float | None      # median seconds of ours (or MB for memory)
    ratio: float | None
    ratio_kind: str           # how the ratio is defined, shown in the table
    target: str
    passed: bool | None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)   # extra markdown lines (sweeps, breakdowns)
    samples: dict = field(default_factory=dict)         # raw seconds of every run, saved as JSON


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def run_shell(cmd: str) -> float:
    """Wall seconds of one shell pipeline; a failing pipeline aborts the benchmark (a broken
    yardstick would make every ratio meaningless)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"reference command failed ({proc.returncode}): {cmd}\n"
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of one in-process call, after a full collection so that garbage from the
    previous repetition is not charged to this one."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# noise control: other people's jobs on a shared 2-core machine
# --------------------------------------------------------------------------------------
@dataclass
class Quiet:
    """Before each repetition, wait (up to `max_wait_s`) for a moment in which no task
    waits for a CPU, as read from Linux pressure stall information (/proc/pressure/cpu,
    'some' total). On 2 shared cores one foreign test run doubles every figure; the
    interleaving keeps ratios fair, the wait keeps medians from being mostly contention."""

    max_wait_s: float = 30.0
    window_s: float = 0.5
    threshold: float = 0.05       # fraction of the window in which some task was stalled
    waits: list[float] = field(default_factory=list)
    noisy_starts: int = 0

    @staticmethod
    def stall_us() -> int | None:
        try:
            with open("/proc/pressure/cpu") as f:
                line = f.readline()  # some avg10=.. avg60=.. avg300=.. total=US
            return int(line.rsplit("total=", 1)[1])
        except (OSError, IndexError, ValueError):
            return None

    def settle(self) -> None:
        if self.max_wait_s <= 0 or self.stall_us() is None:
            return
        t0 = time.monotonic()
        while True:
            a = self.stall_us()
            time.sleep(self.window_s)
            b = self.stall_us()
            if (b - a) / 1e6 < self.threshold * self.window_s:
                break
            if time.monotonic() - t0 > self.max_wait_s:
                self.noisy_starts += 1
                break
        self.waits.append(time.monotonic() - t0)

    def summary(self) -> str:
        if not self.waits:
            return "no quiet-wait (disabled or no /proc/pressure/cpu)"
        return (f"waited for an idle CPU before {len(self.waits)} repetitions: median "
                f"{median(self.waits):.1f}s, max {max(self.waits):.1f}s; {self.noisy_starts} started "
                f"under foreign load after {self.max_wait_s:.0f}s")


QUIET = Quiet()


def code_fingerprint() -> str:
    """Short hash of the package's Python sources. The package is edited while benchmarks
    run; in-process measurements use the code imported at their start, children (memory)
    the code at their own start, so each row carries the fingerprint it ran against."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((REPO_ROOT / "anfl_assets").rglob("*.py")):
        h.update(str(f.relative_to(REPO_ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


# --------------------------------------------------------------------------------------
# page cache control (cold runs)
# --------------------------------------------------------------------------------------
def regular_files(root: Path) -> list[bytes]:
    """Every regular file under root, symlinks not followed, `.git` included: the set
    `find -type f` hands to b3sum, which is also a superset of what the scanner reads."""
    out, stack = [], [os.fsencode(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        out.append(e.path)
        except OSError:
            continue
    return out


def evict_tree(files: list[bytes]) -> float:
    """Drop the page-cache pages of every file (POSIX_FADV_DONTNEED).

    /proc/sys/vm/drop_caches needs privileges a container rarely has; fadvise on each file
    needs only read access. Only file DATA is evicted: directory entries and inodes stay
    cached, so a 'cold' run here means cold content reads over a warm walk. Clean pages
    only are dropped, hence the sync first. Returns seconds spent.
    """
    t0 = time.perf_counter()
    os.sync()
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    for p in files:
        try:
            fd = os.open(p, flags)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return time.perf_counter() - t0


def resident_bytes(paths: list[bytes]) -> int | None:
    """Bytes of `paths` in the page cache, via util-linux `fincore` (None when absent):
    evidence that an eviction really happened."""
    if not shutil.which("fincore") or not paths:
        return None
    proc = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES",
                           *[os.fsdecode(p) for p in paths]], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return sum(int(x) for x in proc.stdout.split())


# --------------------------------------------------------------------------------------
# inputs: estate, 300k-file tree, 10k-commit repository
# --------------------------------------------------------------------------------------
def make_estate(size: str | None, out: Path, make_estate_py: Path, files: int | None = None,
                nbytes: str | None = None) -> Path:
    """Generate an estate with the shared deterministic generator into `out`, atomically:
    it is built in a sibling temp dir and renamed when complete, so an interrupted run
    never leaves a half tree that a later run would mistake for a finished one."""
    if not make_estate_py.is_file():
        raise SystemExit(f"estate generator {make_estate_py} not found: pass --make-estate PATH "
                         "or --estate DIR with an existing estate")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, str(make_estate_py), "--out", str(tmp)]
    if size:
        cmd += ["--size", size]
    if files:
        cmd += ["--files", str(files)]
    if nbytes:
        cmd += ["--bytes", nbytes]
    log(f"generating estate: {' '.join(cmd)}")
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    tmp.rename(out)
    return out / ESTATE_ROOT_NAME


def resolve_estate(args) -> Path:
    """--estate DIR (the estate root or its parent) if given, else benchmarks/.work/estate-SIZE,
    generated on first use."""
    if args.estate:
        p = Path(args.estate).resolve()
        if (p / ESTATE_ROOT_NAME).is_dir():
            p = p / ESTATE_ROOT_NAME
        if not p.is_dir():
            raise SystemExit(f"--estate {args.estate}: not a directory")
        return p
    out = WORK_DIR / f"estate-{args.estate_size}"
    if (out / ESTATE_ROOT_NAME).is_dir():
        return out / ESTATE_ROOT_NAME
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return make_estate(args.estate_size, out, Path(args.make_estate))


WORDS = ("alpha", "beta", "gamma", "delta", "model", "config", "loader", "trainer", "report",
         "schema", "vector", "index", "export", "client", "server", "worker", "handler", "router")
EXTS = ("py", "yaml", "json", "md", "txt", "ts", "go", "csv", "bin", "tf")


def make_synthetic_tree(out: Path, n_files: int, mean_bytes: int = 2000, seed: int = 42) -> Path:
    """`n_files` small files over 3 levels of directories (about 100 files per leaf), with
    realistic name lengths and text/binary content of 0..2*mean_bytes bytes.

    Used for the memory target: peak RSS of an inventory grows with the number of entries
    (path strings, per-row Python objects), hardly with bytes, so small files make a
    300,000-entry tree cheap to write (~1 minute) while exercising the same code paths.
    Deterministic for a given seed; built in a temp dir and renamed when complete.
    """
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    rnd = random.Random(seed)
    blob = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
    text = ("".join(f"{rnd.choice(WORDS)}_{i} = {rnd.randint(0, 10**6)}  # {rnd.choice(WORDS)}\n"
                    for i in range(3000))).encode()
    per_leaf = 100
    leaves = (n_files + per_leaf - 1) // per_leaf
    t0 = time.perf_counter()
    written = 0
    for leaf in range(leaves):
        a, b, c = leaf // 100, (leaf // 10) % 10, leaf % 10
        d = tmp / f"area_{a:03d}_{WORDS[a % len(WORDS)]}" / f"pkg_{b}_{WORDS[b]}" / f"mod_{c}"
        d.mkdir(parents=True, exist_ok=True)
        for k in range(min(per_leaf, n_files - written)):
            ext = EXTS[rnd.randrange(len(EXTS))]
            size = rnd.randrange(0, 2 * mean_bytes)
            src = blob if ext == "bin" else text
            off = rnd.randrange(0, len(src) - size)
            (d / f"{rnd.choice(WORDS)}_{written:06d}_{rnd.choice(WORDS)}.{ext}").write_bytes(src[off:off + size])
            written += 1
        if leaf % 300 == 0:
            log(f"  synthetic tree: {written}/{n_files} files ({time.perf_counter() - t0:.0f}s)")
    tmp.rename(out)
    return out


def resolve_memory_tree(kind: str, n_files: int, make_estate_py: str) -> Path:
    """A tree for the memory target: `estate` is make_estate.py with --files N --bytes 600M
    (realistic paths and content, ~2.5 GB, ~4 minutes to build once; it lands a little
    under N regular files), `synthetic` is exactly N small files (~1 minute)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if kind == "estate":
        out = WORK_DIR / f"estate-{n_files}f"
        if (out / ESTATE_ROOT_NAME).is_dir():
            return out / ESTATE_ROOT_NAME
        return make_estate(None, out, Path(make_estate_py), files=n_files, nbytes="600M")
    out = WORK_DIR / f"synthetic-{n_files}f"
    if not out.is_dir():
        make_synthetic_tree(out, n_files)
    return out


PEOPLE = [("Ada Moreau", "ada@example.com"), ("Bilal Haddad", "bilal@example.com"),
          ("Chen Wei", "chen@example.com"), ("Dana Okafor", "dana@example.com"),
          ("Elif Yilmaz", "elif@example.com"), ("Finn Larsen", "finn@example.com"),
          ("Grace Kim", "grace@example.com"), ("Hugo Alvarez", "hugo@example.com")]


def _fast_import_stream(n_commits: int, n_files: int, seed: int):
    """Yield a `git fast-import` script: commit 1 adds `n_files` text files (plus a few
    binaries), every later commit modifies 1-5 files; about 3 % of commits rename a file
    (with a small edit, so -M has similarity to detect), about 1 % delete one and add a new
    one. Fixed dates and authors make the commit hashes identical on every machine."""
    rnd = random.Random(seed)
    files: dict[str, list[str]] = {}
    binaries: dict[str, bytes] = {}
    counter = [0]

    def line() -> str:
        counter[0] += 1
        return f"{rnd.choice(WORDS)}_{counter[0]} = compute({rnd.choice(WORDS)}, {rnd.randint(0, 99999)})\n"

    def new_path() -> str:
        counter[0] += 1
        return (f"src/{rnd.choice(WORDS)}_{rnd.randrange(24):02d}/"
                f"{rnd.choice(WORDS)}_{counter[0]}.{rnd.choice(('py', 'ts', 'go', 'yaml', 'md'))}")

    def data(payload: bytes) -> bytes:
        return b"data %d\n" % len(payload) + payload + b"\n"

    def modify(path: str, content: bytes) -> bytes:
        return f"M 100644 inline {path}\n".encode() + data(content)

    t = 1577836800  # 2020-01-01
    for n in range(1, n_commits + 1):
        t += rnd.randint(300, 14_400)
        name, email = rnd.choice(PEOPLE)
        ops: list[bytes] = []
        if n == 1:
            for _ in range(n_files):
                p = new_path()
                files[p] = [line() for _ in range(rnd.randint(20, 120))]
                ops.append(modify(p, "".join(files[p]).encode()))
            for i in range(8):
                p = f"assets/blob_{i}.bin"
                binaries[p] = rnd.randbytes(rnd.randint(2_000, 20_000))
                ops.append(modify(p, binaries[p]))
            subject = "Initial import"
        else:
            r = rnd.random()
            if r < 0.03:  # rename with a small edit
                old = rnd.choice(sorted(files))
                new = new_path()
                body = files.pop(old)
                body[rnd.randrange(len(body))] = line()
                files[new] = body
                ops.append(f"D {old}\n".encode())
                ops.append(modify(new, "".join(body).encode()))
                subject = f"Move {old.rsplit('/', 1)[-1]}"
            elif r < 0.04:  # delete one, add one
                old = rnd.choice(sorted(files))
                del files[old]
                ops.append(f"D {old}\n".encode())
                p = new_path()
                files[p] = [line() for _ in range(rnd.randint(20, 120))]
                ops.append(modify(p, "".join(files[p]).encode()))
                subject = f"Replace {old.rsplit('/', 1)[-1]}"
            elif r < 0.05:  # binary change
                p = rnd.choice(sorted(binaries))
                b = bytearray(binaries[p])
                b[rnd.randrange(len(b))] ^= 0xFF
                binaries[p] = bytes(b)
                ops.append(modify(p, binaries[p]))
                subject = f"Update {p}"
            else:
                paths = rnd.sample(sorted(files), rnd.randint(1, 5))
                for p in paths:
                    body = files[p]
                    for _ in range(rnd.randint(1, 6)):
                        op = rnd.random()
                        i = rnd.randrange(len(body))
                        if op < 0.5:
                            body[i] = line()
                        elif op < 0.8 or len(body) < 10:
                            body.insert(i, line())
                        else:
                            del body[i]
                    ops.append(modify(p, "".join(body).encode()))
                subject = f"Change {', '.join(p.rsplit('/', 1)[-1] for p in paths)}"
        msg = f"{subject}\n\nCommit {n} of the benchmark history.\n".encode()
        head = (f"commit refs/heads/main\nmark :{n}\n"
                f"author {name} <{email}> {t} +0000\ncommitter {name} <{email}> {t} +0000\n").encode()
        head += data(msg).rstrip(b"\n") + b"\n"
        if n > 1:
            head += f"from :{n - 1}\n".encode()
        yield head + b"".join(ops) + b"\n"


def make_git_repo(out: Path, n_commits: int, n_files: int = 300, seed: int = 42) -> Path:
    """A repository with `n_commits` linear commits built by `git fast-import` (seconds, and
    byte-identical history everywhere); built in a temp dir and renamed when complete."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp)], check=True, env=env)
    t0 = time.perf_counter()
    fi = subprocess.Popen(["git", "-C", str(tmp), "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env)
    assert fi.stdin is not None
    for chunk in _fast_import_stream(n_commits, n_files, seed):
        fi.stdin.write(chunk)
    fi.stdin.close()
    if fi.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(tmp), "reset", "-q", "--hard", "main"], check=True, env=env)
    log(f"  git repo: {n_commits} commits in {time.perf_counter() - t0:.1f}s")
    tmp.rename(out)
    return out


def resolve_git_repo(args) -> Path:
    out = WORK_DIR / f"git-{args.git_commits}c"
    if not (out / ".git").is_dir():
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        make_git_repo(out, args.git_commits)
    return out


# --------------------------------------------------------------------------------------
# measurements: one function each
# --------------------------------------------------------------------------------------
def bench_walk(root: Path, repeat: int, report: Report) -> None:
    """Target 3: walk_tree alone (one lstat per entry) vs `find -printf`, which lists and
    stats the same tree in C. Both run warm (a discarded run of each first): the figure is
    the cost of the Python walk itself, not of the disk. The rate is trees per second, so
    ratio = find_s / walk_s; entries per second of each are given in the note (find also
    prints directories and `.git` internals, which the walk skips)."""
    from anfl_assets.domain.walk import walk_tree

    run_shell(FIND_CMD.format(root=shlex.quote(str(root))))
    walk_tree(root)
    ref, ours, entries = [], [], 0
    for _ in range(repeat):
        QUIET.settle()
        ref.append(run_shell(FIND_CMD.format(root=shlex.quote(str(root)))))
        s, w = timed(lambda: walk_tree(root))
        ours.append(s)
        entries = len(w)
        del w
    find_lines = int(subprocess.run(["bash", "-c", f"find {shlex.quote(str(root))} | wc -l"], capture_output=True,
                                    text=True).stdout.strip())
    ratio = median(ref) / median(ours)
    report.samples["walk"] = {"find_s": ref, "walk_tree_s": ours}
    report.rows.append(Row(
        "walk + lstat", "find -printf", median(ref), "walk_tree", median(ours), ratio,
        "rate vs find", ">= 0.5", ratio >= 0.5,
        f"{entries} entries, {entries / median(ours):,.0f}/s; find {find_lines / median(ref):,.0f} lines/s"))


def bench_rescan(root: Path, repeat: int, report: Report, threads: int) -> None:
    """Target 2: a re-scan of an unchanged tree must read no content (bytes_read == 0) and
    cost about one stat walk: <= 1.5x of `find -printf`. Timed two ways: the whole
    `refresh_file_inventory` (DuckDB read of the previous rows, walk + join, DuckDB write),
    which is what a scheduled run costs, and `build_inventory` alone given the previous
    rows, which isolates the scanner from the warehouse."""
    from anfl_assets.domain.inventory import PREVIOUS_SQL, build_inventory, refresh_file_inventory
    from anfl_assets.domain.warehouse import Warehouse

    project = "bench"
    with tempfile.TemporaryDirectory(prefix="anfl-bench-wh-") as tmp:
        wh = Warehouse(Path(tmp) / "warehouse.duckdb")
        first_s, first = timed(lambda: refresh_file_inventory(wh, project, root, threads=threads))
        log(f"  rescan: initial full refresh {first_s:.2f}s, {first.stats.files} files")
        del first
        run_shell(FIND_CMD.format(root=shlex.quote(str(root))))
        ref, refresh_s, build_s, query_s, read_bytes, unchanged = [], [], [], [], [], []
        for _ in range(repeat):
            QUIET.settle()
            ref.append(run_shell(FIND_CMD.format(root=shlex.quote(str(root)))))
            s, res = timed(lambda: refresh_file_inventory(wh, project, root, threads=threads))
            refresh_s.append(s)
            read_bytes.append(res.stats.bytes_read)
            unchanged.append(res.stats.unchanged)
            del res
            s, prev = timed(lambda: wh.query(PREVIOUS_SQL, [project]))
            query_s.append(s)
            s, res = timed(lambda: build_inventory(project, root, prev, threads=threads))
            build_s.append(s)
            read_bytes.append(res.stats.bytes_read)
            walk_s = res.stats.walk_s
            del res, prev
    report.samples["rescan"] = {"find_s": ref, "refresh_file_inventory_s": refresh_s,
                                "build_inventory_s": build_s, "previous_query_s": query_s,
                                "bytes_read": read_bytes}
    zero = all(b == 0 for b in read_bytes)
    report.rows.append(Row(
        "rescan: bytes_read", "-", None, "both re-scans, every run", float(max(read_bytes)), None,
        "bytes", "== 0", zero, f"max bytes_read over {len(read_bytes)} runs; unchanged={unchanged[-1]}"))
    fm = median(ref)
    r1 = median(refresh_s) / fm
    report.rows.append(Row(
        "rescan (warehouse)", "find -printf", fm, "refresh_file_inventory", median(refresh_s), r1,
        "time / find", "<= 1.5", r1 <= 1.5, "DuckDB read + scan + DuckDB write"))
    r2 = median(build_s) / fm
    report.rows.append(Row(
        "rescan (scanner)", "find -printf", fm, "build_inventory(previous)", median(build_s), r2,
        "time / find", "<= 1.5", r2 <= 1.5,
        f"previous rows query {median(query_s):.3f}s not included; last walk_s {walk_s:.3f}"))


def _b3sum_bytes(files: list[bytes]) -> int:
    total = 0
    for p in files:
        try:
            total += os.lstat(p).st_size
        except OSError:
            pass
    return total


def reader_kwargs(label: str) -> dict:
    """`build_inventory` keyword arguments of one reader set-up: `default` (the package's),
    `tN` (N threads in the process, no worker processes) or `pN` (N worker processes)."""
    if label == "default":
        return {}
    if label[0] == "t":
        return {"threads": int(label[1:]), "processes": 1}
    if label[0] == "p":
        return {"processes": int(label[1:])}
    raise SystemExit(f"--readers: {label!r} is not default, tN or pN")


def bench_full(root: Path, repeat: int, report: Report, readers: list[str], cold: bool) -> None:
    """Target 1: a full inventory (walk, blake3 of every byte, sniffing, line counts, table)
    against b3sum hashing the same files on both cores. Compared as throughput (bytes hashed
    per second) because find hands b3sum `.git` internals the scanner skips. Warm: page
    cache hot, so the figure is CPU efficiency; cold: every file's data evicted before
    every run of either tool, so it is I/O scheduling (how many reads are in flight).
    Each repetition runs b3sum, then build_inventory with every reader set-up, interleaved so
    drift in the VM's speed hits all of them alike."""
    from anfl_assets.domain.inventory import build_inventory

    mode = "cold" if cold else "warm"
    files = regular_files(root)
    ref_bytes = _b3sum_bytes(files)
    largest = sorted(files, key=lambda p: os.lstat(p).st_size, reverse=True)[:20]
    if not cold:  # fill the page cache and warm the code path once, results discarded
        run_shell(B3SUM_CMD.format(root=shlex.quote(str(root))))
        build_inventory("bench", root)
    ref: list[float] = []
    ours: dict[str, list[float]] = {r: [] for r in readers}
    walk: dict[str, list[float]] = {r: [] for r in readers}
    ours_bytes = 0
    evict_s: list[float] = []
    resident_after_evict: list[int | None] = []
    for rep in range(repeat):
        QUIET.settle()
        if cold:
            evict_s.append(evict_tree(files))
            resident_after_evict.append(resident_bytes(largest))
        ref.append(run_shell(B3SUM_CMD.format(root=shlex.quote(str(root)))))
        for r in readers:
            if cold:
                evict_s.append(evict_tree(files))
            s, res = timed(lambda: build_inventory("bench", root, **reader_kwargs(r)))
            ours[r].append(s)
            walk[r].append(res.stats.walk_s)
            ours_bytes = res.stats.bytes_read
            del res
        log(f"  {mode} rep {rep + 1}/{repeat}: b3sum {ref[-1]:.2f}s, "
            + ", ".join(f"{r} {ours[r][-1]:.2f}s" for r in readers))
    report.samples[f"full_{mode}"] = {"b3sum_s": ref, "build_inventory_s": ours,
                                      "b3sum_bytes": ref_bytes, "inventory_bytes_read": ours_bytes,
                                      "evict_s": evict_s, "resident_bytes_of_20_largest_after_evict":
                                      resident_after_evict}
    ref_tp = ref_bytes / median(ref)

    def ratio_of(r: str) -> float:
        return (ours_bytes / median(ours[r])) / ref_tp

    best = max(readers, key=ratio_of)
    shown = ["default"] if "default" in readers else []
    if best not in shown:
        shown.append(best)
    for r in shown:
        label = "default" if r == "default" else "best"
        ratio = ratio_of(r)
        report.rows.append(Row(
            f"full {mode} ({label})", "b3sum -P2", median(ref), f"build_inventory({r})",
            median(ours[r]), ratio, "throughput vs b3sum", ">= 0.7", ratio >= 0.7,
            f"{ours_bytes / 1e6 / median(ours[r]):,.0f} MB/s vs {ref_tp / 1e6:,.0f} MB/s"))
    lines = [f"**Reader sweep, {mode}** (b3sum median {median(ref):.3f}s, {ref_tp / 1e6:,.0f} MB/s over "
             f"{ref_bytes / 1e9:.2f} GB; scanner reads {ours_bytes / 1e9:.2f} GB; tN = N threads in one "
             f"process, pN = N worker processes, default = the package's choice)", "",
             "| readers | median s | min s | max s | walk_s | MB/s | ratio vs b3sum |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in readers:
        mark = " (best)" if r == best else ""
        lines.append(f"| {r}{mark} | {median(ours[r]):.3f} | {min(ours[r]):.3f} | {max(ours[r]):.3f} | "
                     f"{median(walk[r]):.3f} | {ours_bytes / 1e6 / median(ours[r]):,.0f} | {ratio_of(r):.2f} |")
    lines += ["", f"Readers ({mode}): fastest median with {best} ({ratio_of(best):.2f}x b3sum)"
                  + (f"; the package default gives {ratio_of('default'):.2f}x" if "default" in readers else ".")]
    if cold:
        res_note = [r for r in resident_after_evict if r is not None]
        lines += ["", f"Eviction: {median(evict_s):.2f}s per pass (not timed); page-cache residency of the "
                      f"20 largest files right after eviction: "
                      f"{'n/a' if not res_note else f'{max(res_note) / 1e6:.1f} MB at most'}."]
    report.details += lines + [""]


MEM_CHILD_CODE = r"""
import json, sys, tempfile, time
from pathlib import Path
def hwm_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
mode, root, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
from anfl_assets.domain.inventory import build_inventory, refresh_file_inventory
from anfl_assets.domain.warehouse import Warehouse
import duckdb  # imported in both modes so baselines compare
base = hwm_mb()
t0 = time.perf_counter()
if mode == 'build':
    res = build_inventory('mem', root, threads=threads)
else:
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / 'w.duckdb')
        res = refresh_file_inventory(wh, 'mem', root, threads=threads)
        if mode == 'refresh':
            # A scheduled re-scan does not hold the previous run's result; 'refresh_held' keeps
            # it alive through the second call (how this was measured before 2026-12-01).
            res = None
        res = refresh_file_inventory(wh, 'mem', root, threads=threads)
print(json.dumps({'entries': res.stats.entries, 'bytes_read': res.stats.bytes_read,
                  'seconds': time.perf_counter() - t0, 'import_hwm_mb': base, 'hwm_mb': hwm_mb()}))
"""


def _tree_pss_mb(pid: int) -> float:
    """Proportional set size of `pid` and every process below it (the hash workers and their
    forkserver), in MB: shared pages counted once, split between their users."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _peak_rss_child(mode: str, root: Path, threads: int) -> dict:
    """Run one scan in a fresh interpreter and read that child's own peak RSS from wait4()
    (RUSAGE_CHILDREN would mix in every earlier child: b3sum, find, git...). The peak PSS of
    the whole process tree (the scan and its hash workers) is sampled every 20 ms beside it."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-c", MEM_CHILD_CODE, mode, str(root), str(threads)],
                                stdout=out, cwd=REPO_ROOT)
        tree_peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                tree_peak[0] = max(tree_peak[0], _tree_pss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"memory child ({mode}) failed with {proc.returncode}")
    info = json.loads(text.strip().splitlines()[-1])
    info["maxrss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    info["tree_pss_peak_mb"] = tree_peak[0]
    return info


def bench_memory(tree: Path, kind: str, repeat: int, report: Report, threads: int) -> None:
    """Target 4: peak RSS of a full inventory of a 300,000-entry tree stays under 600 MB, so
    a large estate fits beside Dagster on a small worker. Measured on the scanner alone
    (`build_inventory`) and on the asset's real path (`refresh_file_inventory` twice into a
    temp warehouse: full scan + DuckDB write, then the incremental re-scan)."""
    modes = (("build", "build_inventory (full)", True),
             ("refresh", "refresh_file_inventory x2", True),
             ("refresh_held", "refresh_file_inventory x2, 1st result held", False))
    for mode, label, is_target in modes:
        runs = []
        for _ in range(repeat):
            QUIET.settle()
            runs.append(_peak_rss_child(mode, tree, threads))
        # the scan's own exact peak, or the sampled peak of it with its hash workers if higher
        peak = median([max(r["maxrss_mb"], r["tree_pss_peak_mb"]) for r in runs])
        report.samples[f"memory_{kind}_{mode}"] = runs
        report.rows.append(Row(
            f"peak RSS, {kind} tree, {runs[0]['entries']:,} entries", "-", None, label, peak, None, "MB",
            "< 600 MB" if is_target else "(information)",
            (peak < 600) if is_target else None,
            f"after imports {median([r['import_hwm_mb'] for r in runs]):.0f} MB; with the hash worker "
            f"processes (PSS of the process tree, sampled): {median([r['tree_pss_peak_mb'] for r in runs]):.0f} MB; "
            f"{median([r['seconds'] for r in runs]):.1f}s for the scan(s)"
            + ("" if is_target else "; the harness keeps the first result alive during the second call")))


def bench_git(repo: Path, repeat: int, report: Report) -> None:
    """Target 5: history of a 10,000-commit repository costs at most 2x what `git log
    --numstat -z -M` itself costs: the parse must not dominate git's own diffing. Also
    times the exact command read_history spawns (its --format adds header bytes) to show
    how much is git and how much is Python, and refresh_git_history into a temp warehouse
    (parse + Arrow tables + DuckDB write)."""
    from anfl_assets.domain.gitrepo import read_history
    from anfl_assets.domain.history import refresh_git_history
    from anfl_assets.domain.warehouse import Warehouse

    run_shell(GIT_LOG_CMD.format(repo=shlex.quote(str(repo))))
    ref, pkg_cmd, ours, refresh = [], [], [], []
    counts = (0, 0)
    with tempfile.TemporaryDirectory(prefix="anfl-bench-git-") as tmp:
        wh = Warehouse(Path(tmp) / "warehouse.duckdb")
        refresh_git_history(wh, "git", repo, True)  # schema creation, first write: discarded
        for _ in range(repeat):
            QUIET.settle()
            ref.append(run_shell(GIT_LOG_CMD.format(repo=shlex.quote(str(repo)))))
            pkg_cmd.append(run_shell(GIT_LOG_PKG_CMD.format(repo=shlex.quote(str(repo)))))
            s, (commits, changes) = timed(lambda: read_history(repo))
            ours.append(s)
            counts = (len(commits.sha), len(changes.sha))
            del commits, changes
            s, _ = timed(lambda: refresh_git_history(wh, "git", repo, True))
            refresh.append(s)
    report.samples["git"] = {"git_log_s": ref, "git_log_package_cmd_s": pkg_cmd, "read_history_s": ours,
                             "refresh_git_history_s": refresh, "commits": counts[0], "file_changes": counts[1]}
    gm = median(ref)
    r1 = median(ours) / gm
    report.rows.append(Row(
        "git history", "git log --numstat -z -M", gm, "read_history", median(ours), r1, "time / git log",
        "<= 2.0", r1 <= 2.0, f"{counts[0]:,} commits, {counts[1]:,} file changes; the package's own "
                             f"git log command alone: {median(pkg_cmd):.3f}s"))
    r2 = median(refresh) / gm
    report.rows.append(Row(
        "git history (warehouse)", "git log --numstat -z -M", gm, "refresh_git_history", median(refresh), r2,
        "time / git log", "<= 2.0", r2 <= 2.0, "parse + Arrow + DuckDB write"))


# --------------------------------------------------------------------------------------
# environment and output
# --------------------------------------------------------------------------------------
def _first_line(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"


def environment() -> dict:
    """Everything needed to judge whether two RESULTS.md entries are comparable."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "n/a"

    cpu = "n/a"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    head = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "anfl_assets"],
                           capture_output=True, text=True).stdout.strip().splitlines()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gb": round(mem_gb, 1), "kernel": platform.release(),
        "python": platform.python_version(),
        "b3sum": _first_line(["b3sum", "--version"]), "find": _first_line(["find", "--version"]),
        "git": _first_line(["git", "--version"]),
        "py_packages": {p: ver(p) for p in ("blake3", "pyarrow", "duckdb", "numpy", "pathspec")},
        "package_commit": head, "package_dirty_files": len(dirty),
    }


def tree_summary(root: Path) -> str:
    files = regular_files(root)
    return f"{len(files):,} regular files, {_b3sum_bytes(files) / 1e9:.2f} GB"


def _measured(r: Row, value: float | None) -> str:
    if value is None:
        return "-"
    if r.ratio_kind == "MB":
        return f"{value:.1f} MB"
    if r.ratio_kind == "bytes":
        return f"{value:,.0f} B"
    return f"{value:.3f} s"


def render_table(rows: list[Row]) -> list[str]:
    """target | measured ours | measured reference | ratio | target | pass/fail | note: the
    medians of this run; the ratio is of the medians."""
    out = ["| measurement | ours (median) | reference (median) | ratio | target | result | note |",
           "|---|---|---|---:|---|---|---|"]
    for r in rows:
        verdict = "n/a" if r.passed is None else ("PASS" if r.passed else "**FAIL**")
        ours = f"{r.ours}: {_measured(r, r.ours_s)}"
        ref = "-" if r.ref_s is None and r.reference == "-" else f"{r.reference}: {_measured(r, r.ref_s)}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f} ({r.ratio_kind})"
        out.append(f"| {r.name} | {ours} | {ref} | {ratio} | {r.target} | {verdict} | {r.note} |")
    return out


def render_run(env: dict, args, cmdline: str, inputs: dict, report: Report) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in env["py_packages"].items())
    failed = [r.name for r in report.rows if r.passed is False]
    passed = [r.name for r in report.rows if r.passed]
    lines = [f"### {env['date']}: {', '.join(args.only)}", "",
             f"- Command: `{cmdline}`",
             f"- Date: {env['date']}",
             f"- Machine: {env['nproc']} CPUs ({env['cpu']}), {env['mem_gb']} GiB RAM, Linux {env['kernel']}; "
             "a shared VM: other jobs run at the same time, so the reference and ours run interleaved",
             f"- Tools: {env['b3sum']}; {env['find']}; {env['git']}; Python {env['python']} ({pk})",
             f"- Package: commit {env['package_commit']}, {env['package_dirty_files']} uncommitted file(s) "
             "under anfl_assets/ at run time",
             *[f"- {k}: {v}" for k, v in inputs.items()],
             f"- Repeats: {args.repeat or 'defaults ' + json.dumps({k: DEFAULT_REPEATS[k] for k in args.only})}; "
             "figures are medians; ratios are of the medians",
             f"- Verdict: {len(passed)} pass, {len(failed)} fail" + (f" ({', '.join(failed)})" if failed else ""),
             ""]
    lines += render_table(report.rows) + [""] + report.details
    return "\n".join(lines).rstrip() + "\n"


# RESULTS.md holds one section per benchmark script, in this order; each script inserts its
# runs (newest first) under its own marker and leaves everything else alone.
RESULTS_TITLE = "# Benchmark results"
RESULTS_INTRO = """Produced by `benchmarks/bench_inventory.py` and `benchmarks/bench_enrichment.py` (`make bench`);
see `benchmarks/README.md` for what each figure means and how the reference tools are run. Every
run below was measured on one machine with the reference tool and the package interleaved in the
same run; compare ratios, not seconds, across runs."""
SECTIONS = (
    ("## Inventory (issue 2)", RUNS_MARKER),
    ("## Enrichment (issue 3)", "<!-- bench_enrichment runs: newest first; the script inserts below this line -->"),
)


def ensure_sections(text: str) -> str:
    """Add the title and any missing section (heading + marker) of SECTIONS, in order."""
    if not text.strip():
        text = f"{RESULTS_TITLE}\n\n{RESULTS_INTRO}\n"
    for i, (heading, marker) in enumerate(SECTIONS):
        if marker in text:
            continue
        block = f"{heading}\n\n{marker}\n"
        later = [m for h, m in SECTIONS[i + 1:] if m in text]
        if later:  # before the next section that exists, heading included
            nxt = next(h for h, m in SECTIONS[i + 1:] if m in text)
            at = text.find(nxt) if nxt in text else text.find(later[0])
            text = text[:at] + block + "\n" + text[at:]
        else:
            text = text.rstrip() + "\n\n" + block
    return text


def write_results(block: str, path: Path, marker: str = RUNS_MARKER) -> None:
    """Insert this run's block under `marker` (newest first), keeping everything else: the
    hand-written findings, the other sections and the earlier runs."""
    text = ensure_sections(path.read_text() if path.exists() else "")
    head, tail = text.split(marker, 1)
    path.write_text(head + marker + "\n\n" + block + "\n" + tail.lstrip("\n"))


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--estate", help="existing estate: its AeonNovaProject dir or the dir holding it")
    ap.add_argument("--estate-size", default="medium", choices=("tiny", "small", "medium", "large"),
                    help="estate generated under benchmarks/.work when --estate is not given (default medium)")
    ap.add_argument("--make-estate", default=os.environ.get("ANFL_MAKE_ESTATE", str(DEFAULT_MAKE_ESTATE)),
                    help="path of make_estate.py (default $ANFL_MAKE_ESTATE or %(default)s)")
    ap.add_argument("--repeat", type=int, help="repetitions of every measurement (default 5; 3 for memory)")
    ap.add_argument("--only", action="append", help=f"comma-separated subset of {', '.join(MEASUREMENTS)}")
    ap.add_argument("--readers", default="default,t1,t4,p2,p4",
                    help="reader set-ups swept in full_warm/full_cold: default, tN (threads), pN (processes)")
    ap.add_argument("--default-threads", type=int, default=4, help="the package default (reported as such)")
    ap.add_argument("--mem-files", type=int, default=300_000, help="entries in the memory-target tree")
    ap.add_argument("--mem-tree", default="estate,synthetic",
                    help="comma-separated memory trees: estate (make_estate.py --files N --bytes 600M, "
                         "~4 min to build once) and/or synthetic (exactly N small files, ~1 min)")
    ap.add_argument("--git-commits", type=int, default=10_000)
    ap.add_argument("--results", default=str(RESULTS_MD), help="markdown file to update (default %(default)s)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help="before each repetition wait up to this many seconds for an idle CPU (0: never)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when any target fails")
    args = ap.parse_args(argv)
    only = [x.strip() for part in (args.only or [",".join(MEASUREMENTS)]) for x in part.split(",") if x.strip()]
    bad = [x for x in only if x not in MEASUREMENTS]
    if bad:
        ap.error(f"unknown measurement(s) {bad}; choose from {', '.join(MEASUREMENTS)}")
    args.only = [m for m in MEASUREMENTS if m in only]
    args.readers_list = args.readers.split(",")
    args.mem_trees = [x.strip() for x in args.mem_tree.split(",") if x.strip()]
    if not args.mem_trees or set(args.mem_trees) - {"estate", "synthetic"}:
        ap.error("--mem-tree takes estate and/or synthetic")
    return args


def check_tools(needed: list[str]) -> None:
    missing = [t for t in needed if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing reference tool(s): {', '.join(missing)} "
                         "(apt-get install -y b3sum findutils git)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    # Trees generated under benchmarks/.work sit inside this repository's work tree; without a
    # ceiling, the scanner would see them as git-tracked and run `git ls-files` over the whole
    # repository on every scan, which a real project root (its own repo, or none) never does.
    # Set before the package is imported, as gitrepo copies the environment at import.
    os.environ["GIT_CEILING_DIRECTORIES"] = str(WORK_DIR)
    needs = {"find"} | ({"b3sum"} if {"full_warm", "full_cold"} & set(args.only) else set()) | \
            ({"git"} if "git" in args.only else set())
    check_tools(sorted(needs))
    rep = (lambda m: args.repeat or DEFAULT_REPEATS[m])
    report = Report()
    inputs: dict[str, str] = {}
    env = environment()
    QUIET.max_wait_s = args.quiet_wait
    # Import the package once, now, and remember which code that was (see code_fingerprint).
    fp_import = code_fingerprint()
    import anfl_assets.domain.gitrepo  # noqa: F401
    import anfl_assets.domain.history  # noqa: F401
    import anfl_assets.domain.inventory  # noqa: F401
    import anfl_assets.domain.walk  # noqa: F401
    import anfl_assets.domain.warehouse  # noqa: F401
    code_notes = [f"in-process measurements ran code {fp_import} (imported at start)"]

    estate = None
    if {"walk", "rescan", "full_warm", "full_cold"} & set(args.only):
        estate = resolve_estate(args)
        inputs["Estate"] = f"`{estate}` ({tree_summary(estate)})"
        log(f"estate {estate}")
    for m in args.only:
        t0 = time.perf_counter()
        log(f"== {m} (x{rep(m)})")
        if m == "walk":
            bench_walk(estate, rep(m), report)
        elif m == "rescan":
            bench_rescan(estate, rep(m), report, args.default_threads)
        elif m in ("full_warm", "full_cold"):
            bench_full(estate, rep(m), report, args.readers_list, m == "full_cold")
        elif m == "memory":
            fp_mem = code_fingerprint()
            for kind in args.mem_trees:
                tree = resolve_memory_tree(kind, args.mem_files, args.make_estate)
                shown = tree.relative_to(REPO_ROOT) if tree.is_relative_to(REPO_ROOT) else tree
                inputs[f"Memory tree ({kind})"] = f"`{shown}` ({tree_summary(tree)})"
                bench_memory(tree, kind, rep(m), report, args.default_threads)
            fp_end = code_fingerprint()
            code_notes.append(f"memory children ran code {fp_mem}"
                              + ("" if fp_end == fp_mem else f" then {fp_end} (edited during the measurement)"))
        elif m == "git":
            repo = resolve_git_repo(args)
            inputs["Git repository"] = f"`{repo.relative_to(REPO_ROOT)}` ({args.git_commits:,} commits, " \
                                       "fast-import, seed 42)"
            bench_git(repo, rep(m), report)
        log(f"   {m} done in {time.perf_counter() - t0:.0f}s")
    fp_final = code_fingerprint()
    if fp_final != fp_import:
        code_notes.append(f"package sources changed during the run (now {fp_final})")
    inputs["Code"] = "; ".join(code_notes)
    inputs["Noise"] = QUIET.summary()

    cmdline = " ".join([".venv/bin/python", "benchmarks/bench_inventory.py",
                        *[a if " " not in a else repr(a) for a in (argv if argv is not None else sys.argv[1:])]])
    block = render_run(env, args, cmdline, inputs, report)
    print(block)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    (WORK_DIR / "last-run.json").write_text(json.dumps(
        {"env": env, "inputs": inputs, "rows": [asdict(r) for r in report.rows], "samples": report.samples},
        indent=1))
    if not args.no_write:
        write_results(block, Path(args.results))
        log(f"updated {args.results}")
    failed = [r.name for r in report.rows if r.passed is False]
    if failed:
        log(f"targets failed: {', '.join(failed)}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
