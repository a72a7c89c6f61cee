"""Regenerate ``torchvision_resnet50.tsv``: the state_dict of torchvision's ``resnet50()``.

torchvision cannot be installed beside the torch this course pins (its compiled operators are
built for one torch release), so the key list that lesson 06's tests compare with is checked in,
made by torchvision's own code:

    pip download torchvision==0.28.0 --no-deps -d /tmp/tv            # the wheel, not installed
    unzip -q /tmp/tv/torchvision-0.28.0-*.whl -d /tmp/tv/site
    python tests/reference/make_torchvision_resnet50.py /tmp/tv/site > tests/reference/torchvision_resnet50.tsv

The script imports ``torchvision.models.resnet`` from the unpacked wheel as a bare namespace
package (``torchvision/__init__.py``, which loads the compiled operators, is never run; the
model code is pure Python on top of ``torch.nn``), builds ``resnet50()`` (1000 classes) and
prints one line per state_dict entry: key, tab, shape. The header records the wheel, the sha256
of ``resnet.py`` and the model card's ``num_params`` / ``_ops`` (``ResNet50_Weights``), which
the tests compare with an independent count.
"""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path


def main(site: str) -> int:
    root = Path(site) / "torchvision"
    package = types.ModuleType("torchvision")
    package.__path__ = [str(root)]
    sys.modules["torchvision"] = package
    import torch
    from torchvision.models import resnet

    version = (root / "version.py").read_text(encoding="utf-8").split("__version__ = ")[1]
    source = (root / "models" / "resnet.py").read_bytes()
    model = resnet.resnet50()
    meta = resnet.ResNet50_Weights.IMAGENET1K_V1.meta
    count = sum(p.numel() for p in model.parameters())
    print(f"# torchvision {version.split()[0].strip(chr(39))} resnet50() state_dict, key<TAB>shape")
    print(f"# models/resnet.py sha256 {hashlib.sha256(source).hexdigest()}")
    print(f"# made with torch {torch.__version__} by tests/reference/make_torchvision_resnet50.py")
    print(f"# parameters counted: {count}")
    print(
        f"# model card (ResNet50_Weights.IMAGENET1K_V1.meta): num_params {meta['num_params']}, "
        f"_ops {meta['_ops']} (GFLOPS as torchvision reports them: multiply-adds)"
    )
    for key, value in model.state_dict().items():
        print(f"{key}\t{tuple(value.shape)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
