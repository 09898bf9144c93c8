"""The promotion gate: what a version must have before it may become the champion."""

from mlflow.entities.model_registry import ModelVersion

LINEAGE = ("git_commit", "data_version", "training_run", "author")
METRIC = "roc_auc"
APPROVAL = "approved_by"


def refusals(candidate: ModelVersion, champion: ModelVersion | None) -> list[str]:
    """Why ``candidate`` may not replace ``champion`` (empty when it may)."""
    tags = candidate.tags
    found = [f"missing lineage tag {tag}" for tag in (*LINEAGE, METRIC) if not tags.get(tag)]
    if not tags.get(APPROVAL):
        found.append(f"not approved (no {APPROVAL} tag)")
    if champion is not None and METRIC in tags:
        if float(tags[METRIC]) < float(champion.tags.get(METRIC, "-inf")):
            found.append(
                f"{METRIC} {tags[METRIC]} is worse than the champion's "
                f"(version {champion.version}: {champion.tags[METRIC]})"
            )
    return found
