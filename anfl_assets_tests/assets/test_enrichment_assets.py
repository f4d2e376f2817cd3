"""The enrichment assets as Dagster runs: metadata, checks, the SBOM, and incremental re-runs."""

import json

from dagster import DagsterInstance

from anfl_assets.domain.enrich.dependencies import validate_sbom
from anfl_assets.domain.objects import open_object_store
from anfl_assets.domain.projects import register_project
from anfl_assets.domain.warehouse import Warehouse

from .job_for_tests import keys_of_groups, scan_project_job

EARLIER = keys_of_groups("inventory", "enrichment")

SERVICE = {
    "svc/pyproject.toml": '[project]\nname = "orders-svc"\nversion = "1.0"\n'
                          'dependencies = ["requests>=2.31", "pyyaml==6.0.1", "rich"]\n',
    "svc/src/orders/__init__.py": "",
    "svc/src/orders/api.py": '"""HTTP API."""\nimport requests\nimport numpy as np\nfrom .store import Store\n\n\n'
                             'class Handler:\n    """Serves orders."""\n\n    def get(self, order_id):\n'
                             '        return Store().load(order_id)\n',
    "svc/src/orders/store.py": "import yaml\n\n\nclass Store:\n    def load(self, key):\n        return key\n",
    "svc/Dockerfile.prod": "FROM python:3.11-slim AS base\nRUN pip install .\nFROM base\nCMD [\"orders\"]\n",
    "deploy/k8s/orders.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: orders\n"
                              "  namespace: shop\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n"
                              "        - name: orders\n          image: registry.example/orders:latest\n"
                              "          resources:\n            limits:\n              memory: 512Mi\n",
    "config/dev/app.yaml": "server:\n  workers: 2\n  debug: true\ndb:\n  password: dev-password-123\n",
    "config/staging/app.yaml": "server:\n  workers: 4\ndb:\n  password: staging-pw-456\n",
    "config/prod/app.yaml": "server:\n  workers: 12\ndb:\n  password: prod-pw-789\n",
    "config/broken.yaml": "a: [1, 2\nb: 3\n",
    "docs/README.md": "# Orders\n\nRuns the orders service.\n",
    "notes.txt": '{"looks": "like json"}\n',
}


def _metadata(result, node: str) -> dict:
    (mat,) = result.asset_materializations_for_node(node)
    return mat.metadata


def test_enrichment_metadata_checks_sbom_and_incremental_reruns(anfl_home, git_repo):
    git_repo.commit("service", SERVICE)
    with DagsterInstance.get() as instance:
        wh = Warehouse(anfl_home / "warehouse.duckdb")
        register_project(wh, "shop", git_repo.root)
        instance.add_dynamic_partitions("projects", ["shop"])
        result = scan_project_job().execute_in_process(partition_key="shop", instance=instance, asset_selection=EARLIER)
        assert result.success
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["every_file_classified_once"].passed
        assert checks["parse_error_rate_bounded"].passed is False  # 1 broken of a handful: above 5%

        classes = _metadata(result, "file_classification")
        categories = {r.data["category"]: r.data["files"] for r in classes["categories"].value.records}
        assert categories["code"] == 3 and categories["infrastructure"] == 2 and categories["config"] >= 5
        assert [r.data["language"] for r in classes["top languages"].value.records] == ["python"]
        rows = {r["path"]: r for r in wh.query("SELECT path, category, infra_kind, config_format, rule "
                                               "FROM enrich.file_classes").to_pylist()}
        assert rows["svc/Dockerfile.prod"]["infra_kind"] == "dockerfile"
        assert rows["deploy/k8s/orders.yaml"]["infra_kind"] == "kubernetes"
        assert rows["notes.txt"]["category"] == "config" and rows["notes.txt"]["config_format"] == "json"

        structure = _metadata(result, "code_structure")
        assert structure["symbols"].value == 4 and structure["imports"].value == 4

        config = _metadata(result, "config_patterns")
        assert config["drift"].value >= 2
        (err,) = config["parse errors"].value.records
        assert err.data["path"] == "config/broken.yaml" and err.data["line"] == 2
        stored_values = json.dumps(wh.query("SELECT * FROM enrich.config_keys").to_pylist(), default=str)
        stored_values += json.dumps(wh.query("SELECT * FROM enrich.config_drift").to_pylist(), default=str)
        assert "prod-pw-789" not in stored_values and "dev-password-123" not in stored_values

        deps = _metadata(result, "dependency_map")
        top = {(r.data["ecosystem"], r.data["name"]) for r in deps["top external dependencies"].value.records}
        assert {("pypi", "requests"), ("docker", "python"), ("docker", "registry.example/orders")} <= top
        assert deps["internal import edges"].value == 1
        usage = wh.query("SELECT name, usage FROM enrich.dependencies WHERE usage IS NOT NULL ORDER BY ALL").to_pylist()
        assert usage == [{"name": "numpy", "usage": "imported-undeclared"},
                         {"name": "pyyaml", "usage": "used"}, {"name": "requests", "usage": "used"},
                         {"name": "rich", "usage": "declared-unused"}]
        latest = wh.query("SELECT path FROM enrich.image_references WHERE floating_latest").to_pylist()
        assert latest == [{"path": "deploy/k8s/orders.yaml"}]
        sbom = open_object_store(f"file://{anfl_home / 'objects'}").get_bytes("sbom/shop/cyclonedx.json")
        validate_sbom(sbom)
        purls = {c["purl"] for c in json.loads(sbom)["components"]}
        assert {"pkg:pypi/pyyaml@6.0.1", "pkg:docker/python@3.11-slim"} <= purls

        # Unchanged: nothing is re-read or re-parsed, and the SBOM is not rebuilt.
        again = scan_project_job().execute_in_process(partition_key="shop", instance=instance, asset_selection=EARLIER)
        for node in ("file_classification", "code_structure", "config_patterns", "dependency_map"):
            meta = _metadata(again, node)
            assert meta["files processed"].value == 0, node
            assert meta["files reused (unchanged)"].value == meta["files considered"].value, node
        assert _metadata(again, "dependency_map")["sbom rebuilt"].value is False

        # One file changes: only it is processed; its old rows are replaced.
        git_repo.commit("drop numpy", {"svc/src/orders/api.py": SERVICE["svc/src/orders/api.py"].replace(
            "import numpy as np\n", "import rich\n")})
        third = scan_project_job().execute_in_process(partition_key="shop", instance=instance, asset_selection=EARLIER)
        assert _metadata(third, "file_classification")["files processed"].value == 1
        assert _metadata(third, "code_structure")["files processed"].value == 1
        assert _metadata(third, "dependency_map")["files processed"].value == 0
        usage = wh.query("SELECT name, usage FROM enrich.dependencies WHERE usage IS NOT NULL ORDER BY ALL").to_pylist()
        assert {"name": "rich", "usage": "used"} in usage
        assert not any(u["name"] == "numpy" for u in usage)
        assert wh.query("SELECT count(*) AS n FROM enrich.code_imports WHERE path = 'svc/src/orders/api.py'"
                        ).to_pylist() == [{"n": 3}]
