"""course.data: download/verify/extract against a local server, pickle reader, loader, augmentation.

No test touches the internet: archives are served by ``http.server`` on 127.0.0.1, and "no
network" is a closed localhost port.
"""

from __future__ import annotations

import functools
import http.server
import io
import pickle
import shutil
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from course import data
from course.data import DataError

# -- fixtures -------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def serve(tmp_path):
    """serve(path) -> URL of that file on a local HTTP server (a thread on 127.0.0.1)."""
    webroot = tmp_path / "www"
    webroot.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(webroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def _serve(path: Path, name: str = data.ARCHIVE_NAME) -> str:
        shutil.copyfile(path, webroot / name)
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield _serve
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url():
    """A localhost URL nobody listens on: connection refused, i.e. "no network"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{data.ARCHIVE_NAME}"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on a small shared CPU, more threads oversubscribe the cores and
    make these tiny workloads many times slower. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """A small synthetic archive (and its extraction) shared by this module's tests."""
    root = tmp_path_factory.mktemp("fake")
    archive, md5 = data.make_fake_cifar10(root, n_train=53, n_test=17, seed=3)
    return root, archive, md5


def _leftovers(root: Path) -> list[str]:
    """Temporary files/folders a failed or finished download must not leave behind."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


# -- download -> verify -> extract ------------------------------------------------------------


def test_round_trip_through_local_server(fake, serve, tmp_path, closed_port_url):
    """Written archive -> served -> downloaded, md5-verified, extracted -> loaded == written."""
    src, archive, md5 = fake
    url = serve(archive)
    dst = tmp_path / "dst"
    folder = data.download_cifar10(dst, url=url, md5=md5, progress=False)
    assert folder == dst / data.FOLDER_NAME
    assert data._md5(dst / data.ARCHIVE_NAME) == md5
    assert _leftovers(dst) == []

    for split, n, files in [("train", 53, data.TRAIN_FILES), ("test", 17, data.TEST_FILES)]:
        images, labels = data.load_cifar10(dst, split)
        assert images.shape == (n, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.shape == (n,) and labels.dtype == torch.int64
        # compare with the pickles exactly as written (row-major RGB planes)
        rows, labs = [], []
        for name in files:
            with open(src / data.FOLDER_NAME / name, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            assert set(batch) == {b"data", b"labels", b"batch_label", b"filenames"}
            assert b"synthetic" in batch[b"batch_label"]
            rows.append(batch[b"data"])
            labs += batch[b"labels"]
        expected = np.concatenate(rows)
        assert torch.equal(images.reshape(n, -1), torch.from_numpy(expected))
        assert torch.equal(images[0, 1], torch.from_numpy(expected[0, 1024:2048].reshape(32, 32)))
        assert labels.tolist() == labs
    assert sorted(set(data.load_cifar10(dst, "train")[1].tolist())) == list(range(10))

    assert data.is_synthetic(dst) and data.dataset_name(dst) == data.SYNTHETIC_NAME
    with open(dst / data.FOLDER_NAME / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    assert meta[b"label_names"] == [c.encode() for c in data.CLASSES]
    # already extracted: no network needed, nothing changes
    assert data.download_cifar10(dst, url=closed_port_url, md5=md5, progress=False) == folder


def test_fake_archive_is_deterministic(tmp_path, fake):
    """Same arguments, same bytes (so a fake archive has a stable md5)."""
    _, md5 = data.make_fake_cifar10(tmp_path, n_train=53, n_test=17, seed=3)
    assert md5 == fake[2]


def test_manual_archive_extracts_without_network(fake, tmp_path, closed_port_url):
    """An archive copied into root by hand is verified and extracted; the URL is never used."""
    root = tmp_path / "manual"
    root.mkdir()
    shutil.copyfile(fake[1], root / data.ARCHIVE_NAME)
    data.download_cifar10(root, url=closed_port_url, md5=fake[2], progress=False)
    assert data.load_cifar10(root, "test")[0].shape == (17, 3, 32, 32)


def test_md5_mismatch_leaves_nothing_and_retry_works(fake, serve, tmp_path):
    """Wrong md5: DataError naming both sums, root stays empty; the retry then succeeds."""
    url = serve(fake[1])
    root = tmp_path / "r"
    with pytest.raises(DataError, match="md5") as info:
        data.download_cifar10(root, url=url, md5="0" * 32, progress=False)
    assert fake[2] in str(info.value) and "0" * 32 in str(info.value)
    assert list(root.iterdir()) == []
    data.download_cifar10(root, url=url, md5=fake[2], progress=False)
    assert data.load_cifar10(root, "train")[0].shape == (53, 3, 32, 32)


def test_no_network_message_says_where_to_put_the_archive(tmp_path, closed_port_url):
    """Unreachable URL: DataError with the manual-download path and the md5; nothing left."""
    root = tmp_path / "offline"
    with pytest.raises(DataError) as info:
        data.download_cifar10(root, url=closed_port_url, progress=False, timeout=5)
    message = str(info.value)
    assert str((root / data.ARCHIVE_NAME).resolve()) in message
    assert data.CIFAR10_MD5 in message
    assert "course data fake" in message
    assert list(root.iterdir()) == []


def test_truncated_archive(fake, serve, tmp_path):
    """Truncated download: md5 error; truncated but 'verified': corrupt error; nothing half done."""
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(fake[1].read_bytes()[: fake[1].stat().st_size // 2])
    url = serve(truncated)

    root = tmp_path / "a"
    with pytest.raises(DataError, match="md5"):
        data.download_cifar10(root, url=url, md5=fake[2], progress=False)
    assert list(root.iterdir()) == []

    # a mirror without a checksum (md5=None) gets caught at extraction
    with pytest.raises(DataError, match="corrupt or truncated"):
        data.download_cifar10(root, url=url, md5=None, progress=False)
    assert not (root / data.FOLDER_NAME).exists() and _leftovers(root) == []

    # a truncated archive copied by hand: told to delete it; after replacing it, it works
    with pytest.raises(DataError, match="Delete it"):
        data.download_cifar10(root, md5=fake[2], progress=False)
    shutil.copyfile(fake[1], root / data.ARCHIVE_NAME)
    data.download_cifar10(root, md5=fake[2], progress=False)
    assert data.is_synthetic(root)


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "cifar-10-batches-py/../../evil"])
def test_path_traversal_is_refused(tmp_path, name):
    """Members outside cifar-10-batches-py/ are refused before anything is written."""
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / data.ARCHIVE_NAME, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(DataError, match="refusing"):
        data.download_cifar10(root, md5=None, progress=False)
    assert not (tmp_path / "evil").exists()
    assert sorted(p.name for p in root.iterdir()) == [data.ARCHIVE_NAME]


def test_symlink_member_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / data.ARCHIVE_NAME, "w:gz") as tar:
        info = tarfile.TarInfo(f"{data.FOLDER_NAME}/data_batch_1")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match="link"):
        data.download_cifar10(root, md5=None, progress=False)


# -- read uint8 -> tensor ---------------------------------------------------------------------


def test_missing_data_tells_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="download_cifar10") as info:
        data.load_cifar10(tmp_path, "train")
    assert "course data download" in str(info.value)
    with pytest.raises(ValueError, match="split"):
        data.load_cifar10(tmp_path, "val")


def test_corrupt_batch_files(fake, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(fake[0] / data.FOLDER_NAME, root / data.FOLDER_NAME)
    batch = root / data.FOLDER_NAME / "data_batch_3"
    batch.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        data.load_cifar10(root, "train")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(DataError, match=r"uint8 \(n, 3072\)"):
        data.load_cifar10(root, "train")
    batch.write_bytes(pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [11] * 4}))
    with pytest.raises(DataError, match="0..9"):
        data.load_cifar10(root, "train")
    # the folder itself is accepted as root too
    assert data.load_cifar10(root / data.FOLDER_NAME, "test")[0].shape == (17, 3, 32, 32)


def test_fake_never_overwrites_real_cifar(tmp_path):
    folder = tmp_path / data.FOLDER_NAME
    folder.mkdir()
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": []}))
    assert not data.is_synthetic(tmp_path) and data.dataset_name(tmp_path) == "CIFAR-10"
    with pytest.raises(DataError, match="real CIFAR-10"):
        data.make_fake_cifar10(tmp_path, n_train=10, n_test=10)


def test_cli_fake_and_download(tmp_path, capsys):
    from course import cli

    assert cli.main(["data", "fake", "--data", str(tmp_path), "--n-train", "20"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert cli.main(["data", "download", "--data", str(tmp_path), "--quiet"]) == 0
    assert data.load_cifar10(tmp_path, "train")[0].shape == (20, 3, 32, 32)


# -- normalise -> augment -> batch --------------------------------------------------------------


def _images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)


def test_loader_shapes_dtypes_and_lengths():
    images, labels = _images(103), torch.arange(103) % 10
    train = data.CifarLoader(images, labels, batch_size=16, train=True, seed=0)
    assert len(train) == 6 and train.num_samples == 96  # drop_last for training
    batches = list(train)
    assert len(batches) == 6
    for X, y in batches:
        assert X.shape == (16, 3, 32, 32) and X.dtype == torch.float32
        assert y.shape == (16,) and y.dtype == torch.int64

    test = data.CifarLoader(images, labels, batch_size=16, train=False)
    assert len(test) == 7 and test.aug is None
    X = torch.cat([X for X, _ in test])
    y = torch.cat([y for _, y in test])
    assert torch.equal(y, labels)  # eval: every image, in order, not augmented
    mean = torch.tensor(data.CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(data.CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(X, (images / 255 - mean) / std)

    assert len(data.CifarLoader(images, labels, 16, train=False, subset=40)) == 3
    with pytest.raises(TypeError, match="uint8"):
        data.CifarLoader(images.float(), labels, 16, train=True)


def test_loader_epochs_are_deterministic_and_reshuffled():
    images, labels = _images(64), torch.arange(64)
    loader = data.CifarLoader(images, labels, batch_size=8, train=True, seed=5)

    def epoch(e):
        loader.set_epoch(e)
        return torch.cat([torch.cat([X.flatten(1), y[:, None].float()], 1) for X, y in loader])

    first = epoch(0)
    assert torch.equal(first, epoch(0))  # same (seed, epoch): same batches
    assert not torch.equal(first, epoch(1))  # a new epoch: new order and crops
    ys = torch.cat([y for _, y in loader])  # no set_epoch: next pass moves on
    assert sorted(ys.tolist()) == list(range(64))


def test_loader_shards_across_ranks():
    """Each rank gets a disjoint, equal-sized shard of the same epoch permutation."""
    images, labels = _images(50), torch.arange(50)
    seen = []
    for rank in range(3):
        loader = data.CifarLoader(
            images, labels, batch_size=4, train=True, seed=1, rank=rank, world_size=3
        )
        assert len(loader) == 4
        seen.append(torch.cat([y for _, y in loader]).tolist())
    assert all(len(s) == 16 for s in seen)
    assert len(set(seen[0]) | set(seen[1]) | set(seen[2])) == 48
    evals = [
        torch.cat([y for _, y in data.CifarLoader(images, labels, 7, False, rank=r, world_size=3)])
        for r in range(3)
    ]
    assert sorted(torch.cat(evals).tolist()) == list(range(50))  # eval: every image exactly once


def test_augmentation_is_a_padded_crop_maybe_flipped():
    """Every output is exactly a 32x32 crop of the 4-px black-padded image, possibly flipped.

    Black padding in normalised space is (0 - mean) / std. Over many samples flips are about
    half, and crop offsets cover all of 0..8 in both directions.
    """
    n, p = 100, 4
    images = _images(n, seed=1)
    loader = data.CifarLoader(images, torch.arange(n), batch_size=50, train=True, seed=0)
    padded = torch.nn.functional.pad(loader.X - loader.fill, (p, p, p, p)) + loader.fill
    # every (dy, dx, flip) candidate of every image, red channel only: (n, 9, 9, 2, 32, 32)
    windows = padded[:, 0].unfold(1, 32, 1).unfold(2, 32, 1)  # (n, 9, 9, 32, 32)
    candidates = torch.stack([windows, windows.flip(-1)], 3)
    flips, dys, dxs = [], [], []
    for epoch in range(6):
        loader.set_epoch(epoch)
        for X, y in loader:
            match = (candidates[y] == X[:, 0, None, None, None]).flatten(4).all(-1)  # (B,9,9,2)
            assert (match.flatten(1).sum(1) == 1).all(), "not exactly one crop/flip matches"
            b, dy, dx, f = match.nonzero(as_tuple=True)
            for i in range(len(b)):  # the match holds on all three channels
                crop = padded[y[b[i]], :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
                assert torch.equal(X[b[i]], crop.flip(-1) if f[i] else crop)
            dys += dy.tolist()
            dxs += dx.tolist()
            flips += f.tolist()
    assert len(flips) == 600
    assert 0.4 < np.mean(flips) < 0.6
    assert set(dys) == set(range(9)) and set(dxs) == set(range(9))
    # the padding really is normalised black
    fill = ((0 - torch.tensor(data.CIFAR10_MEAN)) / torch.tensor(data.CIFAR10_STD)).view(3, 1, 1)
    torch.testing.assert_close(padded[0, :, :p, :], fill.expand(3, p, 40))


def test_custom_augmentation_callable():
    images, labels = _images(8), torch.arange(8)
    loader = data.CifarLoader(images, labels, 8, train=True, seed=0, aug=lambda X: -X)
    X, y = next(iter(loader))
    torch.testing.assert_close(X, -loader.X[y])
    plain = data.CifarLoader(images, labels, 8, train=True, seed=0, aug=False)
    X, y = next(iter(plain))
    torch.testing.assert_close(X, plain.X[y])


def test_augment_without_augmentation_returns_the_batch():
    """``augment`` of a loader that has none (an evaluation loader, ``aug=False`` or ``{}``) hands
    the batch back unchanged instead of failing on the missing settings."""
    images, labels = _images(4), torch.arange(4)
    g = torch.Generator().manual_seed(0)
    for loader in (
        data.CifarLoader(images, labels, 4, train=False),
        data.CifarLoader(images, labels, 4, train=True, seed=0, aug=False),
        data.CifarLoader(images, labels, 4, train=True, seed=0, aug={}),
    ):
        assert loader.augment(loader.X, g) is loader.X
