"""CIFAR-10, one path: download -> verify -> read uint8 -> tensor -> normalise -> augment -> batch.

Each step is one named function, used the same way by training, evaluation, notebooks and tests::

    download_cifar10("data")                              # fetch + md5 + safe extract (once)
    images, labels = load_cifar10("data", "train")       # uint8 (N, 3, 32, 32), int64 (N,)
    train_loader = CifarLoader(images, labels, batch_size=512, train=True)
    for X, y in train_loader:                             # X: (B, 3, 32, 32) float on the device
        ...

Machines without internet (CI, offline graders) use :func:`make_fake_cifar10`: a small archive in
exactly the CIFAR-10 python format, with learnable synthetic images. It is always labelled
synthetic (``batches.meta[b"synthetic"] is True``); :func:`is_synthetic` and
:func:`dataset_name` let anything that displays data say so.

The loader follows airbench94: the whole split lives on the device, normalised once; every batch
is a ``randperm`` slice, augmented with batched tensor ops (random crop + horizontal flip, no
per-sample Python), so the same code runs on CPU and GPU.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from course import runtime
from course.errors import CourseError

__all__ = [
    "DATA_ENV",
    "data_root",
    "CIFAR10_URL",
    "CIFAR10_MD5",
    "ARCHIVE_NAME",
    "FOLDER_NAME",
    "CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "SYNTHETIC_NAME",
    "DataError",
    "download_cifar10",
    "load_cifar10",
    "is_synthetic",
    "dataset_name",
    "make_fake_cifar10",
    "CifarLoader",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
META_FILE = "batches.meta"
ALL_FILES = (*TRAIN_FILES, *TEST_FILES, META_FILE)

# Label order as in batches.meta of the official archive.
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

# Per-channel mean/std of the 50,000 CIFAR-10 training images, pixel values in [0, 1].
# Source: COURSE_SPEC.md (lesson 05), the widely reported values for the training set. Lesson 05
# has students compute them (`channel_stats`); the library only cites them, as a default.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

DATA_ENV = "COURSE_DATA"  # where graders and tests point every lesson at one shared copy
SYNTHETIC_NAME = "SYNTHETIC stand-in, not CIFAR-10"


class DataError(CourseError, RuntimeError):
    """Data missing, corrupt or unreachable; the message says what to do.

    Lessons: 05_resnet34_cifar10.
    """


# --------------------------------------------------------------------------------------------
# download -> verify -> extract
# --------------------------------------------------------------------------------------------


def _md5(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_hint(root: Path, md5: str | None) -> str:
    where = (root / ARCHIVE_NAME).resolve()
    check = f" (md5 {md5})" if md5 else ""
    return (
        f"Download {CIFAR10_URL} by hand on a machine with internet and copy it to {where}{check}; "
        f"then run `course data download --data {root}` or `download_cifar10({str(root)!r})` again: "
        "it verifies and extracts it without network. Without CIFAR-10 at all, "
        f"`course data fake --data {root}` writes a small {SYNTHETIC_NAME}."
    )


def _folder_ok(folder: Path) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in ALL_FILES)


def _fetch(url: str, dest_dir: Path, md5: str | None, progress: bool, timeout: float) -> Path:
    """Stream ``url`` into a temporary file in ``dest_dir``; return it once its md5 matches."""
    from tqdm.auto import tqdm

    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{ARCHIVE_NAME}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "resnet-course"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=ARCHIVE_NAME,
                    disable=not progress,
                ) as bar:
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
    except (TimeoutError, urllib.error.URLError, ConnectionError) as err:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"Could not download CIFAR-10 from {url}: {err}. {_manual_hint(dest_dir, md5)}"
        ) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    got = digest.hexdigest()
    if md5 is not None and got != md5:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"Downloaded {url} but its md5 is {got}, expected {md5} (truncated or corrupt "
            f"transfer). Nothing was kept; run the download again. {_manual_hint(dest_dir, md5)}"
        )
    return tmp


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's members, refusing anything that could write outside FOLDER_NAME."""
    members = tar.getmembers()
    for m in members:
        parts = Path(m.name).parts
        if m.name.startswith(("/", "\\")) or ".." in parts or not parts or parts[0] != FOLDER_NAME:
            raise DataError(f"{archive}: refusing to extract unexpected path {m.name!r}.")
        if not (m.isfile() or m.isdir()):
            raise DataError(f"{archive}: refusing to extract link or special file {m.name!r}.")
    return members


def _extract(archive: Path, root: Path) -> Path:
    """Extract into a temporary folder in ``root``, check it, then rename it into place."""
    folder = root / FOLDER_NAME
    tmp_dir = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = _safe_members(tar, archive)
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp_dir, members=members, **kwargs)
        except DataError:
            raise
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DataError(
                f"{archive} is corrupt or truncated ({type(err).__name__}: {err}). Delete it and "
                f"run the download again. {_manual_hint(root, None)}"
            ) from err
        extracted = tmp_dir / FOLDER_NAME
        if not _folder_ok(extracted):
            missing = [n for n in ALL_FILES if not (extracted / n).is_file()]
            raise DataError(f"{archive} is not a CIFAR-10 python archive: missing {missing}.")
        if folder.exists():  # an incomplete folder from an older, non-atomic copy
            shutil.rmtree(folder)
        os.replace(extracted, folder)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return folder


def download_cifar10(
    root: str | os.PathLike = "data",
    url: str = CIFAR10_URL,
    md5: str | None = CIFAR10_MD5,
    *,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Make ``root/cifar-10-batches-py`` exist and be complete; return its path.

    1. Already extracted (all seven files present): nothing to do.
    2. ``root/cifar-10-python.tar.gz`` present (e.g. copied by hand): verify its md5, extract.
    3. Otherwise stream ``url`` into a temporary file in ``root`` (tqdm bar), verify the md5,
       rename it to ``root/cifar-10-python.tar.gz``, extract.

    Extraction goes to a temporary folder and is renamed into place only when complete; members
    with absolute paths, ``..``, links or anything outside ``cifar-10-batches-py/`` are refused.
    ``md5=None`` skips verification (only for trusted mirrors). Every failure raises
    :class:`DataError` and leaves nothing half-written behind, so a retry starts clean.

    Lessons: 05_resnet34_cifar10.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / FOLDER_NAME
    if _folder_ok(folder):
        return folder

    archive = root / ARCHIVE_NAME
    if archive.exists():
        got = _md5(archive)
        if md5 is not None and got != md5:
            raise DataError(
                f"{archive} has md5 {got}, expected {md5}: it is incomplete or a different file. "
                f"Delete it (the download then starts afresh) or replace it. {_manual_hint(root, md5)}"
            )
    else:
        tmp = _fetch(url, root, md5, progress, timeout)
        os.replace(tmp, archive)
    return _extract(archive, root)


# --------------------------------------------------------------------------------------------
# read uint8 -> tensor
# --------------------------------------------------------------------------------------------


def _folder(root: str | os.PathLike) -> Path:
    """Accept either the parent folder or ``cifar-10-batches-py`` itself."""
    root = Path(root)
    return root if root.name == FOLDER_NAME else root / FOLDER_NAME


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        root = path.parent.parent
        raise DataError(
            f"CIFAR-10 file {path} not found. Run `course data download --data {root}` (or "
            f"`course.data.download_cifar10({str(root)!r})`), or place {ARCHIVE_NAME} in {root} "
            f"and run it again. Offline: `course data fake --data {root}` writes a {SYNTHETIC_NAME}."
        )
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as err:  # truncated, not a pickle, ...
        raise DataError(
            f"{path} is not a readable CIFAR-10 batch ({type(err).__name__}: {err}). Delete the "
            f"folder {path.parent} and run `download_cifar10` again."
        ) from err
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(batch).__name__}.")
    return batch


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    if b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path}: missing b'data' or b'labels' (keys: {sorted(batch)}).")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: b'data' should be uint8 (n, 3072), got {data.dtype} {data.shape}."
        )
    if labels.shape != (data.shape[0],) or (
        labels.size and not 0 <= labels.min() <= labels.max() < 10
    ):
        raise DataError(f"{path}: b'labels' should be {data.shape[0]} integers in 0..9.")
    return data, labels


def load_cifar10(
    root: str | os.PathLike = "data", split: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split from the pickles: ``images`` uint8 (N, 3, 32, 32), ``labels`` int64 (N,).

    ``split`` is ``"train"`` (data_batch_1..5, N = 50,000) or ``"test"`` (test_batch, 10,000).
    ``root`` is the folder holding ``cifar-10-batches-py`` (or that folder itself).

    Lessons: 04_inception, 05_resnet34_cifar10 (and through :mod:`course.experiments.degradation`, lesson
    02).
    """
    files = {"train": TRAIN_FILES, "test": TEST_FILES}.get(split)
    if files is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    folder = _folder(root)
    parts = [_read_batch(folder / name) for name in files]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    images = torch.from_numpy(data).reshape(-1, 3, 32, 32)  # rows are R, G, B planes of 32x32
    return images, torch.from_numpy(labels)


def data_root() -> Path:
    """The folder holding ``cifar-10-batches-py``: ``$COURSE_DATA``, ``./data`` or ``~/.cache/course``.

    ``$COURSE_DATA`` wins when set (graders and the test suite point it at a shared copy).
    Otherwise the first candidate that holds the extracted data; if none does, ``./data`` (where
    a download goes). Every lesson finds its data through this one function.

    Lessons: 04_inception, 05_resnet34_cifar10 (05 as ``scoring.data_root``).
    """
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    candidates = [Path("data"), Path.home() / ".cache" / "course"]
    for cand in candidates:
        if (cand / FOLDER_NAME / "test_batch").is_file():
            return cand
    return candidates[0]


def is_synthetic(root: str | os.PathLike = "data") -> bool:
    """True when ``root`` holds the generated stand-in of :func:`make_fake_cifar10`.

    Lessons: 05_resnet34_cifar10.
    """
    return bool(_unpickle(_folder(root) / META_FILE).get(b"synthetic", False))


def dataset_name(root: str | os.PathLike = "data") -> str:
    """``"CIFAR-10"``, or ``SYNTHETIC_NAME`` for the stand-in: use it in every plot title.

    Lessons: 04_inception, 05_resnet34_cifar10.
    """
    return SYNTHETIC_NAME if is_synthetic(root) else "CIFAR-10"


# --------------------------------------------------------------------------------------------
# synthetic stand-in
# --------------------------------------------------------------------------------------------


def _synthetic_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Learnable class patterns: a class colour times a class-oriented grating, plus noise."""
    n = len(labels)
    hues = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    colours = 0.5 + 0.4 * np.stack([np.cos(hues), np.cos(hues - 2.1), np.cos(hues + 2.1)], 1)
    angles = np.arange(10) * np.pi / 10
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    a = angles[labels][:, None, None]
    grating = 0.5 + 0.5 * np.sin((np.cos(a) * xx + np.sin(a) * yy) * (2 * np.pi / 8) + phase)
    img = colours[labels][:, :, None, None] * (0.4 + 0.6 * grating[:, None])  # (n, 3, 32, 32)
    img = img + rng.normal(0, 0.12, size=img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8).reshape(n, 3 * 32 * 32)


def _add_pickle(tar: tarfile.TarFile, name: str, obj: dict) -> None:
    payload = pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(f"{FOLDER_NAME}/{name}")
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    tar.addfile(info, io.BytesIO(payload))


def make_fake_cifar10(
    root: str | os.PathLike, n_train: int = 1000, n_test: int = 200, seed: int = 0
) -> tuple[Path, str]:
    """Write ``root/cifar-10-python.tar.gz``, a small synthetic archive in the CIFAR-10 format.

    Same files and pickles as the real one (``data_batch_1..5``, ``test_batch``, ``batches.meta``;
    each batch a dict with ``b"data"`` uint8 (n, 3072) RGB planes, ``b"labels"``,
    ``b"batch_label"``, ``b"filenames"``), but ``batches.meta`` carries ``b"synthetic": True``.
    Images are class-coloured oriented gratings plus noise, so a short fit lowers the loss.
    The archive is byte-identical for the same arguments. It is also extracted into
    ``root/cifar-10-batches-py`` (replacing an older synthetic one; a real CIFAR-10 folder is never
    overwritten). Returns ``(archive_path, md5)``.

    Lessons: 04_inception, 05_resnet34_cifar10 (when CIFAR-10 cannot be downloaded).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / FOLDER_NAME
    if (folder / META_FILE).is_file() and not is_synthetic(root):
        raise DataError(f"{folder} holds real CIFAR-10; refusing to replace it with fake data.")

    rng = np.random.default_rng(seed)
    archive = root / ARCHIVE_NAME
    tmp = archive.with_name(f".{ARCHIVE_NAME}.fake.part")
    with open(tmp, "wb") as raw:
        # mtime=0 and no file name in the gzip header: the same arguments give the same md5.
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
        ):
            for kind, n, files in [
                ("training", n_train, TRAIN_FILES),
                ("test", n_test, TEST_FILES),
            ]:
                labels = rng.permutation(np.arange(n) % 10)
                data = _synthetic_images(labels, rng)
                chunks = np.array_split(np.arange(n), len(files))
                for i, (name, idx) in enumerate(zip(files, chunks, strict=True)):
                    batch = {
                        b"batch_label": f"synthetic {kind} batch {i + 1} of {len(files)} "
                        f"(NOT CIFAR-10)".encode(),
                        b"labels": [int(v) for v in labels[idx]],
                        b"data": data[idx],
                        b"filenames": [f"synthetic_{kind}_{j:05d}.png".encode() for j in idx],
                    }
                    _add_pickle(tar, name, batch)
            meta = {
                b"label_names": [c.encode() for c in CLASSES],
                b"num_cases_per_batch": int(np.ceil(n_train / len(TRAIN_FILES))),
                b"num_vis": 3 * 32 * 32,
                b"synthetic": True,
                b"description": f"{SYNTHETIC_NAME} (course.data.make_fake_cifar10, seed "
                f"{seed})".encode(),
            }
            _add_pickle(tar, META_FILE, meta)
    os.replace(tmp, archive)
    md5 = _md5(archive)
    if folder.exists():
        shutil.rmtree(folder)  # an older synthetic folder (checked above)
    _extract(archive, root)
    return archive, md5


# --------------------------------------------------------------------------------------------
# normalise -> augment -> batch
# --------------------------------------------------------------------------------------------


class CifarLoader:
    """Batches of a CIFAR split that lives on the device: ``for X, y in loader``.

    images: uint8 (N, 3, 32, 32), labels: int64 (N,) (as from :func:`load_cifar10`).
    Yields ``X``: (B, 3, 32, 32) normalised float (``runtime.input_dtype``: bf16 on CUDA, fp32 on
    CPU; run the model under ``runtime.autocast``), in ``runtime.memory_format``; ``y``: (B,)
    int64, both on ``device`` (default ``runtime.get_device()``).

    - ``mean``/``std``: per-channel, pixel scale [0, 1]; default the cited ``CIFAR10_MEAN`` /
      ``CIFAR10_STD`` (pass your own, e.g. lesson 05's ``channel_stats``; the library does not
      compute them, that is the exercise).
    - ``aug`` (train only): ``dict(flip=True, crop_padding=4)`` for the built-in batched
      augmentation: a random 32x32 crop of the image padded by ``crop_padding`` px of black
      (pixel value 0, i.e. ``(0 - mean) / std`` after normalisation, as torchvision's
      ``RandomCrop(32, padding=4)`` before ``Normalize``), offsets drawn per sample, then a
      per-sample horizontal flip with probability 1/2. Or a callable ``X -> X`` applied to each
      normalised batch (e.g. your ``random_crop_flip``), or ``None`` for none.
    - ``train=True`` reshuffles each epoch (``randperm``) and defaults ``drop_last=True``;
      ``train=False`` keeps the order, no augmentation, ``drop_last=False``.
    - ``seed`` + :meth:`set_epoch` make the order and augmentation a function of (seed, epoch):
      a resumed run sees the same batches. Without ``set_epoch`` each pass advances the epoch.
      ``seed=None`` draws one from torch's global RNG (0 when distributed: ranks must agree).
    - ``rank``/``world_size`` (default: from torch.distributed or torchrun's env): each rank
      iterates its own shard; ``batch_size`` is per rank. Train shards are equal-sized (the
      remainder of the epoch's permutation is dropped), so all ranks take the same number of steps.
    - ``subset=n``: keep only the first n images (quick CPU runs).

    Lessons: 04_inception, 05_resnet34_cifar10 (and through :mod:`course.experiments.degradation`, lesson
    02).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        train: bool,
        device: str | torch.device | None = None,
        mean: tuple[float, float, float] | torch.Tensor | None = None,
        std: tuple[float, float, float] | torch.Tensor | None = None,
        aug: dict | Callable[[torch.Tensor], torch.Tensor] | None = None,
        drop_last: bool | None = None,
        seed: int | None = None,
        *,
        subset: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        dtype: torch.dtype | None = None,
    ):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise TypeError(
                f"images should be uint8 (N, 3, H, W) as from load_cifar10, got {images.dtype} "
                f"{tuple(images.shape)}."
            )
        if labels.shape != images.shape[:1]:
            raise ValueError(f"{len(images)} images but labels of shape {tuple(labels.shape)}.")
        if subset is not None:
            images, labels = images[:subset], labels[:subset]
        env_rank, env_world, _ = runtime.distributed_env()
        self.rank = env_rank if rank is None else rank
        self.world_size = env_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world_size {self.world_size}.")

        self.device = runtime.get_device() if device is None else torch.device(device)
        self.dtype = dtype or runtime.input_dtype(self.device)
        self.batch_size = batch_size
        self.train = train
        self.drop_last = train if drop_last is None else drop_last
        self.aug = dict(flip=True, crop_padding=4) if aug is None and train else aug
        if seed is None:
            seed = 0 if self.world_size > 1 else int(torch.randint(2**31, ()).item())
        self.seed = seed
        self.epoch = 0

        # The split on the device: uint8 as stored (for display), and normalised once.
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        mean = torch.as_tensor(CIFAR10_MEAN if mean is None else mean, dtype=torch.float32)
        std = torch.as_tensor(CIFAR10_STD if std is None else std, dtype=torch.float32)
        self.mean = mean.to(self.device).view(1, 3, 1, 1)
        self.std = std.to(self.device).view(1, 3, 1, 1)
        self.X = ((self.images.float() / 255 - self.mean) / self.std).to(self.dtype)
        self.fill = (-self.mean / self.std).to(self.dtype)  # black pixel, normalised: (1, 3, 1, 1)

    # -- sizes ----------------------------------------------------------------------------
    def _shard_size(self) -> int:
        n = len(self.labels)
        if self.train:
            return n // self.world_size
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        """Number of batches per epoch on this rank."""
        n = self._shard_size()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Images this rank yields per epoch."""
        return len(self) * self.batch_size if self.drop_last else self._shard_size()

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch whose order/augmentation the next pass uses (like DistributedSampler)."""
        self.epoch = epoch

    # -- augmentation ----------------------------------------------------------------------
    def _generator(self, epoch: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
        return g

    def augment(self, X: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Built-in augmentation of a normalised batch: X (B, 3, H, W) -> (B, 3, H, W).

        Crop and flip are one gather: output pixel (i, j) of sample b reads padded pixel
        (dy[b] + i, dx[b] + j), or (dy[b] + i, dx[b] + W - 1 - j) when b is flipped.
        """
        if not self.aug:  # an evaluation loader, or aug={} / aug=False: the batch as it is
            return X
        if callable(self.aug):
            return self.aug(X)
        B, C, H, W = X.shape
        p = int(self.aug.get("crop_padding", 0))
        flip = bool(self.aug.get("flip", False))
        if p == 0 and not flip:
            return X
        dev = X.device
        dy = torch.randint(0, 2 * p + 1, (B,), device=dev, generator=g)
        dx = torch.randint(0, 2 * p + 1, (B,), device=dev, generator=g)
        flipped = torch.rand(B, device=dev, generator=g) < 0.5 if flip else None
        if p:
            # Pad with the normalised black pixel: pad (X - fill) with zeros, add fill back.
            X = torch.nn.functional.pad(X - self.fill, (p, p, p, p)) + self.fill
        rows = dy[:, None] + torch.arange(H, device=dev)  # (B, H)
        cols = torch.arange(W, device=dev).expand(B, W)  # (B, W)
        if flipped is not None:
            cols = torch.where(flipped[:, None], W - 1 - cols, cols)
        cols = dx[:, None] + cols
        b = torch.arange(B, device=dev)[:, None, None, None]
        c = torch.arange(C, device=dev)[None, :, None, None]
        return X[b, c, rows[:, None, :, None], cols[:, None, None, :]]

    # -- batches -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self.epoch += 1  # without set_epoch, the next pass is a new epoch
        g = self._generator(epoch)
        n = len(self.labels)
        if self.train:
            order = torch.randperm(n, device=self.device, generator=g)
            order = order[: n // self.world_size * self.world_size][self.rank :: self.world_size]
        else:
            order = torch.arange(self.rank, n, self.world_size, device=self.device)
        fmt = runtime.memory_format(self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            X, y = self.X[idx], self.labels[idx]
            if self.train and self.aug:
                X = self.augment(X, g)
            yield X.contiguous(memory_format=fmt), y

    def __repr__(self) -> str:
        return (
            f"CifarLoader(n={len(self.labels)}, batch_size={self.batch_size}, train={self.train}, "
            f"batches={len(self)}, device={self.device}, dtype={self.dtype}, aug={self.aug}, "
            f"rank={self.rank}/{self.world_size})"
        )


# --------------------------------------------------------------------------- command line
def download_command(args) -> int:
    """``course data download [--data DIR] [--quiet]``.

    Lessons: none directly (the ``course data download`` command).
    """
    import sys

    try:
        folder = download_cifar10(args.data, progress=not args.quiet)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{dataset_name(folder)} ready in {folder}")
    return 0


def fake_command(args) -> int:
    """``course data fake [--data DIR] [--n-train N] [--n-test N] [--seed S]``.

    Lessons: none directly (the ``course data fake`` command).
    """
    import sys

    try:
        archive, md5 = make_fake_cifar10(
            args.data, n_train=args.n_train, n_test=args.n_test, seed=args.seed
        )
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {archive} (md5 {md5}), extracted to {archive.parent / FOLDER_NAME}: "
        f"{args.n_train} train / {args.n_test} test images, {SYNTHETIC_NAME}."
    )
    return 0
