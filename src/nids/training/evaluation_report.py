"""`nids evaluate` end to end: read inputs, run the protocol, write JSON/Markdown/plots, log.

Reports are written to a temporary directory and moved into place only when complete,
so a failed evaluation never leaves a half-written report behind.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nids.errors import ServiceUnavailableError
from nids.settings import Settings
from nids.training.evaluation_protocol import (
    EvaluationResult,
    Protocol,
    TrainOn,
    run_evaluation,
)
from nids.training.metrics import malicious_labels

HEADLINE = (
    ("auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("precision_at_100", "precision@100"),
    ("precision_at_k", "precision@k"),
    ("recall", "recall @ threshold"),
    ("false_positive_rate", "FPR @ threshold"),
    ("calibration_fpr", "FPR on held-out benign"),
    ("alerts_per_day", "alerts/day"),
    ("threshold", "threshold"),
)


def _clean(value: Any) -> Any:
    """JSON-safe numbers (NaN/inf become null)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(result: EvaluationResult) -> dict[str, Any]:
    """The report as a JSON-serialisable dict."""
    from nids.features import FEATURE_SET_VERSION

    return _clean(
        {
            "feature_set_version": FEATURE_SET_VERSION,
            "sources": result.sources,
            "settings": result.settings,
            "periods": result.split.periods(),
            "models": {
                name: {
                    "metrics": m.metrics,
                    "per_attack_type": m.per_attack,
                    "top_reasons_top100": m.top_reasons,
                    **m.details,
                }
                for name, m in result.models.items()
            },
            "ablation": result.ablation,
        }
    )


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4f}"


def to_markdown(result: EvaluationResult) -> str:
    """The report as Markdown (what docs/evaluation.md tables are pasted from)."""
    names = list(result.models)
    lines = [
        "# NIDS evaluation",
        "",
        f"- data: `{result.sources.get('data')}`; train: `{result.sources.get('train') or '(split of data)'}`",
        f"- protocol: {result.settings['protocol']}, fit on: {result.settings['train_on']}, "
        f"detector: {result.settings['detector']}, seed {result.settings['seed']}, "
        f"target FPR {result.settings['target_fpr']} ({result.settings['threshold_method']})",
    ]
    for part, info in result.split.periods().items():
        lines.append(f"- {part}: {info['rows']:,} flows, {info['start']} → {info['end']}")
    ours = result.models["ours"].details
    if "home_networks" in ours:
        how = "inferred from the training traffic" if ours["home_networks_inferred"] else "set"
        lines.append(f"- home networks ({how}): {', '.join(ours['home_networks'])}")
    lines += ["", "| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label in HEADLINE:
        row = [_fmt(result.models[n].metrics.get(key)) for n in names]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    kinds = sorted({k for m in result.models.values() for k in m.per_attack})
    if kinds:
        lines += ["", "## Recall per attack type", ""]
        lines += ["| attack type | flows | " + " | ".join(names) + " |"]
        lines += ["|---" * (len(names) + 2) + "|"]
        for kind in kinds:
            flows = next(
                m.per_attack[kind]["flows"] for m in result.models.values() if kind in m.per_attack
            )
            row = [_fmt(result.models[n].per_attack.get(kind, {}).get("recall")) for n in names]
            lines.append(f"| {kind} | {flows:,.0f} | " + " | ".join(row) + " |")
    reasons = result.models["ours"].top_reasons
    if reasons:
        lines += ["", "## Top reason of the 100 highest-scored test flows (ours)", ""]
        lines += [f"- `{name}`: {count}" for name, count in reasons.items()]
    if result.ablation:
        lines += ["", "## Ablation (ours without one feature group)", ""]
        cols = ["auc", "pr_auc", "precision_at_100", "recall", "false_positive_rate"]
        lines += ["| without | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        full = result.models["ours"].metrics
        lines.append(
            "| (nothing: full model) | " + " | ".join(_fmt(full.get(c)) for c in cols) + " |"
        )
        for group, metrics in result.ablation.items():
            lines.append(f"| {group} | " + " | ".join(_fmt(metrics.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def figures(result: EvaluationResult) -> dict[str, Any]:
    """ROC and PR curves of every model, and ours' scores per attack type."""
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = malicious_labels(result.split.test)
    if y is None or y.min() == y.max():
        return {}
    roc = Figure(figsize=(6, 4.5), layout="tight")
    pr = Figure(figsize=(6, 4.5), layout="tight")
    ax_roc, ax_pr = roc.add_subplot(), pr.add_subplot()
    for name, model in result.models.items():
        fpr, tpr, _ = roc_curve(y, model.scores)
        precision, recall, _ = precision_recall_curve(y, model.scores)
        auc = model.metrics.get("auc", float("nan"))
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        ax_pr.plot(recall, precision, label=f"{name} (AP {model.metrics.get('pr_auc', 0):.3f})")
    ax_roc.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test)")
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax_roc.legend(loc="lower right", fontsize=8)
    ax_pr.legend(loc="lower left", fontsize=8)
    test = result.split.test
    kinds = np.where(
        y == 1,
        test["attack_type"].astype("string").fillna("malicious").to_numpy(dtype=object)
        if "attack_type" in test.columns
        else "malicious",
        test["label"].astype("string").fillna("unknown").to_numpy(dtype=object),
    )
    ours = result.models["ours"]
    groups = sorted(set(kinds))
    box = Figure(figsize=(7, 0.4 * len(groups) + 1.8), layout="tight")
    ax = box.add_subplot()
    ax.boxplot(
        [ours.scores[kinds == g] for g in groups], orientation="horizontal", tick_labels=groups
    )
    ax.axvline(ours.threshold, color="red", linewidth=1, label="alert threshold")
    ax.set(xlabel="anomaly score (ours)", title="Scores by label / attack type (test)")
    ax.legend(fontsize=8)
    return {"roc.png": roc, "pr.png": pr, "scores_by_type.png": box}


def write_report(result: EvaluationResult, output: str | Path) -> Path:
    """Write evaluation.json, evaluation.md and plots into ``output`` (all or nothing)."""
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".evaluation-", dir=target.parent))
    try:
        (staging / "evaluation.json").write_text(json.dumps(to_json(result), indent=2) + "\n")
        (staging / "evaluation.md").write_text(to_markdown(result))
        for name, fig in figures(result).items():
            fig.savefig(staging / name, dpi=110)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def log_to_mlflow(result: EvaluationResult, report_dir: Path, settings: Settings) -> str:
    """Log the evaluation as an MLflow run (metrics per model, report as artefacts)."""
    import mlflow

    from nids.features import FEATURE_SET_VERSION
    from nids.registry.store import ensure_experiment

    experiment_id = ensure_experiment(settings)
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name="evaluate") as run:
            mlflow.set_tags(
                {
                    "nids.run_kind": "evaluation",
                    "nids.feature_set_version": FEATURE_SET_VERSION,
                    "nids.protocol": str(result.settings["protocol"]),
                }
            )
            mlflow.log_params({k: str(v) for k, v in result.settings.items()})
            metrics: dict[str, float] = {}
            for name, model in result.models.items():
                prefix = "" if name == "ours" else name.replace(":", "_") + "_"
                metrics.update({prefix + k: v for k, v in model.metrics.items()})
            for group, values in result.ablation.items():
                metrics.update({f"ablation_no_{group}_{k}": v for k, v in values.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if math.isfinite(v)})
            mlflow.log_artifacts(str(report_dir), artifact_path="evaluation")
            return str(run.info.run_id)
    except OSError as exc:
        raise ServiceUnavailableError(
            f"MLflow tracking store {settings.mlflow_tracking_uri} failed: {exc}"
        ) from exc


def evaluate_command(
    settings: Settings,
    data: str,
    *,
    train: str | None = None,
    protocol: Protocol = "temporal",
    train_on: TrainOn = "benign",
    detectors: list[str] | None = None,
    ablation: bool = False,
    model_uri: str | None = None,
    output: str | Path = "reports/evaluation",
    log: bool = True,
    console: Any = None,
) -> tuple[EvaluationResult, Path, str | None]:
    """Read ``data`` (and ``train``), evaluate, write the report, log it; rich progress."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from nids.training.trainer import load_flows

    console = console or Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("read flows", total=None)

        def stage(text: str) -> None:
            bar.update(task, description=text)

        test_df = load_flows(settings, data)
        stage("read training flows")
        train_df = load_flows(settings, train) if train else None
        scorer = None
        if model_uri:
            from nids.registry.loader import load_model

            stage(f"load {model_uri}")
            scorer = load_model(model_uri, settings).nids_model.scorer
        result = run_evaluation(
            settings,
            test_df,
            train=train_df,
            sources={"data": data, "train": train, "model_uri": model_uri},
            protocol=protocol,
            train_on=train_on,
            detectors=detectors or (),
            ablation=ablation,
            scorer=scorer,
            progress=stage,
        )
        stage("write report")
        report = write_report(result, output)
        run_id = None
        if log:
            stage("log to MLflow")
            run_id = log_to_mlflow(result, report, settings)
    return result, report, run_id


def print_summary(result: EvaluationResult, report: Path, run_id: str | None, console: Any) -> None:
    """Headline table (models side by side), then where the report and run are."""
    from rich.table import Table

    names = list(result.models)
    table = Table("metric", *names, title="Evaluation on the test period")
    for key, label in HEADLINE:
        table.add_row(label, *(_fmt(result.models[n].metrics.get(key)) for n in names))
    console.print(table)
    if result.ablation:
        abl = Table("without group", "ROC-AUC", "precision@100", title="Ablation (ours)")
        for group, metrics in result.ablation.items():
            abl.add_row(group, _fmt(metrics.get("auc")), _fmt(metrics.get("precision_at_100")))
        console.print(abl)
    console.print(f"report: {report}/evaluation.md" + (f"  MLflow run: {run_id}" if run_id else ""))
