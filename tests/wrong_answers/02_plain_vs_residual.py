"""Plausible wrong answers for lesson 02 (plain vs residual); each must be caught by its tests.

Each entry replaces one whole answer cell. The answers are written from templates of the correct
solution with one thing changed, so that each entry shows exactly one mistake.
"""

# ---------------------------------------------------------------------------------- ShortcutA
_SHORTCUT = """class ShortcutA(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
{init}
    def forward(self, X):
{forward}"""

_SUB = "        X = X[:, :, :: self.stride, :: self.stride]\n"
_PAD = "        return F.pad(X, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))\n"


def _shortcut(forward: str = _SUB + _PAD, init: str = "") -> str:
    return _SHORTCUT.format(init=init, forward=forward)


# ---------------------------------------------------------------------------------- cifar_net
# The correct answer with one placeholder per line a wrong answer may change.
_NET = """class CifarBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, residual=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride={stride1}, padding=1, bias={bias})
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride={stride2}, padding=1, bias={bias})
        self.bn2 = {bn2}
        self.relu = nn.ReLU()
        self.shortcut = None
        if {residual}:
            same_shape = stride == 1 and in_channels == out_channels
            self.shortcut = nn.Identity() if same_shape else {shortcut}

    def forward(self, X):
        out = {first}
        out = {second}
        if self.shortcut is not None:
            out = {add}
        return {last}


def cifar_net(n, residual=True):
    def stage(in_channels, out_channels, stride):
        {blocks}
        return nn.Sequential(*blocks)

    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 16, 3, padding=1, bias={bias}))
    {stem_bn}
    net.add_module("relu", nn.ReLU())
    {stem_pool}
    net.add_module("layer1", stage(16, 16, 1))
    net.add_module("layer2", stage(16, 32, 2))
    net.add_module("layer3", stage(32, 64, 2))
    net.add_module("avgpool", {pool})
    net.add_module("flatten", nn.Flatten())
    net.add_module("fc", nn.Linear(64, 10))
    {extra_head}
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            {init}
    return net
"""
_NET_OK = {
    "stride1": "stride",
    "stride2": "1",
    "bias": "False",
    "bn2": "nn.BatchNorm2d(out_channels)",
    "residual": "residual",
    "shortcut": "ShortcutA(in_channels, out_channels, stride)",
    "first": "self.relu(self.bn1(self.conv1(X)))",
    "second": "self.bn2(self.conv2(out))",
    "add": "out + self.shortcut(X)",
    "last": "self.relu(out)",
    "blocks": (
        "blocks = [CifarBlock(in_channels, out_channels, stride, residual)]\n"
        "        blocks += [CifarBlock(out_channels, out_channels, 1, residual) "
        "for _ in range(n - 1)]"
    ),
    "stem_bn": 'net.add_module("bn1", nn.BatchNorm2d(16))',
    "stem_pool": "",
    "pool": "nn.AdaptiveAvgPool2d(1)",
    "extra_head": "",
    "init": 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")',
}


_STAGE_WITH_LIST = """class Stage(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = blocks  # a Python list: nn.Module does not register what is inside

    def forward(self, X):
        for block in self.blocks:
            X = block(X)
        return X


"""


def _fill(template: str, correct: dict[str, str], changes: dict[str, str]) -> str:
    """``template`` with the correct lines, except those named in ``changes``."""
    unknown = set(changes) - set(correct)
    assert not unknown, unknown
    return template.format(**{**correct, **changes})


def _net(**changes: str) -> str:
    return _fill(_NET, _NET_OK, changes)


# ---------------------------------------------------------------------- layer_gradient_norms
_LGN = "def layer_gradient_norms(model, X, y):\n"
_LGN_BODY = """    convs = {convs}
    {zero}
    F.cross_entropy(model(X), y{reduction}).backward()
    return {{name: {value} for name, m in convs.items()}}
"""
_LGN_OK = {
    "convs": "{name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}",
    "zero": "model.zero_grad(set_to_none=True)",
    "reduction": "",
    "value": "m.weight.grad.norm().item()",
}


def _lgn(**changes: str) -> str:
    return _LGN + _fill(_LGN_BODY, _LGN_OK, changes)


WRONG_ANSWERS = [
    # ------------------------------------------------------------------------- ShortcutA
    {
        "exercise": "ShortcutA",
        "name": "projection_adds_parameters",
        "why": "a 1x1 stride-s convolution (option B's projection): right shape, but parameters",
        "source": _shortcut(
            init="        self.proj = nn.Conv2d(in_channels, out_channels, 1, stride=stride, "
            "bias=False)\n",
            forward="        return self.proj(X)\n",
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "zeros_before_input",
        "why": "zero channels padded in FRONT of the input channels (C_front instead of C_back)",
        "source": _shortcut(
            _SUB
            + "        return F.pad(X, (0, 0, 0, 0, self.out_channels - self.in_channels, 0))\n"
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "zeros_on_both_sides",
        "why": "symmetric padding (half the zeros in front), as in some popular CIFAR code",
        "source": _shortcut(
            _SUB
            + "        extra = self.out_channels - self.in_channels\n"
            + "        return F.pad(X, (0, 0, 0, 0, extra // 2, extra - extra // 2))\n"
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "pads_width_axis",
        "why": "F.pad(X, (0, k)) pads the LAST axis (width), not the channels",
        "source": _shortcut(
            _SUB + "        return F.pad(X, (0, self.out_channels - self.in_channels))\n"
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "pads_height_axis",
        "why": "the 4-tuple (0, 0, 0, k) pads the height axis, not the channels",
        "source": _shortcut(
            _SUB + "        return F.pad(X, (0, 0, 0, self.out_channels - self.in_channels))\n"
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "no_subsampling",
        "why": "forgets the stride: the spatial size is not reduced",
        "source": _shortcut(_PAD),
    },
    {
        "exercise": "ShortcutA",
        "name": "subsample_odd_pixels",
        "why": "keeps pixels 1, 3, 5, ... (X[:, :, 1::s, 1::s]), not those the strided conv sees",
        "source": _shortcut("        X = X[:, :, 1 :: self.stride, 1 :: self.stride]\n" + _PAD),
    },
    {
        "exercise": "ShortcutA",
        "name": "average_pool_subsample",
        "why": "average-pools s x s windows instead of keeping every s-th pixel",
        "source": _shortcut("        X = F.avg_pool2d(X, self.stride, ceil_mode=True)\n" + _PAD),
    },
    {
        "exercise": "ShortcutA",
        "name": "interpolate_floor_size",
        "why": "F.interpolate(scale_factor=1/s): the same pixels on even sizes, floor(H/s) on odd",
        "source": _shortcut(
            "        if self.stride > 1:\n"
            "            X = F.interpolate(X, scale_factor=1 / self.stride, mode='nearest')\n"
            + _PAD
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "stride_hardcoded_2",
        "why": "always subsamples by 2, whatever the stride",
        "source": _shortcut("        X = X[:, :, ::2, ::2]\n" + _PAD),
    },
    {
        "exercise": "ShortcutA",
        "name": "pads_in_channels_zeros",
        "why": "appends in_channels zeros (assumes out_channels = 2 * in_channels)",
        "source": _shortcut(_SUB + "        return F.pad(X, (0, 0, 0, 0, 0, self.in_channels))\n"),
    },
    {
        "exercise": "ShortcutA",
        "name": "detached_from_graph",
        "why": "builds the output through NumPy (.detach().numpy()): no gradient reaches the input",
        "source": _shortcut(
            _SUB
            + "        import numpy as np\n"
            + "        extra = self.out_channels - self.in_channels\n"
            + "        out = np.pad(X.detach().numpy(), ((0, 0), (0, extra), (0, 0), (0, 0)))\n"
            + "        return torch.from_numpy(out)\n"
        ),
    },
    {
        "exercise": "ShortcutA",
        "name": "zeros_on_cpu",
        "why": "torch.cat with torch.zeros(...) made without device=: CPU zeros, whatever X's device",
        "source": _shortcut(
            _SUB
            + "        B, C, H, W = X.shape\n"
            + "        zeros = torch.zeros(B, self.out_channels - C, H, W, dtype=X.dtype)\n"
            + "        return torch.cat([X, zeros], dim=1)\n"
        ),
        "caught_by": ["ShortcutA__contract"],
    },
    {
        "exercise": "ShortcutA",
        "name": "zeros_default_dtype",
        "why": "zeros made without dtype=: float32, so torch.cat promotes a bfloat16 X to float32",
        "source": _shortcut(
            _SUB
            + "        B, C, H, W = X.shape\n"
            + "        zeros = torch.zeros(B, self.out_channels - C, H, W, device=X.device)\n"
            + "        return torch.cat([X, zeros], dim=1)\n"
        ),
        "caught_by": ["ShortcutA__contract"],
    },
    # ------------------------------------------------------------------------- cifar_net
    {
        "exercise": "cifar_net",
        "name": "conv_bias",
        "why": "convolutions keep their bias (bias=True) although BN follows each one",
        "source": _net(bias="True"),
        "caught_by": ["cifar_net__param_count"],
    },
    {
        "exercise": "cifar_net",
        "name": "projection_shortcuts",
        "why": "option B: 1x1 conv + BN shortcuts where the shape changes (extra parameters)",
        "source": _net(
            shortcut="nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, "
            "bias=False), nn.BatchNorm2d(out_channels))"
        ),
    },
    {
        "exercise": "cifar_net",
        "name": "stride_in_second_conv",
        "why": "the stride-2 sits in the block's SECOND convolution instead of the first",
        "source": _net(stride1="1", stride2="stride"),
        "caught_by": ["cifar_net__stage_walk"],
    },
    {
        "exercise": "cifar_net",
        "name": "stride_in_last_block",
        "why": "each stage shrinks the map in its LAST block instead of its first",
        "source": _net(
            blocks="blocks = [CifarBlock(in_channels, out_channels, stride if n == 1 else 1, "
            "residual)]\n"
            "        blocks += [CifarBlock(out_channels, out_channels, stride if i == n - 2 else 1, "
            "residual) for i in range(n - 1)]"
        ),
        "caught_by": ["cifar_net__stage_walk"],
    },
    {
        "exercise": "cifar_net",
        "name": "relu_before_addition",
        "why": "ReLU on the residual branch, then the addition and no ReLU after it",
        "source": _net(second="self.relu(self.bn2(self.conv2(out)))", last="out"),
        "caught_by": ["cifar_net__shortcuts"],
    },
    {
        "exercise": "cifar_net",
        "name": "no_relu_after_addition",
        "why": "returns z + shortcut without the final ReLU",
        "source": _net(last="out"),
        "caught_by": ["cifar_net__shortcuts"],
    },
    {
        "exercise": "cifar_net",
        "name": "bn_after_relu",
        "why": "conv -> ReLU -> BN: batch norm after the activation instead of before it",
        "source": _net(
            first="self.bn1(self.relu(self.conv1(X)))",
            second="self.bn2(self.relu(self.conv2(out)))",
        ),
        "caught_by": ["cifar_net__shortcuts"],
    },
    {
        "exercise": "cifar_net",
        "name": "plain_net_has_shortcuts",
        "why": "ignores residual=False: the 'plain' net has shortcuts too",
        "source": _net(residual="True"),
        "caught_by": ["cifar_net__shortcuts"],
    },
    {
        "exercise": "cifar_net",
        "name": "same_block_repeated",
        "why": "[block] * (n - 1) repeats ONE block object: its weights are shared",
        "source": _net(
            blocks="blocks = [CifarBlock(in_channels, out_channels, stride, residual)]\n"
            "        blocks += [CifarBlock(out_channels, out_channels, 1, residual)] * (n - 1)"
        ),
        "caught_by": ["cifar_net__param_count"],
    },
    {
        "exercise": "cifar_net",
        "name": "blocks_in_plain_list",
        "why": "keeps the blocks in a Python list attribute: their parameters are not registered",
        "source": _STAGE_WITH_LIST + _net().replace("nn.Sequential(*blocks)", "Stage(blocks)"),
        "caught_by": ["cifar_net__param_count"],
    },
    {
        "exercise": "cifar_net",
        "name": "no_stem_batchnorm",
        "why": "the first 3x3 convolution is not followed by BN",
        "source": _net(stem_bn=""),
    },
    {
        "exercise": "cifar_net",
        "name": "imagenet_stem_maxpool",
        "why": "adds the ImageNet stem's 3x3 stride-2 max-pool: maps 16/8/4 instead of 32/16/8",
        "source": _net(stem_pool='net.add_module("maxpool", nn.MaxPool2d(3, 2, 1))'),
        "caught_by": ["cifar_net__stage_walk"],
    },
    {
        "exercise": "cifar_net",
        "name": "fixed_8x8_average_pool",
        "why": "nn.AvgPool2d(8) assumes 32x32 inputs: 16x16 images leave a 2x2 map",
        "source": _net(pool="nn.AvgPool2d(8)"),
        "caught_by": ["cifar_net__output_shape"],
    },
    {
        "exercise": "cifar_net",
        "name": "one_block_too_many",
        "why": "n blocks after the first one: n + 1 blocks per stage (6n+8 layers)",
        "source": _net(
            blocks="blocks = [CifarBlock(in_channels, out_channels, stride, residual)]\n"
            "        blocks += [CifarBlock(out_channels, out_channels, 1, residual) "
            "for _ in range(n)]"
        ),
    },
    {
        "exercise": "cifar_net",
        "name": "shared_batchnorm",
        "why": "one BatchNorm2d module used after both convolutions of a block",
        "source": _net(bn2="self.bn1"),
    },
    {
        "exercise": "cifar_net",
        "name": "default_init",
        "why": "keeps PyTorch's default initialisation instead of He et al.'s (about 2.4x too small)",
        "source": _net(init="pass"),
        "caught_by": ["cifar_net__train_mode"],
    },
    {
        "exercise": "cifar_net",
        "name": "keras_momentum",
        "why": "BatchNorm2d(momentum=0.99), Keras' convention: the running averages barely move",
        "source": _net(
            bn2="nn.BatchNorm2d(out_channels, momentum=0.99)",
            stem_bn='net.add_module("bn1", nn.BatchNorm2d(16, momentum=0.99))',
        ).replace(
            "self.bn1 = nn.BatchNorm2d(out_channels)",
            "self.bn1 = nn.BatchNorm2d(out_channels, momentum=0.99)",
        ),
        "caught_by": ["cifar_net__train_mode"],
    },
    {
        "exercise": "cifar_net",
        "name": "extra_dropout",
        "why": "a Dropout(0.5) before the classifier: every eval-mode test is blind to it",
        "source": _net(extra_head="net.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(64, 10))"),
        "caught_by": ["cifar_net__train_mode"],
    },
    {
        "exercise": "cifar_net",
        "name": "detached_shortcut",
        "why": "out + shortcut(X).detach(): right values, but no gradient flows back along the shortcuts",
        "source": _net(add="out + self.shortcut(X).detach()"),
        "caught_by": ["cifar_net__gradients"],
    },
    {
        "exercise": "cifar_net",
        "name": "no_relu_between_convs",
        "why": "bn1's output goes straight into conv2: no ReLU inside the branch (shapes and counts unchanged)",
        "source": _net(first="self.bn1(self.conv1(X))"),
    },
    {
        "exercise": "cifar_net",
        "name": "no_stem_relu",
        "why": "the stem's ReLU is missing (shapes and counts unchanged)",
        "source": _net().replace('    net.add_module("relu", nn.ReLU())\n', ""),
    },
    {
        "exercise": "cifar_net",
        "name": "global_max_pool",
        "why": "a global MAX pool in the head: same shapes and counts as the average pool",
        "source": _net(pool="nn.AdaptiveMaxPool2d(1)"),
    },
    # --------------------------------------------------------------- layer_gradient_norms
    {
        "exercise": "layer_gradient_norms",
        "name": "activation_gradients",
        "why": "norms of dL/d(conv output), the activations' gradients, not the weights'",
        "source": _LGN
        + """    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    outputs = {}
    def keep(name):
        def hook(module, inputs, output):
            output.retain_grad()
            outputs[name] = output
        return hook
    handles = [m.register_forward_hook(keep(name)) for name, m in convs.items()]
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(X), y).backward()
    for h in handles:
        h.remove()
    return {name: outputs[name].grad.norm().item() for name in convs}
""",
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "gradients_accumulate",
        "why": "no zero_grad: a second call adds to the gradients already in .grad",
        "source": _lgn(zero="pass"),
        "caught_by": ["layer_gradient_norms__repeatable"],
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "summed_loss",
        "why": "cross-entropy summed over the batch (reduction='sum'), not the mean",
        "source": _lgn(reduction=", reduction='sum'"),
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "weight_norm_not_gradient",
        "why": "the norm of the weight itself instead of its gradient",
        "source": _lgn(value="m.weight.norm().item()"),
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "squared_norm",
        "why": "the squared norm (sum of squares) instead of the norm",
        "source": _lgn(value="(m.weight.grad ** 2).sum().item()"),
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "mean_absolute_gradient",
        "why": "the mean |gradient| entry instead of the Frobenius norm",
        "source": _lgn(value="m.weight.grad.abs().mean().item()"),
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "weight_and_bias_together",
        "why": "one norm over the weight's and the bias's gradients together",
        "source": _lgn(value="torch.cat([p.grad.flatten() for p in m.parameters()]).norm().item()"),
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "every_parameter",
        "why": "one entry per parameter tensor (conv, BN and linear weights and biases)",
        "source": _LGN
        + """    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(X), y).backward()
    return {name: p.grad.norm().item() for name, p in model.named_parameters()}
""",
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "top_level_children_only",
        "why": "looks only at model.named_children(): convs nested in blocks are missed",
        "source": _lgn(
            convs="{name: m for name, m in model.named_children() if isinstance(m, nn.Conv2d)}"
        ),
        "caught_by": ["layer_gradient_norms__values"],
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "keys_sorted_by_name",
        "why": "returns the layers sorted by name, not in the model's (depth) order",
        "source": _lgn(
            convs="dict(sorted((name, m) for name, m in model.named_modules() "
            "if isinstance(m, nn.Conv2d)))"
        ),
        "caught_by": ["layer_gradient_norms__values"],
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "tensor_values",
        "why": "returns 0-d tensors instead of Python floats",
        "source": _lgn(value="m.weight.grad.norm()"),
        "caught_by": ["layer_gradient_norms__values"],
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "switches_to_eval_mode",
        "why": "calls model.eval() first: BN then uses its running statistics, other gradients",
        "source": _lgn(zero="model.eval(); model.zero_grad(set_to_none=True)"),
    },
    # ---- how-constraint (course.grading.constraints: untampered): the forward trace the tests
    # read runs in the student's process; a notebook that can forge it earns none of cifar_net
    {
        "exercise": "cifar_net",
        "name": "forged_trace",
        "why": "one block too many, and a module class that answers named_modules() itself (what "
        "a trace or a structure check asks): the trace is the student's word",
        "earns_nothing": True,
        "flagged": True,
        "source": _net(
            blocks="blocks = [CifarBlock(in_channels, out_channels, stride, residual)]\n"
            "        blocks += [CifarBlock(out_channels, out_channels, 1, residual) "
            "for _ in range(n)]"
        )
        + "\n\nclass _Quiet(nn.Sequential):\n"
        "    def named_modules(self, *args, **kwargs):\n"
        "        return iter(list(super().named_modules(*args, **kwargs))[:-3])\n",
    },
]

# Whole-contract classes (running statistics, train-mode behaviour, gradient routes, side effects on
# the caller's objects, dtype/device portability): at least two per class where the lesson has it.
WRONG_ANSWERS += [
    # ---- running statistics
    {
        "exercise": "cifar_net",
        "name": "momentum_none",
        "why": "bn2 = BatchNorm2d(momentum=None): a cumulative average of the batch statistics",
        "source": _net(bn2="nn.BatchNorm2d(out_channels, momentum=None)"),
        "caught_by": ["cifar_net__train_mode"],
    },
    {
        "exercise": "cifar_net",
        "name": "bn1_applied_twice",
        "why": "bn1(bn1(conv1(X))): almost the same values, the running statistics update twice",
        "source": _net(first="self.relu(self.bn1(self.bn1(self.conv1(X))))"),
        "caught_by": ["cifar_net__train_mode"],
    },
    # ---- train-mode-only behaviour
    {
        "exercise": "cifar_net",
        "name": "functional_dropout",
        "why": "F.dropout between the convolutions of each block: no module, invisible in eval mode",
        "source": _net(second="self.bn2(self.conv2(F.dropout(out, 0.1, self.training)))"),
        "caught_by": ["cifar_net__train_mode"],
    },
    {
        "exercise": "cifar_net",
        "name": "input_noise_in_training",
        "why": "Gaussian noise added to every block's input in training mode, as a 'regulariser'",
        "source": _net(
            first="self.relu(self.bn1(self.conv1(X + 0.01 * torch.randn_like(X) if self.training else X)))"
        ),
        "caught_by": ["cifar_net__train_mode"],
    },
    # ---- gradient routes
    {
        "exercise": "ShortcutA",
        "name": "subsamples_data",
        "why": "X.data[:, :, ::s, ::s]: the values pass, the gradient does not",
        "source": _shortcut(forward=_SUB.replace("X[:, :,", "X.data[:, :,") + _PAD),
        "caught_by": ["ShortcutA__contract"],
    },
    {
        "exercise": "cifar_net",
        "name": "shortcut_of_detached_input",
        "why": "shortcut(X.detach()): right values, no gradient along the shortcuts",
        "source": _net(add="out + self.shortcut(X.detach())"),
        "caught_by": ["cifar_net__gradients"],
    },
    # ---- side effects on the caller's objects
    {
        "exercise": "layer_gradient_norms",
        "name": "takes_sgd_step",
        "why": "measures, then applies an SGD step: the caller's weights change",
        "source": _LGN
        + "    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}\n"
        "    model.zero_grad(set_to_none=True)\n"
        "    F.cross_entropy(model(X), y).backward()\n"
        "    norms = {name: m.weight.grad.norm().item() for name, m in convs.items()}\n"
        "    torch.optim.SGD(model.parameters(), lr=0.1).step()\n"
        "    return norms\n",
        "caught_by": ["layer_gradient_norms__repeatable"],
    },
    {
        "exercise": "layer_gradient_norms",
        "name": "freezes_bn_and_fc",
        "why": "switches requires_grad off for BN and linear layers to save work: frozen for the caller too",
        "source": _LGN + "    for m in model.modules():\n"
        "        if isinstance(m, (nn.BatchNorm2d, nn.Linear)):\n"
        "            m.requires_grad_(False)\n"
        "    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}\n"
        "    model.zero_grad(set_to_none=True)\n"
        "    F.cross_entropy(model(X), y).backward()\n"
        "    return {name: m.weight.grad.norm().item() for name, m in convs.items()}\n",
        "caught_by": ["layer_gradient_norms__repeatable"],
    },
    # ---- dtype and device portability
    {
        "exercise": "cifar_net",
        "name": "relu_against_cpu_zeros",
        "why": "the last ReLU as torch.maximum(out, torch.zeros(1)): float64 hides it, bfloat16/meta do not",
        "source": _net(last="torch.maximum(out, torch.zeros(1))"),
        "caught_by": ["cifar_net__output_shape"],
    },
    {
        "exercise": "cifar_net",
        "name": "shortcut_cast_to_float32",
        "why": "out + shortcut(X).float(): float64 wins over float32, a bfloat16 net returns float32",
        "source": _net(add="out + self.shortcut(X).float()"),
        "caught_by": ["cifar_net__output_shape"],
    },
]
