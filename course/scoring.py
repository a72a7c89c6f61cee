"""Score a trained model from its checkpoint: the grade of lesson 05 is the model itself.

The notebook saves the trained network with :func:`save_model`; each accuracy-band cell calls
:func:`check_band` with the **student's own** ``ResNet34`` class::

    score = scoring.check_band(ResNet34, 0.90)          # scores (cached), AssertionError below 90%

which is :func:`score_checkpoint` followed by :func:`require_accuracy`, except that a notebook
run by the student (not graded) without any checkpoint yet reports "not earned yet: 0 of this
band's points, no checkpoint yet" on stderr instead of raising, so that Run All reaches the end of
the lesson while the cell still earns nothing.

Rules the grader keeps:

- **Recompute, never trust.** The accuracy is measured here, on CIFAR-10 test images; a number
  written into the checkpoint (``val_accuracy``) is shown beside it, never used.
- **Untrusted files.** Checkpoints are read with ``torch.load(weights_only=True)``: tensors,
  numbers, strings, lists and dicts only; a pickle that would run code is refused.
- **The student's architecture.** Weights are loaded strictly into ``model_class(num_classes,
  stem=...)``: weights that do not fit the class (missing keys, wrong shapes) score 0 with a
  message naming the first mismatches.
- **Never crash the batch.** A missing checkpoint, missing data, an unreadable file or a class
  that raises: :func:`score_checkpoint` returns a :class:`Score` with ``ok=False`` and a message;
  :func:`require_accuracy` turns that into a failing test (zero for that cell), nothing more.

Where the test images come from (:func:`data_root`): ``$COURSE_DATA`` if set, else the first
of ``./data`` and ``~/.cache/course`` holding ``cifar-10-batches-py``. ``$COURSE_SCORE_N``
(default 1000; ``all`` for the whole test set) sets how many test images are scored: the first N
of ``test_batch``, which is already in random order. At N = 1000 a true accuracy of 94% reads
within about +-1.5% (two standard errors), and ResNet-34 scores it in under a minute on a CPU
(37 s measured on one thread of a busy 2-core machine; nbgrader's cell limit here is 120 s).
On the synthetic stand-in (``course data fake``) every message says so.
"""

from __future__ import annotations

import math
import os
import struct
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course import checks, colab, data, progress, runtime, train

__all__ = [
    "CHECKPOINT_PATH",
    "DATA_ENV",
    "N_ENV",
    "DEFAULT_N",
    "BANDS",
    "Score",
    "ScoringError",
    "data_root",
    "score_n",
    "save_model",
    "read_checkpoint",
    "score_checkpoint",
    "require_accuracy",
    "check_band",
    "band_points",
]

CHECKPOINT_PATH = Path("checkpoints") / "resnet34_cifar10.pt"  # relative to the notebook
DATA_ENV = data.DATA_ENV
N_ENV = "COURSE_SCORE_N"
DEFAULT_N = 1000
MAX_DECODED_MB = 200  # a checkpoint's records together (staging leaves out larger files anyway)
MAX_RECORDS = 10_000  # a ResNet-34 checkpoint has ~250
# grade id suffix -> minimum test accuracy. One nbgrader test cell per band: a cell is pass/fail,
# so partial credit is several cells (75% earns the first, 94% earns all four).
BANDS = {"acc75": 0.75, "acc85": 0.85, "acc90": 0.90, "acc94": 0.94}
_REQUIRED_META = ("arch", "stem", "mean", "std", "classes")


class ScoringError(RuntimeError):
    """A checkpoint or the data cannot be scored; the message says what to do.

    Lessons: none directly (:func:`read_checkpoint` raises it; :func:`score_checkpoint` turns it
    into a message).
    """


# --------------------------------------------------------------------------------------------
# where: data root and sample size
# --------------------------------------------------------------------------------------------


data_root = data.data_root  # one convention for every lesson: see course.data.data_root


def score_n() -> int | None:
    """Test images to score: ``$COURSE_SCORE_N`` (``all`` or ``0`` -> every one), default 1000.

    Lessons: none directly (``$COURSE_SCORE_N`` for :func:`score_checkpoint`, lesson 05).
    """
    raw = os.environ.get(N_ENV, "").strip().lower()
    if not raw:
        return DEFAULT_N
    if raw in {"all", "0"}:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ScoringError(f"${N_ENV}={raw!r} is not a number (or 'all').") from None
    if n < 0:
        raise ScoringError(f"${N_ENV} must be positive, got {n}.")
    return n


# --------------------------------------------------------------------------------------------
# the artifact: save and read
# --------------------------------------------------------------------------------------------


def _floats3(values, name: str) -> list[float]:
    vals = [float(v) for v in (values.tolist() if torch.is_tensor(values) else values)]
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise ScoringError(f"{name} must be 3 finite numbers (one per RGB channel), got {vals}.")
    return vals


def save_model(
    model: torch.nn.Module,
    path: str | os.PathLike = CHECKPOINT_PATH,
    *,
    stem: str,
    mean: Sequence[float] | torch.Tensor,
    std: Sequence[float] | torch.Tensor,
    classes: Sequence[str],
    epochs: int,
    val_accuracy: float | None,
    arch: str = "ResNet34",
    **extra,
) -> Path:
    """Save ``model`` as the graded artifact: weights plus what it takes to use them.

    Written (atomically) by :func:`course.train.save_checkpoint`, the file holds ``model`` (the
    state_dict; the grader maps it to the CPU), ``model_class``, ``arch``, ``stem``,
    ``num_classes``, ``mean``, ``std`` (normalisation, pixel scale [0, 1]), ``classes``,
    ``epochs``, ``val_accuracy``, ``torch_version``, ``date`` and any ``extra`` (e.g.
    ``recipe=dict(...)``): plain types only, so it loads with ``torch.load(weights_only=True)``.
    ResNet-34 in float32 is about 85 MB, under nbgrader's default 100 MB limit per submitted file.

    Lessons: 05_resnet34_cifar10.
    """
    std3 = _floats3(std, "std")
    if min(std3) <= 0:
        raise ScoringError(f"std must be positive, got {std3}.")
    saved = train.save_checkpoint(  # atomic: a crash never leaves half a file at the graded path
        path,
        model,
        arch=str(arch),
        stem=str(stem),
        num_classes=len(classes),
        mean=_floats3(mean, "mean"),
        std=std3,
        classes=[str(c) for c in classes],
        epochs=int(epochs),
        val_accuracy=None if val_accuracy is None else float(val_accuracy),
        **extra,
    )
    colab.tell_how_to_hand_in(saved)  # on Google Colab only: download it, hand it in
    return saved


class ArchiveError(Exception):
    """A checkpoint file the grader refuses to decode (with what to do about it).

    Lessons: none (read_checkpoint calls it first: the check the grader relies on).
    """


def check_archive(path: str | Path, max_mb: int = MAX_DECODED_MB) -> None:
    """Refuse, from the zip's own directory and before anything is decompressed or allocated,
    a checkpoint that would make the reader hold more than ``max_mb``: a file over the cap,
    not a ``torch.save`` zip archive (the legacy format declares storage sizes the loader
    allocates first), more than :data:`MAX_RECORDS` records, or any compressed record (a zip
    bomb: ``torch.save`` stores records uncompressed, so what is decoded is at most the
    file's own size). Raises :class:`ArchiveError`.

    Lessons: none (read_checkpoint calls it first: the check the grader relies on).
    """
    path = Path(path)
    limit = max_mb * 2**20
    size = path.stat().st_size
    if size > limit:
        raise ArchiveError(f"the file is {size / 2**20:,.0f} MB (the limit is {max_mb} MB)")
    with open(path, "rb") as fh:
        end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # the end record only: 22 bytes + the comment
        if not end:
            raise ArchiveError(
                "it is not a torch.save zip archive; save it with course.scoring.save_model"
            )
        records = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]
        if records > MAX_RECORDS:
            raise ArchiveError(f"it has {records:,} records (the limit is {MAX_RECORDS:,})")
        try:
            infos = zipfile.ZipFile(fh).infolist()
        except (zipfile.BadZipFile, struct.error, ValueError, OSError) as exc:
            raise ArchiveError(f"its zip directory is unreadable ({exc})") from None
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise ArchiveError(
                f"record {info.filename[:80]!r} is compressed ({info.compress_size:,} bytes "
                f"declared to expand to {info.file_size:,}); torch.save never compresses: save "
                "it with course.scoring.save_model"
            )
        total += info.file_size
    if total > min(size, limit):
        raise ArchiveError(f"its records declare {total:,} bytes in a {size:,}-byte file")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a graded checkpoint safely (``weights_only=True``) and check its fields.

    Raises :class:`ScoringError` with a message for the student when it is missing, unreadable
    (including pickles that are not plain data) or lacks a field.

    Lessons: none directly (:func:`score_checkpoint` reads lesson 05's checkpoint with it).
    """
    path = Path(path)
    if not path.is_file():
        raise ScoringError(
            f"No checkpoint at {path}. Train the model on a GPU (Part 4) and run the cell that "
            "saves it; submit the checkpoints/ folder together with the notebook."
        )
    try:
        check_archive(path)  # sizes from the zip's headers, before decoding
    except (ArchiveError, OSError) as err:
        raise ScoringError(
            f"Could not read {path} as plain weights (refused before decoding: {err}). Save it "
            "with course.scoring.save_model."
        ) from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated file, not a checkpoint, unsafe pickle
        first = str(err).strip().split("\n", 1)[0][:300]
        raise ScoringError(
            f"Could not read {path} as plain weights ({type(err).__name__}: {first}). Save it "
            "with course.scoring.save_model: tensors, numbers, strings, lists and dicts only."
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ScoringError(
            f"{path} is not a course checkpoint (expected a dict with a 'model' state_dict); "
            "save it with course.scoring.save_model."
        )
    missing = [k for k in _REQUIRED_META if k not in checkpoint]
    if missing:
        raise ScoringError(f"{path} lacks {missing}; save it with course.scoring.save_model.")
    checkpoint["mean"] = _floats3(checkpoint["mean"], "mean")
    checkpoint["std"] = _floats3(checkpoint["std"], "std")
    if min(checkpoint["std"]) <= 0:
        raise ScoringError(f"{path}: std must be positive, got {checkpoint['std']}.")
    if checkpoint["stem"] not in ("cifar", "imagenet"):
        raise ScoringError(
            f"{path}: stem must be 'cifar' or 'imagenet', got {checkpoint['stem']!r}."
        )
    return checkpoint


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


@dataclass
class Score:
    """The outcome of scoring one checkpoint. ``ok=False``: it could not be scored (see message).

    Lessons: none directly (what :func:`score_checkpoint` returns in lesson 05).
    """

    ok: bool
    accuracy: float = 0.0
    n: int = 0
    dataset: str = ""
    message: str = ""
    path: str = ""
    reported_val_accuracy: float | None = None
    num_params: int = 0
    meta: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.ok:
            return f"not scored: {self.message}"
        reported = (
            f" (the checkpoint reports val accuracy {self.reported_val_accuracy:.2%}; not used)"
            if self.reported_val_accuracy is not None
            else ""
        )
        return (
            f"test accuracy {self.accuracy:.2%} on {self.n:,} {self.dataset} test images{reported}"
        )


_CACHE: dict[tuple, Score] = {}


def _mismatch_message(model: torch.nn.Module, state: dict, name: str) -> str | None:
    """None if ``state`` fits ``model`` exactly, else what differs (first few of each kind)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs your model {tuple(own[k].shape)}"
        for k in own
        if k in state and torch.is_tensor(state[k]) and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    if missing:
        parts.append(
            f"{len(missing)} key(s) your {name} has but the checkpoint lacks: {missing[:4]}"
        )
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) in the checkpoint: {unexpected[:4]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatch(es): {shapes[:3]}")
    return (
        f"the checkpoint does not fit your {name}: "
        + "; ".join(parts)
        + ". The weights must come from this notebook's architecture: rebuild, retrain, re-save."
    )


def _test_images(root: Path, n: int | None):
    try:
        images, labels = data.load_cifar10(root, "test")
        name = data.dataset_name(root)
    except data.DataError as err:
        raise ScoringError(
            f"No CIFAR-10 test data to score with at {root.resolve()}: set ${DATA_ENV} to the "
            f"folder holding cifar-10-batches-py (or run `course data download --data {root}`). "
            f"({str(err).split('.')[0]}.)"
        ) from None
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images, labels, name


@torch.inference_mode()
def _accuracy(model, images, labels, mean, std, batch_size: int, device) -> float:
    """Top-1 accuracy of ``model`` (eval mode, fp32) on uint8 ``images`` normalised by mean/std."""
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    correct = 0
    for i in range(0, len(labels), batch_size):
        X = (images[i : i + batch_size].to(device).float() / 255 - mean_t) / std_t
        logits = model(X)
        if not torch.is_tensor(logits) or logits.shape != (len(X), 10):
            got = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
            raise ScoringError(
                f"the model should return logits of shape ({len(X)}, 10), got {got}."
            )
        correct += int((logits.argmax(1).cpu() == labels[i : i + batch_size]).sum())
    return correct / len(labels)


def score_checkpoint(
    model_class,
    path: str | os.PathLike = CHECKPOINT_PATH,
    *,
    root: str | os.PathLike | None = None,
    n: int | None | str = "env",
    device: str | torch.device = "cpu",
    batch_size: int = 250,
    use_cache: bool = True,
) -> Score:
    """Load ``path`` into ``model_class`` and measure its test accuracy; never raises.

    ``model_class(num_classes=10, stem=<the checkpoint's stem>)`` is built, the weights loaded
    strictly, the model put in eval mode and run in float32 on the first ``n`` test images of
    ``root`` (defaults: :func:`score_n`, :func:`data_root`), normalised with the checkpoint's
    own mean/std. Results are cached per (file, size, mtime, class, data, n): the four band
    cells of a notebook evaluate the model once.

    Under ``course grade`` the grader answers instead (``checks.grading_hooks``): it loads the
    file as handed in, before any of the student's code ran, into the *course's* ResNet34;
    ``model_class`` (the student's) is not used.

    Lessons: none directly (lesson 05's band cells call it through :func:`check_band`).
    """
    hook = checks.grading_hooks.get("score_checkpoint") if checks.grading_hooks else None
    if hook is not None:
        return hook(path, n=n, device=device, batch_size=batch_size)
    path = Path(path)
    try:
        n_images = score_n() if n == "env" else n
        root_path = Path(root) if root is not None else data_root()
    except ScoringError as err:
        return Score(False, message=str(err), path=str(path))
    try:
        stat = path.stat()
        file_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        file_key = (str(path.resolve()), None, None)
    key = (file_key, model_class, str(root_path.resolve()), n_images, str(device))
    if use_cache and key in _CACHE:
        return _CACHE[key]
    score = _score(model_class, path, root_path, n_images, device, batch_size)
    if use_cache:
        _CACHE[key] = score
    return score


def _score(model_class, path: Path, root: Path, n, device, batch_size) -> Score:
    name = getattr(model_class, "__name__", "model")
    try:
        checkpoint = read_checkpoint(path)
    except ScoringError as err:
        return Score(False, message=str(err), path=str(path))
    reported = checkpoint.get("val_accuracy")
    reported = float(reported) if isinstance(reported, int | float) else None
    meta = {k: v for k, v in checkpoint.items() if k not in ("model", "optimizer", "scheduler")}
    base = dict(path=str(path), reported_val_accuracy=reported, meta=meta)
    num_classes = int(checkpoint.get("num_classes", len(checkpoint["classes"])))
    if num_classes != 10:
        return Score(
            False, message=f"expected a 10-class model, the checkpoint has {num_classes}.", **base
        )
    try:
        model = model_class(num_classes=10, stem=checkpoint["stem"])
    except NotImplementedError:
        return Score(
            False,
            message=f"your {name} raises NotImplementedError: finish that exercise first.",
            **base,
        )
    except Exception as err:  # noqa: BLE001 - the student's code may raise anything
        return Score(
            False,
            message=f"{name}(num_classes=10, stem={checkpoint['stem']!r}) raised "
            f"{type(err).__name__}: {err}",
            **base,
        )
    if not isinstance(model, torch.nn.Module):
        return Score(False, message=f"{name}(...) did not build an nn.Module.", **base)
    state = train.plain_state_dict(checkpoint["model"])  # compiled / DDP keys made plain
    problem = _mismatch_message(model, state, name)
    if problem:
        return Score(False, message=problem, **base)
    try:
        model.load_state_dict(state, strict=True)
        model.to(device).float().eval()
        images, labels, dataset = _test_images(root, n)
        accuracy = _accuracy(
            model, images, labels, checkpoint["mean"], checkpoint["std"], batch_size, device
        )
    except ScoringError as err:
        return Score(False, message=str(err), **base)
    except Exception as err:  # noqa: BLE001 - forward of the student's model
        first = str(err).strip().split("\n", 1)[0][:300]
        return Score(
            False, message=f"evaluating the model raised {type(err).__name__}: {first}", **base
        )
    num_params = sum(p.numel() for p in model.parameters())
    return Score(True, accuracy, len(labels), dataset, "", num_params=num_params, **base)


def require_accuracy(score: Score, threshold: float) -> None:
    """Pass if ``score`` is at least ``threshold``; otherwise an AssertionError for the student.

    Lessons: none directly (lesson 05's band cells call it through :func:`check_band`).
    """
    if not isinstance(score, Score):
        raise progress.as_message_only(
            AssertionError(f"expected a course.scoring.Score, got {type(score).__name__}")
        )
    if not score.ok:
        raise progress.as_message_only(
            AssertionError(f"Checkpoint not scored (0 points for this band): {score.message}")
        )
    if score.accuracy < threshold:
        if score.dataset == data.SYNTHETIC_NAME:
            hint = (
                "these test images are the SYNTHETIC stand-in (no CIFAR-10 was found), on which "
                "a model trained on CIFAR-10 scores at chance: put CIFAR-10 where "
                f"${DATA_ENV} (or ./data) points and run the grade cells again."
            )
        else:
            hint = (
                "train with the full recipe on a GPU (Part 4); check the normalisation saved "
                "with the model equals the one it was trained with."
            )
        raise progress.as_message_only(
            AssertionError(
                f"Recomputed test accuracy {score.accuracy:.2%} on {score.n:,} {score.dataset} test "
                f"images is below this band's {threshold:.0%}.\n  Hint: {hint}"
            )
        )


def check_band(model_class, threshold: float, path: str | os.PathLike = CHECKPOINT_PATH) -> Score:
    """One accuracy-band cell of lesson 05: score ``path`` with ``model_class`` and require
    ``threshold``; returns the :class:`Score`.

    - a checkpoint exists: prints the score and fails (``AssertionError``) below ``threshold``;
    - no checkpoint, notebook run by the student: writes "not earned yet: 0 of this band's
      points, no checkpoint yet ..." on stderr (the cell earns nothing, by nbgrader's rule and the
      progress table's) and returns the (not ok) score without raising, so that Run All completes;
    - no checkpoint while grading (:func:`course.runtime.is_grading`, or ``course grade``, whose
      grader answers :func:`score_checkpoint` from the file as handed in): fails like any other test.

    Lessons: 05_resnet34_cifar10 (its four accuracy-band cells).
    """
    score = score_checkpoint(model_class, path)
    graded = (
        runtime.is_grading() or checks.grading_hooks is not None
    )  # course grade: always a verdict
    if not graded and not Path(path).is_file():
        # on stderr: nbgrader's rule (and so the progress table's) counts the cell as not earned
        print(
            f"{progress.NOT_EARNED}: 0 of this band's points, no checkpoint yet (train on a GPU "
            f"in Part 4 and keep {Path(path).as_posix()} beside the notebook)",
            file=sys.stderr,
        )
        return score
    print(score)
    require_accuracy(score, threshold)
    return score


def band_points(accuracy: float | None, bands: dict[str, float] = BANDS) -> int:
    """How many bands ``accuracy`` reaches (0..len(bands)); ``None`` (not scored) is 0.

    Lessons: none directly (the gradebook counts lesson 05's bands with it).
    """
    if accuracy is None:
        return 0
    return sum(accuracy >= t for t in bands.values())
