"""`.anfl-allow.yaml`: fingerprint-keyed suppressions, reasons required, expiry honoured, bad entries reported."""

import datetime as dt

from anfl_assets.domain.security.suppressions import ALLOW_FILE, load_suppressions

FP = "0123456789abcdef0123456789abcdef"


def test_missing_file_is_no_suppression(tmp_path):
    assert load_suppressions(tmp_path) == ({}, [])


def test_entries_with_reason_owner_and_expiry(tmp_path):
    (tmp_path / ALLOW_FILE).write_text(
        f"- fingerprint: {FP}\n  reason: sandbox key\n  owner: ops@example.com\n  expires: 2027-03-31\n"
        f"- fingerprint: {FP.upper()[:-1]}0\n  reason: forever\n")
    found, errors = load_suppressions(tmp_path)
    assert errors == []
    s = found[FP]
    assert (s.reason, s.owner, s.expires) == ("sandbox key", "ops@example.com", dt.date(2027, 3, 31))
    assert s.active(dt.date(2027, 3, 31)) and not s.active(dt.date(2027, 4, 1))
    assert s.describe(dt.date(2028, 1, 1)).startswith("expired")
    assert found[FP[:-1] + "0"].expires is None  # case-insensitive fingerprints


def test_bad_entries_are_reported_not_guessed(tmp_path):
    (tmp_path / ALLOW_FILE).write_text(
        f"allow:\n  - fingerprint: {FP}\n  - fingerprint: nothex\n    reason: x\n"
        f"  - fingerprint: {FP}\n    reason: ok\n    expires: someday\n  - just a string\n")
    found, errors = load_suppressions(tmp_path)
    assert found == {}
    assert len(errors) == 4 and any("reason is required" in e for e in errors)
    assert any("expires must be a date" in e for e in errors)


def test_malformed_yaml_gives_one_clear_error(tmp_path):
    (tmp_path / ALLOW_FILE).write_text("- fingerprint: [unclosed\n")
    found, errors = load_suppressions(tmp_path)
    assert found == {} and len(errors) == 1 and "not valid YAML" in errors[0] and "line" in errors[0]
