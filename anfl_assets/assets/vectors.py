"""Phase 2, vectors: chunks, then four embedding indexes (code, config, docs, infra), per project.

`chunks` cuts changed files along their structure with secrets redacted; each index asset
embeds only chunks whose (model, content hash) has no stored embedding and makes its index
hold exactly the current chunks, which its check asserts.
"""

import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from anfl_assets.assets.enrichment import code_structure, file_classification
from anfl_assets.assets.metadata import table_metadata
from anfl_assets.assets.security import file_sensitivity, security_findings
from anfl_assets.domain.projects import get_project
from anfl_assets.domain.vectors import pipeline
from anfl_assets.partitions import projects_partitions
from anfl_assets.resources import SecuritySettingsResource, VectorSettingsResource, WarehouseResource
from anfl_assets.settings import VECTOR_INDEXES

GROUP = "vectors"
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


@asset(partitions_def=projects_partitions, group_name=GROUP,
       deps=[file_classification, code_structure, security_findings, file_sensitivity], kinds={"duckdb", "python"},
       description="Code by symbol, docs by heading, configs by document/key, infrastructure by resource/stage, "
                   "measured with the embedding model's tokenizer, secrets replaced by [REDACTED:<rule>], with "
                   "each chunk's sensitivity, in `vectors.chunks` (skipped files and why in `vectors.skipped_files`).")
def chunks(context: AssetExecutionContext, warehouse: WarehouseResource, vectors: VectorSettingsResource,
           security: SecuritySettingsResource) -> MaterializeResult:
    from anfl_assets.domain.security.pipeline import secret_scanner

    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    tokenizers = {index: vectors.embedder(index) for index in VECTOR_INDEXES}  # each index's own model
    stats = pipeline.refresh_chunks(wh, project, tokenizers, secret_scanner(security.secret_rules or None))
    per_index = [{"index": i, "chunks": stats.extra["chunks per index"].get(i, 0)} for i in VECTOR_INDEXES]
    levels = [{"sensitivity": k, "chunks": v} for k, v in sorted(stats.extra["chunks per sensitivity"].items())]
    skipped = wh.query("SELECT reason, count(*) AS files FROM vectors.skipped_files WHERE project = ? GROUP BY 1 "
                       "ORDER BY 2 DESC", [project.name]).to_pylist()
    return MaterializeResult(metadata={
        "files considered": stats.files, "files chunked": stats.processed, "files reused (unchanged)": stats.reused,
        "new chunks": stats.extra["chunks new"],
        "chunks per index": table_metadata(per_index, [("index", "string"), ("chunks", "int")]),
        "chunks per sensitivity": table_metadata(levels, [("sensitivity", "string"), ("chunks", "int")]),
        "skipped files": table_metadata(skipped, [("reason", "string"), ("files", "int")]),
        "seconds": MetadataValue.float(round(stats.seconds, 3)),
    })


def make_embedding_asset(index: str):
    """One asset and one check per index; each index has its own embedder setting
    (ANFL_EMBEDDER_<INDEX>), so code and documentation can use different models."""

    @asset(name=f"{index}_embeddings", partitions_def=projects_partitions, group_name=GROUP, deps=[chunks],
           kinds={"python"},
           description=f"The `{index}` vector index of the project's chunks (clearance level in each vector's "
                       "metadata); only content without a stored embedding is embedded.")
    def embeddings(context: AssetExecutionContext, warehouse: WarehouseResource,
                   vectors: VectorSettingsResource) -> MaterializeResult:
        from anfl_assets.domain.vectors.cache import EmbeddingStore

        wh = warehouse.get()
        embedder = vectors.embedder(index)
        stats = pipeline.refresh_index(wh, context.partition_key, index, embedder, vectors.store(), vectors.cache(),
                                       EmbeddingStore(wh))
        return MaterializeResult(metadata={
            "model": embedder.model_id, "dimensions": embedder.dim, **stats.extra,
            "seconds": MetadataValue.float(round(stats.seconds, 3)),
        })

    @asset_check(asset=embeddings, name=f"{index}_index_matches_chunks", partitions_def=projects_partitions,
                 description=f"The `{index}` index holds exactly the current chunks: none missing, none extra.")
    def index_matches(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                      vectors: VectorSettingsResource) -> AssetCheckResult:
        counts = pipeline.index_matches_chunks(warehouse.get(), context.partition_key, index, vectors.store())
        return AssetCheckResult(passed=counts["missing"] == 0 and counts["extra"] == 0, metadata=counts)

    return embeddings, index_matches


_made = [make_embedding_asset(index) for index in VECTOR_INDEXES]
vector_assets = [chunks, *(a for a, _ in _made)]
vector_checks = [c for _, c in _made]
