"""course.scoring and `course score-checkpoints`: the grade of lesson 05 is the trained model.

A tiny model with ResNet34's constructor signature stands in for ResNet-34 (which the library must
not contain): it classifies the synthetic stand-in by the mean colour of the image, so a few
optimizer steps make it accurate and an untrained copy is at chance.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import torch
from forge import forge_resnet34_checkpoint
from torch import nn

from course import data, scoring
from course.cells import is_test
from course.grading import checkpoints as scoring_cli
from course.tools import execution

N_TRAIN, N_TEST = 600, 200


class TinyNet(nn.Module):
    """Mean colour -> linear: (B, 3, H, W) -> (B, num_classes). Same signature as ResNet34."""

    def __init__(self, num_classes=10, stem="cifar"):
        super().__init__()
        if stem not in ("cifar", "imagenet"):
            raise ValueError(stem)
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class WiderNet(TinyNet):
    """Another architecture: its state_dict does not fit TinyNet's and vice versa."""

    def __init__(self, num_classes=10, stem="cifar"):
        super().__init__(num_classes, stem)
        self.fc = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, num_classes))


class Unfinished(nn.Module):
    def __init__(self, num_classes=10, stem="cifar"):
        raise NotImplementedError()


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    data.make_fake_cifar10(root, n_train=N_TRAIN, n_test=N_TEST, seed=0)
    return root


@pytest.fixture(scope="module")
def stats(fake_root):
    images, _ = data.load_cifar10(fake_root, "train")
    x = images.double() / 255
    return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


@pytest.fixture(scope="module")
def trained(fake_root, stats) -> TinyNet:
    torch.manual_seed(0)
    images, labels = data.load_cifar10(fake_root, "train")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in stats)
    X = (images.float() / 255 - mean) / std
    model = TinyNet()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        loss = nn.functional.cross_entropy(model(X), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _save(model, path, stats, **kw):
    mean, std = stats
    args = dict(
        stem="cifar",
        mean=mean,
        std=std,
        classes=data.CLASSES,
        epochs=1,
        val_accuracy=0.5,
        arch="TinyNet",
    )
    args.update(kw)
    return scoring.save_model(model, path, **args)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(scoring.DATA_ENV, raising=False)
    monkeypatch.delenv(scoring.N_ENV, raising=False)
    scoring._CACHE.clear()


# ------------------------------------------------------------------------------------ scoring


def test_trained_model_scores_high_and_is_labelled_synthetic(tmp_path, fake_root, stats, trained):
    path = _save(trained, tmp_path / "ck.pt", stats)
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert score.ok, score.message
    assert score.n == N_TEST
    assert score.accuracy >= 0.9
    assert score.dataset == data.SYNTHETIC_NAME
    assert data.SYNTHETIC_NAME in str(score)
    for threshold in scoring.BANDS.values():
        scoring.require_accuracy(score, threshold)


def test_self_reported_accuracy_is_ignored(tmp_path, fake_root, stats):
    torch.manual_seed(1)
    path = _save(TinyNet(), tmp_path / "liar.pt", stats, val_accuracy=0.99)
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert score.ok and score.reported_val_accuracy == 0.99
    assert score.accuracy < 0.5  # an untrained model, whatever the file says
    with pytest.raises(AssertionError, match="below this band's 75%"):
        scoring.require_accuracy(score, 0.75)


def test_accuracy_is_computed_with_the_checkpoints_normalisation(
    tmp_path, fake_root, stats, trained
):
    """Saving the wrong mean/std is the student's error and costs accuracy (nothing is guessed)."""
    path = _save(trained, tmp_path / "ck.pt", stats, mean=[0.0, 0.0, 0.0], std=[10.0, 10.0, 10.0])
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert score.ok and score.accuracy < 0.5


def test_malicious_pickle_is_refused_without_running(tmp_path, fake_root):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Evil()}, path)
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert not score.ok
    assert "plain weights" in score.message
    assert not marker.exists()


def test_missing_checkpoint_scores_zero_with_a_message(tmp_path, fake_root):
    score = scoring.score_checkpoint(TinyNet, tmp_path / "nope.pt", root=fake_root)
    assert not score.ok and "No checkpoint" in score.message
    with pytest.raises(AssertionError, match="0 points for this band.*No checkpoint"):
        scoring.require_accuracy(score, 0.75)


def test_missing_data_scores_zero_with_a_message(tmp_path, stats, trained):
    path = _save(trained, tmp_path / "ck.pt", stats)
    score = scoring.score_checkpoint(TinyNet, path, root=tmp_path / "empty")
    assert not score.ok
    assert scoring.DATA_ENV in score.message


@pytest.mark.parametrize("cls", [WiderNet, TinyNet])
def test_architecture_mismatch_scores_zero(tmp_path, fake_root, stats, cls):
    other = TinyNet if cls is WiderNet else WiderNet
    path = _save(other(), tmp_path / "ck.pt", stats)
    score = scoring.score_checkpoint(cls, path, root=fake_root)
    assert not score.ok
    assert f"does not fit your {cls.__name__}" in score.message


def test_unfinished_class_scores_zero(tmp_path, fake_root, stats, trained):
    path = _save(trained, tmp_path / "ck.pt", stats)
    score = scoring.score_checkpoint(Unfinished, path, root=fake_root)
    assert not score.ok and "NotImplementedError" in score.message


def test_wrong_output_shape_scores_zero(tmp_path, fake_root, stats, trained):
    class Flat(TinyNet):
        def forward(self, x):
            return super().forward(x)[:, :5]

    path = _save(trained, tmp_path / "ck.pt", stats)
    score = scoring.score_checkpoint(Flat, path, root=fake_root)
    assert not score.ok and "logits of shape" in score.message


def test_not_a_checkpoint_and_missing_fields(tmp_path, fake_root, trained):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip file")
    assert "plain weights" in scoring.score_checkpoint(TinyNet, junk, root=fake_root).message
    bare = tmp_path / "bare.pt"
    torch.save(trained.state_dict(), bare)  # a raw state_dict: no 'model', no metadata
    assert (
        "not a course checkpoint" in scoring.score_checkpoint(TinyNet, bare, root=fake_root).message
    )
    nometa = tmp_path / "nometa.pt"
    torch.save({"model": trained.state_dict()}, nometa)
    assert "lacks" in scoring.score_checkpoint(TinyNet, nometa, root=fake_root).message


def test_save_model_is_weights_only_and_self_describing(tmp_path, stats, trained):
    path = _save(
        trained, tmp_path / "sub" / "ck.pt", stats, recipe={"lr": 0.2}, history=[{"a": 1.0}]
    )
    ck = torch.load(path, weights_only=True)
    assert set(ck["model"]) == set(trained.state_dict())
    assert ck["stem"] == "cifar" and ck["classes"] == list(data.CLASSES) and ck["num_classes"] == 10
    assert ck["model_class"] == "TinyNet" and ck["torch_version"] == torch.__version__
    assert ck["recipe"] == {"lr": 0.2}
    with pytest.raises(scoring.ScoringError):
        _save(trained, tmp_path / "bad.pt", stats, std=[0.0, 1.0, 1.0])
    assert not (tmp_path / "bad.pt").exists()


def test_compiled_prefixes_are_accepted(tmp_path, fake_root, stats, trained):
    path = _save(trained, tmp_path / "ck.pt", stats)
    ck = torch.load(path, weights_only=True)
    ck["model"] = {f"_orig_mod.{k}": v for k, v in ck["model"].items()}
    torch.save(ck, path)
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert score.ok and score.accuracy >= 0.9


def test_score_n_env(monkeypatch, tmp_path, fake_root, stats, trained):
    path = _save(trained, tmp_path / "ck.pt", stats)
    monkeypatch.setenv(scoring.N_ENV, "50")
    assert scoring.score_checkpoint(TinyNet, path, root=fake_root).n == 50
    monkeypatch.setenv(scoring.N_ENV, "all")
    assert scoring.score_checkpoint(TinyNet, path, root=fake_root).n == N_TEST
    monkeypatch.setenv(scoring.N_ENV, "lots")
    score = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert not score.ok and scoring.N_ENV in score.message
    monkeypatch.delenv(scoring.N_ENV)
    assert scoring.score_n() == scoring.DEFAULT_N


def test_cache_evaluates_once_per_file_version(monkeypatch, tmp_path, fake_root, stats, trained):
    calls = []
    real = scoring._accuracy
    monkeypatch.setattr(scoring, "_accuracy", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = _save(trained, tmp_path / "ck.pt", stats)
    first = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    second = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert first is second and len(calls) == 1
    torch.manual_seed(3)
    _save(TinyNet(), path, stats)  # a new file at the same path: scored again
    os.utime(path, ns=(1, 1))
    third = scoring.score_checkpoint(TinyNet, path, root=fake_root)
    assert len(calls) == 2 and third.accuracy != first.accuracy


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert scoring.data_root() == Path("data")  # nothing anywhere: where a download would go
    cache = tmp_path / "home" / ".cache" / "course" / data.FOLDER_NAME
    cache.mkdir(parents=True)
    (cache / "test_batch").write_bytes(b"")
    assert scoring.data_root() == tmp_path / "home" / ".cache" / "course"
    local = tmp_path / "data" / data.FOLDER_NAME
    local.mkdir(parents=True)
    (local / "test_batch").write_bytes(b"")
    assert scoring.data_root() == Path("data")
    monkeypatch.setenv(scoring.DATA_ENV, str(tmp_path / "elsewhere"))
    assert scoring.data_root() == tmp_path / "elsewhere"


def test_band_points():
    assert scoring.band_points(None) == 0
    assert scoring.band_points(0.74) == 0
    assert scoring.band_points(0.75) == 1
    assert scoring.band_points(0.93) == 3
    assert scoring.band_points(0.95) == 4
    with pytest.raises(AssertionError):
        scoring.require_accuracy("0.99", 0.5)


def test_below_band_hint_names_the_real_cause():
    """On CIFAR-10 the hint is about training; on the synthetic stand-in it is about the data."""
    real = scoring.Score(True, accuracy=0.6, n=1000, dataset="CIFAR-10")
    with pytest.raises(AssertionError, match="(?s)60.00% on 1,000 CIFAR-10 .*full recipe on a GPU"):
        scoring.require_accuracy(real, 0.75)
    fake = scoring.Score(True, accuracy=0.1, n=500, dataset=data.SYNTHETIC_NAME)
    with pytest.raises(AssertionError, match="(?s)no CIFAR-10 was found.*COURSE_DATA") as err:
        scoring.require_accuracy(fake, 0.75)
    assert "full recipe" not in str(err.value)


def test_check_band_without_checkpoint_is_a_self_check_outside_grading(
    monkeypatch, tmp_path, fake_root, capsys
):
    """Run All in JupyterLab reaches the end of lesson 05 without a checkpoint; grading still fails."""
    monkeypatch.setenv(scoring.DATA_ENV, str(fake_root))
    missing = tmp_path / "checkpoints" / "none.pt"
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    score = scoring.check_band(TinyNet, 0.75, missing)
    assert not score.ok
    out = capsys.readouterr()
    # on stderr, so that nbgrader's rule and the progress table count the cell as not earned
    assert "not earned yet: 0 of this band's points, no checkpoint yet" in out.err
    assert "no checkpoint" not in out.out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="No checkpoint"):
        scoring.check_band(TinyNet, 0.75, missing)


def test_check_band_with_a_checkpoint_always_checks(
    monkeypatch, tmp_path, fake_root, stats, trained, capsys
):
    monkeypatch.setenv(scoring.DATA_ENV, str(fake_root))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = _save(trained, tmp_path / "model.pt", stats)
    score = scoring.check_band(TinyNet, 0.5, path)
    assert score.ok and score.accuracy >= 0.5
    assert "test accuracy" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="below this band"):  # a real verdict, graded or not
        scoring.check_band(TinyNet, 1.01, path)


# ------------------------------------------------------------------------------------ CLI

REFERENCE_PY = textwrap.dedent(
    """
    import torch.nn as nn

    class ResNet34(nn.Module):  # a stand-in with the real signature
        def __init__(self, num_classes=10, stem="cifar"):
            super().__init__()
            self.fc = nn.Linear(3, num_classes)

        def forward(self, x):
            return self.fc(x.mean(dim=(2, 3)))
    """
)


def _class_dir(tmp_path, stats, trained):
    sub = tmp_path / "submitted"
    lesson = scoring_cli.LESSON
    _save(trained, sub / "alice" / lesson / scoring.CHECKPOINT_PATH, stats, val_accuracy=0.97)
    torch.manual_seed(2)
    _save(TinyNet(), sub / "bob" / lesson / scoring.CHECKPOINT_PATH, stats, val_accuracy=0.99)
    (sub / "carol" / lesson).mkdir(parents=True)  # submitted the notebook, no checkpoint
    _save(WiderNet(), sub / "dave" / lesson / scoring.CHECKPOINT_PATH, stats)
    ref = tmp_path / "reference.py"
    ref.write_text(REFERENCE_PY)
    return sub, ref


def test_cli_scores_a_class(tmp_path, fake_root, stats, trained, capsys):
    from course.cli import build_parser, handler

    sub, ref = _class_dir(tmp_path, stats, trained)
    parser = build_parser()
    args = parser.parse_args(
        ["score-checkpoints", str(sub), "--reference", str(ref), "--data", str(fake_root)]
    )
    assert handler(args)(args) == 2  # synthetic data: refused unless asked for
    assert "not grades" in capsys.readouterr().err
    args = parser.parse_args(
        ["score-checkpoints", str(tmp_path), "--reference", str(ref), "--data", str(fake_root)]
        + ["--allow-synthetic", "--n", "all"]
    )
    assert handler(args)(args) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert "4/4" in lines["alice"] and "97.00%" in lines["alice"]
    assert "0/4" in lines["bob"] and "99.00%" in lines["bob"]  # claims 99%, scores at chance
    assert "No checkpoint" in lines["carol"]
    assert "does not fit" in lines["dave"]
    assert f"on {N_TEST} {data.SYNTHETIC_NAME}" in out


def test_reference_from_solution_notebook():
    nb = Path(__file__).resolve().parent.parent / "solutions" / scoring_cli.LESSON
    path = nb / f"{scoring_cli.LESSON}.ipynb"
    if not path.is_file():
        pytest.skip("lesson 05 source not present")
    cls = scoring_cli.load_reference(path)
    assert sum(p.numel() for p in cls().parameters()) == 21_282_122
    release = path.parent.parent.parent / "notebooks" / scoring_cli.LESSON / path.name
    if release.is_file():
        with pytest.raises(scoring_cli.ReferenceError_, match="student release"):
            scoring_cli.load_reference(release)


def test_reference_errors(tmp_path):
    with pytest.raises(scoring_cli.ReferenceError_, match="not found"):
        scoring_cli.load_reference(tmp_path / "nope.py")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(scoring_cli.ReferenceError_, match="defines no ResNet34"):
        scoring_cli.load_reference(empty)
    with pytest.raises(scoring_cli.ReferenceError_, match="no <student>"):
        scoring_cli.find_checkpoints(tmp_path)


# ------------------------------------------------------------------------------------ end to end


def _solution_resnet34():
    root = Path(__file__).resolve().parent.parent
    path = root / "solutions" / scoring_cli.LESSON / f"{scoring_cli.LESSON}.ipynb"
    if not path.is_file():
        pytest.skip("lesson 05 source not present")
    return scoring_cli.load_reference(path), path


@pytest.mark.slow
def test_forged_resnet34_scores_through_the_real_class(tmp_path, fake_root):
    resnet34, _ = _solution_resnet34()
    good = forge_resnet34_checkpoint(resnet34, tmp_path / "good.pt", fake_root)
    bad = forge_resnet34_checkpoint(resnet34, tmp_path / "bad.pt", fake_root, good=False)
    score = scoring.score_checkpoint(resnet34, good, root=fake_root, n=100)
    assert score.ok and score.accuracy >= 0.94 and score.num_params == 21_282_122
    assert scoring.score_checkpoint(resnet34, bad, root=fake_root, n=100).accuracy < 0.2


@pytest.mark.slow
def test_notebook_without_checkpoint_runs_quick_mode_and_scores_zero(tmp_path_factory, course_data):
    """What a student without a GPU hands in: the solved notebook, no checkpoint.

    The training cell runs the labelled QUICK MODE and writes nothing at the graded path; every
    accuracy band scores 0 with the grader's "No checkpoint" message; every other test passes and
    every other cell runs (no crash of the batch). The solution *with* a good checkpoint beside it
    passes everything: tests/test_notebooks.py; a bad checkpoint's message: the tests above.
    """
    from conftest import checked_without_artifacts

    _solution_resnet34()  # skips when the lesson is absent
    # the session's run (shared with test_progress): course check's environment with this
    # session's data ($COURSE_DATA) and COURSE_SCORE_N=100 (conftest.SESSION_ENV)
    executed, folder = checked_without_artifacts(scoring_cli.LESSON, tmp_path_factory)
    results = {r.grade_id: r for r in execution.results(executed)}
    bands = [f"checkpoint__{b}" for b in scoring.BANDS]
    assert set(bands) <= set(results), sorted(results)
    for gid in bands:
        assert not results[gid].passed and "No checkpoint" in results[gid].message, results[gid]
    others = [(g, r.message) for g, r in results.items() if g not in bands and not r.passed]
    assert not others, others
    code = [c for c in executed.cells if c.cell_type == "code"]
    crashed = [
        (i, out.get("ename"), out.get("evalue"))
        for i, c in enumerate(code)
        if not is_test(c)
        for out in c.outputs
        if out.get("output_type") == "error"
    ]
    assert not crashed, crashed
    printed = "\n".join(out.get("text", "") for c in code for out in c.outputs)
    assert "QUICK MODE (no GPU, or the notebook is being graded)" in printed
    assert "QUICK MODE: a barely trained model" in printed
    assert not (folder / scoring.CHECKPOINT_PATH).exists()
