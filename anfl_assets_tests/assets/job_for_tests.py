"""A reconstructable handle on the real job, built for the test's ANFL_HOME at call time."""

from anfl_assets.definitions import make_definitions


def scan_project_job():
    return make_definitions().resolve_job_def("scan_project")


def definitions():
    return make_definitions()


def keys_of_groups(*groups: str) -> list:
    """Asset keys of the given groups, for tests that need only the earlier phases (embedding is slow)."""
    graph = make_definitions().resolve_asset_graph()
    return [key for key in graph.get_all_asset_keys() if graph.get(key).group_name in groups]
