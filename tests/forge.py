"""A ResNet-34 checkpoint that scores well on the synthetic stand-in without any training.

CPU training of ResNet-34 takes hours; the tests of the checkpoint-graded cells (lesson 05) need a
good and a bad checkpoint of the student's own class in seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from course import data, scoring


def forge_resnet34_checkpoint(model_class, path, root, *, good: bool = True) -> Path:
    """A real ResNet-34 checkpoint that classifies the synthetic stand-in by colour, no training.

    For tests only (CPU training of ResNet-34 takes hours). Built from ``model_class``'s own
    state_dict: the stem copies each normalised colour channel c into channels c (ReLU(x)) and
    3 + c (ReLU(-x)); every block's bn2 has weight and bias 0, so its residual branch is 0 and the
    block passes its (non-negative) input through; each projection copies those six channels
    (stride 2 keeps every other pixel). The pooled features are therefore the means of ReLU(+-x)
    over the pixels at multiples of 8, and ``fc`` is a linear classifier fitted on them. With
    ``good=False`` the classifier's rows are permuted (a real ResNet-34 scoring ~0%).
    """
    images, labels = data.load_cifar10(root, "train")
    x = images.double() / 255
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    model = model_class(num_classes=10, stem="cifar")
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith(".weight") and value.ndim == 4:  # every convolution
            value.zero_()
        if ".bn2." in key and key.endswith(("weight", "bias")):
            value.zero_()
    for c in range(3):
        state["conv1.weight"][c, c, 1, 1] = 1.0
        state["conv1.weight"][3 + c, c, 1, 1] = -1.0
    for key, value in state.items():
        if key.endswith("downsample.0.weight"):
            for c in range(6):
                value[c, c, 0, 0] = 1.0
    # the features the network computes (BN's eps changes them by ~5e-6, irrelevant here)
    z = (x[:, :, ::8, ::8] - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    feats = torch.cat([z.clamp(min=0), (-z).clamp(min=0)], 1).mean(dim=(2, 3)).float()
    fc = nn.Linear(6, 10)
    opt = torch.optim.Adam(fc.parameters(), lr=0.05)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 500 tiny steps: thread hand-offs cost more than the maths
    try:
        for _ in range(500):
            loss = nn.functional.cross_entropy(fc(feats), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    order = torch.arange(10) if good else torch.roll(torch.arange(10), 1)
    state["fc.weight"].zero_()
    state["fc.weight"][:, :6] = fc.weight.detach()[order]
    state["fc.bias"].copy_(fc.bias.detach()[order])
    model.load_state_dict(state)
    return scoring.save_model(
        model,
        path,
        stem="cifar",
        mean=mean,
        std=std,
        classes=data.CLASSES,
        epochs=0,
        val_accuracy=None,
        forged="tests/forge.py: colour classifier, not trained",
    )
