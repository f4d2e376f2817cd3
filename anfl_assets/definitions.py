"""The one `Definitions` object: assets per phase, checks, jobs, schedule, sensor, resources.

Resources come from `build_resources(settings)`: ANFL_DEPLOYMENT (local,
staging, prod) picks the set, the embedded defaults being `local`.
`make_definitions` exists so tests and the CLI can build it for the settings in
force at call time; `defs` is what `dagster dev` and workspace.yaml load.
"""

from dagster import Definitions

from anfl_assets.assets.enrichment import enrichment_assets, enrichment_checks
from anfl_assets.assets.inventory import inventory_assets, inventory_checks
from anfl_assets.assets.security import security_assets, security_checks
from anfl_assets.assets.vectors import vector_assets, vector_checks
from anfl_assets.jobs import scan_project_job
from anfl_assets.resources import build_resources
from anfl_assets.sensors.git_push import git_push_sensor
from anfl_assets.sensors.schedules import nightly_scan
from anfl_assets.settings import Settings


def make_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or Settings.from_env()
    return Definitions(
        assets=[*inventory_assets, *enrichment_assets, *security_assets, *vector_assets],
        asset_checks=[*inventory_checks, *enrichment_checks, *security_checks(settings.security_gate),
                      *vector_checks],
        jobs=[scan_project_job],
        schedules=[nightly_scan],
        sensors=[git_push_sensor],
        resources=build_resources(settings),
    )


defs = make_definitions()
