"""The shipped model's metrics (``model/mnist_cnn.json``) and its card, generated from them.

The numbers about ``model/mnist_cnn.keras`` (how it was trained, how well it did) live in one
JSON file beside it; ``model/MODEL_CARD.md`` is text made from that file, so that the two cannot
disagree and nothing has to parse the card's prose. Chapter 9b's full run writes both with
:func:`write_metrics`; after editing the JSON by hand, regenerate the card with::

    python -m mnist_helpers.model_card
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import textwrap
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .checks import check_integer, check_real, check_text
from .inference import DEFAULT_MODEL
from .results import ResultsFormatError, _check  # _check: the results files' field checker, naming the file

METRICS_FILE = DEFAULT_MODEL.with_suffix(".json")
"""The shipped model's metrics, beside it."""
CARD_FILE = DEFAULT_MODEL.parent / "MODEL_CARD.md"
"""The model card, generated from ``METRICS_FILE``."""


@dataclass(frozen=True)
class ModelMetrics:
    """How the shipped model was trained and how well it did (the fields of ``mnist_cnn.json``)."""

    notebook: str
    """The notebook whose full run trained it, e.g. ``"notebooks/09b_choosing_the_cnn.ipynb"``."""
    date: str
    """When it was trained (ISO date)."""
    test_accuracy: float
    test_errors: int
    test_images: int
    train_images: int
    epochs: int
    batch_size: int
    recipe: str
    """Optimizer, schedule and augmentation, in words."""
    seed: int
    params: int
    train_seconds: float
    cpus: int
    """CPU cores of the machine that measured ``train_seconds``."""
    keras: str
    """Keras version."""
    validation_images: int
    """Training images held out in the runs that chose the recipe."""
    validation_accuracy: float
    """The recipe's mean validation accuracy over the seeds that chose it."""
    seeds: int | None = None
    """How many models of the same recipe were trained and tested (this one is seed ``seed``)."""
    seed_mean_test_accuracy: float | None = None
    seed_sd_test_accuracy: float | None = None
    seed_min_test_accuracy: float | None = None
    seed_max_test_accuracy: float | None = None


OPTIONAL = ("seeds", "seed_mean_test_accuracy", "seed_sd_test_accuracy", "seed_min_test_accuracy",
            "seed_max_test_accuracy")
"""The seed statistics: all present (a run over several seeds) or all absent."""


def check_metrics(data, source: str = "metrics") -> ModelMetrics:
    """Check decoded metrics and return them; ``source`` names them in the messages.

    Raises
    ------
    ResultsFormatError
        A missing, unknown or bad field, or a test accuracy that does not match the error count.
    """
    names = [f.name for f in fields(ModelMetrics)]
    if not isinstance(data, dict):
        raise ResultsFormatError(f"{source}: expected an object with {', '.join(names)}, got {type(data).__name__}")
    present = [key for key in OPTIONAL if data.get(key) is not None]
    required = [name for name in names if name not in OPTIONAL] + (list(OPTIONAL) if present else [])
    missing = [name for name in required if name not in data or (name in OPTIONAL and data[name] is None)]
    unknown = [key for key in data if key not in names]
    if missing or unknown:
        raise ResultsFormatError(f"{source}: missing {missing}, unknown {unknown}: the fields are {', '.join(names)} "
                                 f"(the seed statistics all or none)")
    texts = {key: _check(check_text, data[key], key, source) for key in ("notebook", "date", "recipe", "keras")}
    try:
        datetime.date.fromisoformat(texts["date"])
    except ValueError:
        raise ResultsFormatError(f"{source}: date={texts['date']!r} must be an ISO date like '2026-11-25'") from None
    counts = {key: _check(check_integer, data[key], key, source, low=0)
              for key in ("test_errors", "seed", "cpus")}
    counts.update({key: _check(check_integer, data[key], key, source, low=1)
                   for key in ("test_images", "train_images", "epochs", "batch_size", "params", "validation_images")})
    seed_stats = {}
    if present:
        seed_stats["seeds"] = _check(check_integer, data["seeds"], "seeds", source, low=2)
        seed_stats.update({key: _check(check_real, data[key], key, source, low=0.0, high=1.0)
                           for key in OPTIONAL[1:]})
        low, high = seed_stats["seed_min_test_accuracy"], seed_stats["seed_max_test_accuracy"]
        if not low <= seed_stats["seed_mean_test_accuracy"] <= high or not low <= data["test_accuracy"] <= high:
            raise ResultsFormatError(f"{source}: the seed mean and this model's test_accuracy must lie between "
                                     f"seed_min_test_accuracy={low} and seed_max_test_accuracy={high}")
    metrics = ModelMetrics(
        **texts, **counts, **seed_stats,
        test_accuracy=_check(check_real, data["test_accuracy"], "test_accuracy", source, low=0.0, high=1.0,
                               hint=" (a fraction, not a percentage)"),
        train_seconds=_check(check_real, data["train_seconds"], "train_seconds", source, low=0.0),
        validation_accuracy=_check(check_real, data["validation_accuracy"], "validation_accuracy", source, low=0.0, high=1.0,
                                     hint=" (a fraction, not a percentage)"),
    )
    # Both come from the same predictions: a mismatch means one of them was copied wrong.
    implied = 1 - metrics.test_errors / metrics.test_images
    if abs(metrics.test_accuracy - implied) > 5e-5:
        raise ResultsFormatError(f"{source}: test_accuracy={metrics.test_accuracy} but {metrics.test_errors} errors "
                                 f"in {metrics.test_images:,} images make {implied:.4f}: fix one of them")
    return metrics


def read_metrics(path: str | os.PathLike = METRICS_FILE) -> ModelMetrics:
    """Read and check a metrics file (by default the shipped model's)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path}: not valid JSON ({exc}): fix the file") from None
    return check_metrics(data, str(path))


def model_card(metrics: ModelMetrics) -> str:
    """The Markdown model card of the shipped model, from its metrics."""
    m = metrics
    everything = "all " if m.train_images == 60000 else ""
    about = textwrap.fill(
        f"The final CNN of chapters 9 and 9b (`mnist_helpers.cnn.build_final_cnn`, {m.params:,} parameters), "
        f"trained by `{m.notebook}` in full mode on {everything}{m.train_images:,} MNIST training images "
        f"({m.epochs} epochs, {m.recipe}; seed {m.seed}) on {m.date}. "
        f"The recipe was chosen on runs with {m.validation_images:,} training images held out "
        f"for validation (mean accuracy {m.validation_accuracy:.4f} on them over the seeds that chose it).",
        width=100, break_on_hyphens=False)
    seeds_line = "" if m.seeds is None else (
        f"\n- the same recipe over {m.seeds} seeds: {m.seed_mean_test_accuracy:.4f} ± {m.seed_sd_test_accuracy:.4f} "
        f"(min {m.seed_min_test_accuracy:.4f}, max {m.seed_max_test_accuracy:.4f}); this model is seed {m.seed}, "
        "fixed before training" + ("; it happens to score highest of them" if m.test_accuracy >= m.seed_max_test_accuracy
                                   else ", not chosen for its score"))
    return f"""\
# {DEFAULT_MODEL.name}

<!-- Generated from {METRICS_FILE.name} by `python -m mnist_helpers.model_card`: edit that file, not this one. -->

{about}

- MNIST test accuracy: {m.test_accuracy:.4f} ({m.test_errors} errors in {m.test_images:,}){seeds_line}
- training time: {m.train_seconds / 60:.1f} min on a {m.cpus}-core CPU
- Keras {m.keras}

Input: uint8 images of shape (n, 28, 28), white ink on black, prepared like MNIST
(`mnist_helpers.predict.preprocess_image` does it for any image). Output: probabilities of shape (n, 10).
"""


def write_metrics(metrics: ModelMetrics | dict, path: str | os.PathLike = METRICS_FILE) -> Path:
    """Check ``metrics``, write them to ``path`` and the model card beside it; return ``path``.

    Accuracies are written to 4 decimals and seconds to 0.1 s, as in the results files.
    """
    path = Path(path)
    # Checked again even as ModelMetrics: the dataclass itself does not check its fields.
    metrics = check_metrics(asdict(metrics) if isinstance(metrics, ModelMetrics) else metrics, str(path))
    metrics = replace(metrics, test_accuracy=round(metrics.test_accuracy, 4),
                      train_seconds=round(metrics.train_seconds, 1),
                      validation_accuracy=round(metrics.validation_accuracy, 4),
                      **{key: round(getattr(metrics, key), 4) for key in OPTIONAL[1:] if getattr(metrics, key) is not None})
    data = {key: value for key, value in asdict(metrics).items() if not (key in OPTIONAL and value is None)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf8")
    (path.parent / CARD_FILE.name).write_text(model_card(metrics), encoding="utf8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Regenerate ``MODEL_CARD.md`` from ``mnist_cnn.json`` (the shipped model's)."""
    argparse.ArgumentParser(prog="python -m mnist_helpers.model_card",
                            description=f"Regenerate {CARD_FILE} from {METRICS_FILE.name}.").parse_args(argv)
    try:
        metrics = read_metrics(METRICS_FILE)
    except (OSError, ResultsFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    CARD_FILE.write_text(model_card(metrics), encoding="utf8")
    print(f"wrote {CARD_FILE} from {METRICS_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
