"""A reconstructable handle on the real job, built for the test's ANFL_HOME at call time."""

from anfl_assets.definitions import make_definitions


def scan_project_job():
    return make_definitions().resolve_job_def("scan_project")


def definitions():
    return make_definitions()
