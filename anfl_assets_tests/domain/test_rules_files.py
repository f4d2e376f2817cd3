"""Rule files read through the JSON cache: the same documents as the YAML, whatever the cache holds."""

from __future__ import annotations

import os

import pytest
import yaml

from anfl_assets.domain import rules_files
from anfl_assets.domain.enrich import classify

RULES = "rules:\n  - id: acme.recipes\n    match: {name: ['*.recipe']}\n    category: infrastructure\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ANFL_CACHE_DIR", str(folder))
    return folder / "rules"


@pytest.mark.parametrize("name", ["classification_rules.yaml", "secret_rules.yaml", "sensitivity_rules.yaml"])
def test_the_builtin_rules_come_back_the_same_from_the_cache(cache, name):
    path = classify.RULES_PATH.with_name(name)
    expected = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert rules_files.load_yaml_document(path) == expected  # parsed, then cached
    (cached,) = cache.glob("*.json")
    assert rules_files.load_yaml_document(path) == expected  # from the cache
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)
    assert classify.Classifier().version == classify.Classifier().version


def test_an_edited_file_is_read_again_and_a_damaged_cache_entry_ignored(cache, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    assert rules_files.load_yaml_document(path)["rules"][0]["id"] == "acme.recipes"
    path.write_text(RULES.replace("acme.recipes", "acme.other"))
    assert rules_files.load_yaml_document(path)["rules"][0]["id"] == "acme.other"
    assert len(list(cache.glob("*.json"))) == 2
    for entry in cache.glob("*.json"):
        entry.write_text("{not json")
    assert rules_files.load_yaml_document(path)["rules"][0]["id"] == "acme.other"


def test_a_cache_others_can_write_to_is_not_trusted(cache, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules_files.load_yaml_document(path)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"rules": []}')  # what someone else could plant
    os.chmod(cache, 0o777)
    assert rules_files.load_yaml_document(path)["rules"][0]["id"] == "acme.recipes"
    os.chmod(cache, 0o700)
    assert rules_files.load_yaml_document(path) == {"rules": []}  # trusted again: the test's own plant


def test_documents_json_cannot_hold_exactly_are_not_cached(cache, tmp_path):
    path = tmp_path / "dated.yaml"
    path.write_text("released: 2026-11-25\n1: one\n")
    assert rules_files.load_yaml_document(path) == yaml.safe_load(path.read_text())
    assert not list(cache.glob("*.json")) if cache.exists() else True


def test_an_unwritable_cache_location_still_reads_the_file(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("ANFL_CACHE_DIR", str(blocked))
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    assert rules_files.load_yaml_document(path)["rules"][0]["id"] == "acme.recipes"
