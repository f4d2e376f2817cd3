"""Which pushes become runs: the pure planning logic behind git_push_sensor."""

from anfl_assets.domain.push_watch import dump_cursor, load_cursor, plan_push_runs


def test_first_sight_is_a_baseline_without_runs():
    runs, cursor = plan_push_runs({}, {"svc": {"main": "a" * 40}})
    assert runs == [] and cursor == {"svc": {"main": "a" * 40}}


def test_moved_head_and_new_branch_request_runs_deleted_branch_is_forgotten():
    before = {"svc": {"main": "a" * 40, "old": "c" * 40}}
    runs, cursor = plan_push_runs(before, {"svc": {"main": "b" * 40, "feature": "d" * 40}})
    assert [(r.branch, r.sha) for r in runs] == [("feature", "d" * 40), ("main", "b" * 40)]
    assert runs[1].run_key == "svc:" + "b" * 40
    assert cursor == {"svc": {"main": "b" * 40, "feature": "d" * 40}}


def test_unreachable_project_keeps_its_cursor():
    before = {"gone": {"main": "a" * 40}, "svc": {"main": "b" * 40}}
    runs, cursor = plan_push_runs(before, {"svc": {"main": "b" * 40}})
    assert runs == [] and cursor["gone"] == {"main": "a" * 40}


def test_branch_glob_and_force_push_flag():
    before = {"svc": {"main": "a" * 40, "wip/x": "e" * 40}}
    runs, _ = plan_push_runs(before, {"svc": {"main": "b" * 40, "wip/x": "f" * 40}}, "main",
                             is_ancestor=lambda project, old, new: False)
    assert len(runs) == 1 and runs[0].branch == "main" and runs[0].forced


def test_cursor_round_trip_and_garbage_tolerance():
    cursor = {"svc": {"main": "a" * 40}}
    assert load_cursor(dump_cursor(cursor)) == cursor
    assert load_cursor("not json") == {} and load_cursor(None) == {} and load_cursor("[1]") == {}
