"""Sensitivity level of a file: a path rule first, then escalation by what was found in it.

Levels (`LEVELS`, least to most sensitive): public, internal, confidential, restricted.

`SensitivityRules.path_level(path)` applies ordered gitignore-style path rules kept as data
(`data/sensitivity_rules.yaml`, plus an optional user file tried first); the first rule that
matches decides, and a path no rule matches is ('internal', 'default'). `combine` then raises
that level by the file's findings: a live-format secret (critical/high) or a sensitive file
(private key, .env with values, ...) makes it restricted, a medium secret at least
confidential; misconfigurations say nothing about the data in a file and never raise it.
Nothing lowers a level below the path rule's.

Path rules are checked for every inventoried file (tens of thousands), so each rule's
patterns are compiled to regexes once, and a pattern's regex only runs for paths that contain
its longest literal part (`hr` for `**/hr/**`); a path with no such literal at all (most of
them) is rejected by one search of its name and a cached one of its folder.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pathspec

from anfl_assets.domain.rules_files import load_yaml_document
from anfl_assets.domain.security import LEVEL_RANK, LEVELS, SEVERITIES

RULES_PATH = Path(__file__).resolve().parents[2] / "data" / "sensitivity_rules.yaml"
# Bump when this module changes what the same rules mean (matching, escalation).
CODE_VERSION = 1
DEFAULT = ("internal", "default")

_RULE_KEYS = frozenset({"id", "glob", "globs", "exclude", "level", "reason"})
_TOP_KEYS = frozenset({"rules", "disable"})


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


RULESET_VERSION = f"sensitivity-{CODE_VERSION}-{_file_hash(RULES_PATH)}"

# rule id -> (level, reason) of every rule loaded so far, for `combine`'s evidence text
_DESCRIPTIONS: dict[str, tuple[str, str]] = {}


class _Rule:
    __slots__ = ("id", "level", "reason", "patterns", "exclude")

    def __init__(self, rid: str, level: str, reason: str, globs: list[str], exclude: list[str]):
        self.id, self.level, self.reason = rid, level, reason
        self.patterns = _compile(globs)
        self.exclude = [p for p in _compile(exclude) if p[1]]

    def matches(self, path: str, lower: str) -> bool:
        hit = False
        for rx, include, literal in self.patterns:   # gitignore semantics: the last matching pattern decides
            if hit != include and literal in lower and rx.match(path):
                hit = include
        if not hit:
            return False
        return not any(literal in lower and rx.match(path) for rx, _, literal in self.exclude)


_GLOB_SPECIAL_RE = re.compile(r"\\.|\[[^\]]*\]|[*?/!]")


def _literal(glob: str) -> str:
    """The longest run of plain characters of a glob, lower-cased: every path the glob matches
    contains it, so a cheap `in` test skips the regex for most paths."""
    runs = _GLOB_SPECIAL_RE.split(glob.strip())
    return max(runs, key=len).lower() if runs else ""


def _compile(globs: list[str]) -> list[tuple[re.Pattern, bool, str]]:
    out = []
    for glob in globs:
        for pattern in pathspec.PathSpec.from_lines("gitignore", [glob]).patterns:
            if pattern.include is None or pattern.regex is None:   # blank line or comment
                continue
            out.append((re.compile(pattern.regex.pattern, re.IGNORECASE), bool(pattern.include), _literal(glob)))
    return out


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{where}: expected a pattern or a list of patterns")


def _load(path: Path) -> tuple[list[dict], list[str]]:
    doc = load_yaml_document(path)
    if doc is None:
        return [], []
    if isinstance(doc, list):
        return doc, []
    if isinstance(doc, dict):
        unknown = set(doc) - _TOP_KEYS
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}")
        rules = doc.get("rules") or []
        if not isinstance(rules, list):
            raise ValueError(f"{path}: `rules` must be a list")
        return rules, _as_list(doc.get("disable"), f"{path}: disable")
    raise ValueError(f"{path}: expected a list of rules (or a mapping with a `rules:` list)")


def _parse_rules(path: Path, raw: list, seen: set[str]) -> list[_Rule]:
    out = []
    for n, item in enumerate(raw, start=1):
        where = f"{path}: rule {n}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected a mapping with id, glob(s), level, reason")
        unknown = set(item) - _RULE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        rid = item.get("id")
        if not isinstance(rid, str) or not rid.strip():
            raise ValueError(f"{where}: `id` must be a non-empty string")
        where = f"{path}: rule {rid!r}"
        if rid in seen:
            raise ValueError(f"{where}: duplicate rule id (ids must be unique across the rule files)")
        seen.add(rid)
        level = item.get("level")
        if level not in LEVELS:
            raise ValueError(f"{where}: `level` must be one of {list(LEVELS)}")
        globs = _as_list(item.get("glob"), where) + _as_list(item.get("globs"), where)
        if not globs:
            raise ValueError(f"{where}: give `glob` or `globs`")
        reason = item.get("reason") or ""
        if not isinstance(reason, str):
            raise ValueError(f"{where}: `reason` must be a string")
        out.append(_Rule(rid, level, reason.strip(), globs, _as_list(item.get("exclude"), where)))
    return out


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


class SensitivityRules:
    """Ordered path rules: the user's file (if any) first, then the built-in ones."""

    def __init__(self, extra_rules_path: Path | None = None, *, rules_path: Path | None = None):
        builtin_path = Path(rules_path) if rules_path is not None else RULES_PATH
        seen: set[str] = set()
        rules: list[_Rule] = []
        disabled: set[str] = set()
        version = RULESET_VERSION if rules_path is None else \
            f"sensitivity-{CODE_VERSION}-{_file_hash(builtin_path)}"
        if extra_rules_path is not None:
            raw, disable = _load(Path(extra_rules_path))
            rules.extend(_parse_rules(Path(extra_rules_path), raw, seen))
            disabled.update(disable)
            version += f"+{_file_hash(Path(extra_rules_path))}"
        raw, _ = _load(builtin_path)
        rules.extend(r for r in _parse_rules(builtin_path, raw, seen) if r.id not in disabled)
        self.version: str = version
        self.rules: list[_Rule] = rules
        for r in rules:
            _DESCRIPTIONS[r.id] = (r.level, r.reason)
        # Quick reject: a path none of whose folders or name holds any including pattern's
        # literal part matches no rule. Folders are tested once each (cached).
        literals = {lit for r in rules for _, include, lit in r.patterns if include}
        self._any = None if "" in literals or not literals else re.compile(
            "|".join(re.escape(lit) for lit in sorted(literals, key=len, reverse=True)))
        self._dir_hits: dict[str, bool] = {}

    def path_level(self, path: str) -> tuple[str, str]:
        """(level, rule id) of the first rule matching the project-relative path, or ('internal', 'default')."""
        path = _norm(path)
        if not path:
            return DEFAULT
        lower = path.lower()
        if self._any is not None:
            folder, _, name = lower.rpartition("/")
            hit = self._dir_hits.get(folder)
            if hit is None:
                if len(self._dir_hits) > 200_000:
                    self._dir_hits.clear()
                hit = self._dir_hits[folder] = self._any.search(folder) is not None
            if not hit and self._any.search(name) is None:
                return DEFAULT
        for rule in self.rules:
            if rule.matches(path, lower):
                return rule.level, rule.id
        return DEFAULT

    def reason(self, rule_id: str) -> str | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule.reason
        return None


# --------------------------------------------------------------------------------------
# escalation
# --------------------------------------------------------------------------------------
_SOURCE_WORDS = {"secret": "secret", "sensitive-file": "sensitive file", "misconfig": "misconfiguration"}


def _implied(severity: str, source: str) -> str | None:
    """The level a finding alone implies for its file, or None (it says nothing about the data)."""
    if source == "secret":
        if severity in ("critical", "high"):
            return "restricted"
        if severity == "medium":
            return "confidential"
        return None
    if source == "sensitive-file":
        return "restricted"
    return None


def combine(path_level: tuple[str, str], findings: Iterable[tuple[str, str, str]]) -> tuple[str, list[str]]:
    """(level, evidence) of a file from its path rule and its findings `(rule, severity, source)`.

    A live-format secret (severity critical or high) or any sensitive-file finding makes the file
    restricted; a medium secret makes it at least confidential; low/info secrets and
    misconfigurations do not raise it. Never below the path level. Evidence: the path rule, then
    each finding that implies a level, strongest first (duplicates once)."""
    level, rule_id = path_level
    if level not in LEVEL_RANK:
        level = DEFAULT[0]
    if rule_id == DEFAULT[1]:
        evidence = [f"default level {level} (no path rule matched)"]
    else:
        reason = _DESCRIPTIONS.get(rule_id, (None, ""))[1]
        evidence = [f"path rule {rule_id} ({level})" + (f": {reason}" if reason else "")]
    raised: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    for n, item in enumerate(findings):
        try:
            rule, severity, source = item
        except (TypeError, ValueError):
            continue
        implied = _implied(severity, source)
        if implied is None:
            continue
        if LEVEL_RANK[implied] > LEVEL_RANK[level]:
            level = implied
        word = _SOURCE_WORDS.get(source, source)
        text = f"{rule} ({severity})" if rule.startswith(source) else f"{word} {rule} ({severity})"
        if text not in seen:
            seen.add(text)
            sev_rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
            raised.append((-LEVEL_RANK[implied], sev_rank * 100_000 + n, text))
    evidence.extend(text for *_, text in sorted(raised))
    return level, evidence
