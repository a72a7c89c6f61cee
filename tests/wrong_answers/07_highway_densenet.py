"""Plausible wrong answers for lesson 07 (Highway networks and DenseNet); each must be caught by its tests."""

# --------------------------------------------------------------------------------- HighwayLayer
_HIGHWAY = """class HighwayLayer(nn.Module):
    def __init__(self, features, gate_bias=-2.0):
        super().__init__()
        self.transform = nn.Linear(features, features)
        self.gate = nn.Linear(features, features)
        with torch.no_grad():
{init}

    def forward(self, x):
{forward}
"""
_HIGHWAY_OK = {
    "init": "            self.gate.bias.fill_(gate_bias)",
    "forward": """        h = torch.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1 - t)""",
}


def _highway(**changes: str) -> str:
    unknown = set(changes) - set(_HIGHWAY_OK)
    assert not unknown, unknown
    return _HIGHWAY.format(**{**_HIGHWAY_OK, **changes})


def _highway_forward(
    last: str, h: str = "torch.relu(self.transform(x))", t: str = "torch.sigmoid(self.gate(x))"
) -> str:
    return _highway(forward=f"        h = {h}\n        t = {t}\n        {last}")


# --------------------------------------------------------------------------------- ConvHighwayUnit
_UNIT = """class ConvHighwayUnit(nn.Module):
    def __init__(self, channels, gate_bias=-2.0, gated=True):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.gate = None
        if {needs_gate}:
            self.gate = {gate}
            with torch.no_grad():
                self.gate.bias.fill_({bias})

    def forward(self, x):
        h = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.gate is None:
            return {ungated}
        t = torch.sigmoid(self.gate({gate_input}))
        return {gated_out}
"""
_UNIT_OK = {
    "needs_gate": "gated",
    "gate": "nn.Conv2d(channels, channels, 1)",
    "bias": "gate_bias",
    "ungated": "self.relu(h + x)",
    "gate_input": "x",
    "gated_out": "self.relu(h * t + x * (1 - t))",
}


def _unit(**changes: str) -> str:
    unknown = set(changes) - set(_UNIT_OK)
    assert not unknown, unknown
    return _UNIT.format(**{**_UNIT_OK, **changes})


# --------------------------------------------------------------------------------- skip_net_updates
_SKIP = """def skip_net_updates(a0, W1, b1, W2, b2, Ws, da2, lr):
    z1 = W1 @ a0 + b1
    a1 = torch.relu(z1)
    z2 = {z2}
    delta2 = {delta2}
    delta1 = {delta1}
    da0 = {da0}
    return {{
        "delta2": delta2,
        "delta1": delta1,
        "da0": da0,
        "W2": {W2},
        "Ws": {Ws},
        "b2": {b2},
        "W1": {W1},
        "b1": {b1},
    }}
"""
_SKIP_OK = {
    "z2": "W2 @ a1 + Ws @ a0 + b2",
    "delta2": "da2 * (z2 > 0)",
    "delta1": "(W2.T @ delta2) * (z1 > 0)",
    "da0": "W1.T @ delta1 + Ws.T @ delta2",
    "W2": "-lr * delta2 @ a1.T",
    "Ws": "-lr * delta2 @ a0.T",
    "b2": "-lr * delta2.sum(dim=1, keepdim=True)",
    "W1": "-lr * delta1 @ a0.T",
    "b1": "-lr * delta1.sum(dim=1, keepdim=True)",
}


def _skip(**changes: str) -> str:
    unknown = set(changes) - set(_SKIP_OK)
    assert not unknown, unknown
    return _SKIP.format(**{**_SKIP_OK, **changes})


# --------------------------------------------------------------------------------- densenet_channels
_PLAN = """def densenet_channels(num_init_features, block_config, growth_rate, compression=0.5):
    channels = num_init_features
    plan = []
    for i, num_layers in enumerate(block_config):
        channels += {grow}
        plan.append(channels)
        if {has_transition}:
            channels = {compress}
            plan.append(channels)
    return plan
"""
_PLAN_OK = {
    "grow": "num_layers * growth_rate",
    "has_transition": "i < len(block_config) - 1",
    "compress": "int(math.floor(compression * channels))",
}


def _plan(**changes: str) -> str:
    unknown = set(changes) - set(_PLAN_OK)
    assert not unknown, unknown
    return _PLAN.format(**{**_PLAN_OK, **changes})


# --------------------------------------------------------------------------------- DenseLayer
_LAYER = """class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        width = {width}
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias={bias})
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth_rate, kernel_size=3, padding={padding}, bias={bias})

    def forward(self, x):
{forward}
"""
_LAYER_OK = {
    "width": "bn_size * growth_rate",
    "bias": "False",
    "padding": "1",
    "forward": """        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([x, new], dim=1)""",
}


def _layer(**changes: str) -> str:
    unknown = set(changes) - set(_LAYER_OK)
    assert not unknown, unknown
    return _LAYER.format(**{**_LAYER_OK, **changes})


# --------------------------------------------------------------------------------- DenseBlock
_BLOCK = """class DenseBlock(nn.Sequential):
    def __init__(self, num_layers, in_channels, growth_rate, bn_size=4):
        super().__init__()
        for i in range(num_layers):
            self.add_module({name}, DenseLayer({layer_in}, growth_rate, {bn}))
{forward}"""
_BLOCK_OK = {
    "name": 'f"denselayer{i + 1}"',
    "layer_in": "in_channels + i * growth_rate",
    "bn": "bn_size",
    "forward": "",
}


def _block(**changes: str) -> str:
    unknown = set(changes) - set(_BLOCK_OK)
    assert not unknown, unknown
    return _BLOCK.format(**{**_BLOCK_OK, **changes})


# --------------------------------------------------------------------------------- Transition
_TRANSITION = """class Transition(nn.Sequential):
    def __init__(self, in_channels, compression=0.5):
        super().__init__()
        out_channels = {out}
{layers}
"""
_TRANSITION_OK = {
    "out": "int(math.floor(compression * in_channels))",
    "layers": """        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)""",
}


def _transition(**changes: str) -> str:
    unknown = set(changes) - set(_TRANSITION_OK)
    assert not unknown, unknown
    return _TRANSITION.format(**{**_TRANSITION_OK, **changes})


# --------------------------------------------------------------------------------- DenseNet
_NET = """class DenseNet(nn.Module):
    def __init__(self, block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, bn_size=4,
                 compression=0.5, num_classes=1000, stem="imagenet"):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(stem)
        self.features = nn.Sequential()
        if stem == "imagenet":
            self.features.add_module("conv0", nn.Conv2d(3, num_init_features, 7, stride={stride}, padding=3, bias=False))
            self.features.add_module("norm0", nn.BatchNorm2d(num_init_features))
            self.features.add_module("relu0", nn.ReLU(inplace=True))
            self.features.add_module("pool0", nn.MaxPool2d(3, stride=2, padding=1))
        else:
{cifar_stem}
        channels = num_init_features
        for i, num_layers in enumerate(block_config, start=1):
            self.features.add_module(f"denseblock{{i}}", DenseBlock(num_layers, channels, growth_rate, bn_size))
            channels += num_layers * growth_rate
            if {has_transition}:
                transition = {transition}
                self.features.add_module(f"transition{{i}}", transition)
                channels = transition.conv.out_channels
{norm5}
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
{forward}
"""
_NET_OK = {
    "stride": "2",
    "cifar_stem": '            self.features.add_module("conv0", nn.Conv2d(3, num_init_features, 3, stride=1, '
    "padding=1, bias=False))",
    "has_transition": "i < len(block_config)",
    "transition": "Transition(channels, compression)",
    "norm5": '        self.features.add_module("norm5", nn.BatchNorm2d(channels))',
    "forward": """        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))""",
}


def _net(**changes: str) -> str:
    unknown = set(changes) - set(_NET_OK)
    assert not unknown, unknown
    return _NET.format(**{**_NET_OK, **changes})


def _swap(source: str, old: str, new: str) -> str:
    """``source`` with ``old`` (which must occur) replaced by ``new``."""
    assert old in source, old
    return source.replace(old, new)


def _net121(body: str) -> str:
    return f"def DenseNet121(num_classes=1000):\n    return {body}\n"


WRONG_ANSWERS = [
    # ---------------------------------------------------------------- HighwayLayer
    {
        "exercise": "HighwayLayer",
        "name": "carry_gate_T",
        "why": "the carry gate is T instead of 1 - T: y = H·T + x·T",
        "source": _highway_forward("return h * t + x * t"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "gates_swapped",
        "why": "T multiplies x and 1 - T multiplies H(x)",
        "source": _highway_forward("return h * (1 - t) + x * t"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "positive_gate_bias",
        "why": "the gate bias starts at +|gate_bias|: the layer starts by transforming, not carrying",
        "source": _highway(init="            self.gate.bias.fill_(abs(gate_bias))"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "gate_bias_not_set",
        "why": "the gate keeps nn.Linear's default bias (the carry bias is never applied)",
        "source": _highway(init="            pass"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "bias_on_transform",
        "why": "gate_bias is written into the transform's bias instead of the gate's",
        "source": _highway(init="            self.transform.bias.fill_(gate_bias)"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "gate_weight_zeroed",
        "why": "the gate's weight is zeroed as well: T is constant and the gate cannot start learning from x",
        "source": _highway(
            init="            self.gate.bias.fill_(gate_bias)\n            self.gate.weight.zero_()"
        ),
    },
    {
        "exercise": "HighwayLayer",
        "name": "gate_from_transformed_output",
        "why": "T = σ(W_T H(x) + b_T): the gate reads the transformed output instead of the input",
        "source": _highway_forward("return h * t + x * (1 - t)", t="torch.sigmoid(self.gate(h))"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "linear_gate",
        "why": "no sigmoid on the gate: T is unbounded",
        "source": _highway_forward("return h * t + x * (1 - t)", t="self.gate(x)"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "bias_added_twice",
        "why": "forward adds gate_bias to the gate's (already biased) output",
        "source": _highway_forward(
            "return h * t + x * (1 - t)", t="torch.sigmoid(self.gate(x) + self.gate.bias)"
        ),
    },
    {
        "exercise": "HighwayLayer",
        "name": "no_relu_on_H",
        "why": "H(x) = W_H x + b_H without its ReLU",
        "source": _highway_forward("return h * t + x * (1 - t)", h="self.transform(x)"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "relu_after_sum",
        "why": "a ReLU after the gated sum (negative inputs can no longer be carried)",
        "source": _highway_forward("return torch.relu(h * t + x * (1 - t))"),
    },
    {
        "exercise": "HighwayLayer",
        "name": "gate_detached",
        "why": "the gate is detached: values right, the gate never learns",
        "source": _highway_forward(
            "return h * t + x * (1 - t)", t="torch.sigmoid(self.gate(x)).detach()"
        ),
    },
    {
        "exercise": "HighwayLayer",
        "name": "carry_in_place",
        "why": "the carry term scales the caller's x in place (x.mul_)",
        "source": _highway_forward("return h * t + x.mul_(1 - t)"),
    },
    # ---------------------------------------------------------------- ConvHighwayUnit
    {
        "exercise": "ConvHighwayUnit",
        "name": "carry_gate_T",
        "why": "the carry gate is T instead of 1 - T",
        "source": _unit(gated_out="self.relu(h * t + x * t)"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "gate_from_H",
        "why": "the gate reads H(x) instead of the unit's input",
        "source": _unit(gate_input="h"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "no_final_relu",
        "why": "the gated sum is returned without the last ReLU",
        "source": _unit(gated_out="h * t + x * (1 - t)"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "residual_relu_before_add",
        "why": "ungated: relu(H(x)) + x, the ReLU before the shortcut",
        "source": _unit(ungated="self.relu(h) + x"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "gate_always_built",
        "why": "the gate exists (and is used) even with gated=False",
        "source": _unit(needs_gate="True"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "gate_3x3",
        "why": "the gate is a 3x3 convolution instead of 1x1",
        "source": _unit(gate="nn.Conv2d(channels, channels, 3, padding=1)"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "positive_gate_bias",
        "why": "the gate's bias starts at -gate_bias (positive): the unit starts by transforming",
        "source": _unit(bias="-gate_bias"),
    },
    # ---------------------------------------------------------------- skip_net_updates
    {
        "exercise": "skip_net_updates",
        "name": "skip_update_uses_a_l_minus_1",
        "why": "ΔWs = -η δ[l] a[l-1]ᵀ: the activation of the wrong layer (right shape when n0 = n1)",
        "source": _skip(Ws="-lr * delta2 @ a1.T"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "skip_update_uses_delta_l_minus_1",
        "why": "ΔWs = -η δ[l-1] a[l-2]ᵀ: the delta of the wrong layer (right shape when n1 = n2)",
        "source": _skip(Ws="-lr * delta1 @ a0.T"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "normal_update_uses_delta_l_minus_1",
        "why": "ΔW2 = -η δ[l-1] a[l-1]ᵀ: the delta of the wrong layer",
        "source": _skip(W2="-lr * delta1 @ a1.T"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "normal_update_uses_z",
        "why": "ΔW2 = -η δ[l] z[l-1]ᵀ: the pre-activation instead of the activation",
        "source": _skip(W2="-lr * delta2 @ z1.T"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "updates_wrong_sign",
        "why": "updates of +η·gradient: gradient ascent",
        "source": _skip(
            W2="lr * delta2 @ a1.T",
            Ws="lr * delta2 @ a0.T",
            b2="lr * delta2.sum(dim=1, keepdim=True)",
            W1="lr * delta1 @ a0.T",
            b1="lr * delta1.sum(dim=1, keepdim=True)",
        ),
    },
    {
        "exercise": "skip_net_updates",
        "name": "no_learning_rate",
        "why": "the updates are minus the gradients, without η",
        "source": _skip(
            W2="-delta2 @ a1.T",
            Ws="-delta2 @ a0.T",
            b2="-delta2.sum(dim=1, keepdim=True)",
            W1="-delta1 @ a0.T",
            b1="-delta1.sum(dim=1, keepdim=True)",
        ),
    },
    {
        "exercise": "skip_net_updates",
        "name": "mean_over_examples",
        "why": "the updates average over the m examples instead of summing",
        "source": _skip(
            W2="-lr * delta2 @ a1.T / a0.shape[1]",
            Ws="-lr * delta2 @ a0.T / a0.shape[1]",
            b2="-lr * delta2.mean(dim=1, keepdim=True)",
            W1="-lr * delta1 @ a0.T / a0.shape[1]",
            b1="-lr * delta1.mean(dim=1, keepdim=True)",
        ),
    },
    {
        "exercise": "skip_net_updates",
        "name": "delta2_not_masked",
        "why": "δ[l] = dE/da[l], forgetting the ReLU's derivative (right in shape only)",
        "source": _skip(delta2="da2"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "forward_without_skip",
        "why": "z2 = W2 a1 + b2 in the forward pass: the skip path is missing from the ReLU mask",
        "source": _skip(z2="W2 @ a1 + b2"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "delta1_not_masked",
        "why": "δ[l-1] = W2ᵀ δ[l] without the ReLU derivative of layer l-1",
        "source": _skip(delta1="W2.T @ delta2"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "delta1_masked_by_layer_l",
        "why": "δ[l-1] masked with the ReLU derivative of the wrong layer (z2 instead of z1)",
        "source": _skip(delta1="(W2.T @ delta2) * (z2 > 0)"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "da0_without_skip",
        "why": "dE/da0 = W1ᵀ δ[l-1] only: the gradient of the skip path is dropped",
        "source": _skip(da0="W1.T @ delta1"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "da0_skip_only",
        "why": "dE/da0 = Wsᵀ δ[l] only: the normal path's gradient is dropped",
        "source": _skip(da0="Ws.T @ delta2"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "transposed_skip_update",
        "why": "ΔWs = -η a[l-2] δ[l]ᵀ: the outer product the wrong way round (right shape when n0 = n2)",
        "source": _skip(Ws="-lr * (a0 @ delta2.T)"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "bias_update_flat",
        "why": "bias updates of shape (n,) instead of (n, 1)",
        "source": _skip(b2="-lr * delta2.sum(dim=1)", b1="-lr * delta1.sum(dim=1)"),
    },
    {
        "exercise": "skip_net_updates",
        "name": "zeros_of_the_right_shape",
        "why": "every entry a zero tensor of the right shape (right in shape only)",
        "source": """def skip_net_updates(a0, W1, b1, W2, b2, Ws, da2, lr):
    m = a0.shape[1]
    z = lambda *s: torch.zeros(*s, dtype=a0.dtype)
    return {"delta2": z(W2.shape[0], m), "delta1": z(W1.shape[0], m), "da0": z(*a0.shape),
            "W2": z(*W2.shape), "Ws": z(*Ws.shape), "b2": z(*b2.shape), "W1": z(*W1.shape), "b1": z(*b1.shape)}
""",
    },
    {
        "exercise": "skip_net_updates",
        "name": "uses_autograd",
        "why": "the right numbers, from torch.autograd instead of by hand",
        "source": """def skip_net_updates(a0, W1, b1, W2, b2, Ws, da2, lr):
    a0, W1, b1, W2, b2, Ws = (t.detach().clone().requires_grad_() for t in (a0, W1, b1, W2, b2, Ws))
    z1 = W1 @ a0 + b1
    z2 = W2 @ torch.relu(z1) + Ws @ a0 + b2
    g = torch.autograd.grad(torch.relu(z2), [z2, z1, a0, W2, Ws, b2, W1, b1], grad_outputs=da2)
    out = dict(zip(["delta2", "delta1", "da0"], g[:3]))
    out.update({k: -lr * v for k, v in zip(["W2", "Ws", "b2", "W1", "b1"], g[3:])})
    return out
""",
        "caught_by": ["skip_net_updates__by_hand"],
    },
    # ---------------------------------------------------------------- densenet_channels
    {
        "exercise": "densenet_channels",
        "name": "growth_once_per_block",
        "why": "a block adds growth_rate once, not once per layer",
        "source": _plan(grow="growth_rate"),
    },
    {
        "exercise": "densenet_channels",
        "name": "transition_after_last_block",
        "why": "a transition (and its entry) after the last block too",
        "source": _plan(has_transition="True"),
    },
    {
        "exercise": "densenet_channels",
        "name": "round_not_floor",
        "why": "round(θ·c) instead of ⌊θ·c⌋ (differs for odd channel counts)",
        "source": _plan(compress="round(compression * channels)"),
    },
    {
        "exercise": "densenet_channels",
        "name": "ceil_not_floor",
        "why": "⌈θ·c⌉ instead of ⌊θ·c⌋",
        "source": _plan(compress="math.ceil(compression * channels)"),
    },
    {
        "exercise": "densenet_channels",
        "name": "float_channels",
        "why": "θ·c kept as a float (a channel count must be an integer)",
        "source": _plan(compress="compression * channels"),
    },
    {
        "exercise": "densenet_channels",
        "name": "fixed_halving",
        "why": "transitions always halve (c // 2), ignoring compression",
        "source": _plan(compress="channels // 2"),
    },
    # ---------------------------------------------------------------- DenseLayer
    {
        "exercise": "DenseLayer",
        "name": "concat_wrong_dim",
        "why": "the new features are concatenated along the height (dim 2), not the channels",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([x, new], dim=-2)"""
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "growth_rate_as_bottleneck",
        "why": "the bottleneck 1x1 conv outputs growth_rate channels instead of bn_size·growth_rate",
        "source": _layer(width="growth_rate"),
    },
    {
        "exercise": "DenseLayer",
        "name": "bottleneck_ignores_bn_size",
        "why": "the bottleneck is always 4·growth_rate wide, whatever bn_size",
        "source": _layer(width="4 * growth_rate"),
    },
    {
        "exercise": "DenseLayer",
        "name": "new_features_first",
        "why": "[new, x]: the input no longer comes first",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([new, x], dim=1)"""
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "no_concatenation",
        "why": "returns only the new features (torchvision's _DenseLayer), not the input with them",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(new)))"""
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "relu_before_norm",
        "why": "ReLU (in place, on the input) before the batch norm",
        "source": _layer(
            forward="""        new = self.conv1(self.norm1(self.relu1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([x, new], dim=1)"""
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "no_relu2",
        "why": "the second ReLU is skipped",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.norm2(new))
        return torch.cat([x, new], dim=1)"""
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "conv_bias",
        "why": "the convolutions keep their bias although BN follows or precedes them",
        "source": _layer(bias="True"),
    },
    # ---------------------------------------------------------------- DenseBlock
    {
        "exercise": "DenseBlock",
        "name": "same_input_width",
        "why": "every layer is built for in_channels inputs (the growth is forgotten)",
        "source": _block(layer_in="in_channels"),
    },
    {
        "exercise": "DenseBlock",
        "name": "concatenates_again",
        "why": "the block concatenates each layer's output onto its input again (the layer already did)",
        "source": _block(
            forward="""
    def forward(self, x):
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x
"""
        ),
    },
    {
        "exercise": "DenseBlock",
        "name": "wrong_names",
        "why": "layers named layer1, layer2 (not torchvision's denselayer1, ...)",
        "source": _block(name='f"layer{i + 1}"'),
    },
    {
        "exercise": "DenseBlock",
        "name": "bn_size_dropped",
        "why": "bn_size is not passed on to the layers",
        "source": _block(bn="4"),
    },
    {
        "exercise": "DenseBlock",
        "name": "not_dense",
        "why": "every layer sees only the block's input (wide, not dense): right output shape, other function",
        "source": _block(
            layer_in="in_channels",
            forward="""
    def forward(self, x):
        return torch.cat([x] + [layer(x)[:, x.shape[1]:] for layer in self], dim=1)
""",
        ),
    },
    # ---------------------------------------------------------------- Transition
    {
        "exercise": "Transition",
        "name": "no_compression",
        "why": "the transition keeps all channels (compression ignored)",
        "source": _transition(out="in_channels"),
    },
    {
        "exercise": "Transition",
        "name": "max_pool",
        "why": "2x2 max pooling instead of average pooling",
        "source": _transition(
            layers="""        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)"""
        ),
        "message": "MaxPool2d",  # the grader's message names the student's class
    },
    {
        "exercise": "Transition",
        "name": "ceil_channels",
        "why": "⌈θ·C⌉ output channels instead of ⌊θ·C⌋",
        "source": _transition(out="math.ceil(compression * in_channels)"),
    },
    {
        "exercise": "Transition",
        "name": "no_bn_relu",
        "why": "conv and pool only, without the batch norm and ReLU before them",
        "source": _transition(
            layers="""        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)"""
        ),
    },
    {
        "exercise": "Transition",
        "name": "pool_stride_1",
        "why": "2x2 average pooling with stride 1 (the resolution is not halved)",
        "source": _transition(
            layers="""        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=1)"""
        ),
    },
    # ---------------------------------------------------------------- DenseNet
    {
        "exercise": "DenseNet",
        "name": "no_final_relu",
        "why": "the head pools norm5's output without a ReLU",
        "source": _net(
            forward="""        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))"""
        ),
    },
    {
        "exercise": "DenseNet",
        "name": "max_pool_head",
        "why": "global max pooling instead of global average pooling",
        "source": _net(
            forward="""        x = F.adaptive_max_pool2d(F.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))"""
        ),
    },
    {
        "exercise": "DenseNet",
        "name": "transition_after_last_block",
        "why": "a transition after the last block too (extra parameters, halved resolution)",
        "source": _net(has_transition="True"),
    },
    {
        "exercise": "DenseNet",
        "name": "no_norm5",
        "why": "the final batch norm is missing",
        "source": _net(norm5=""),
    },
    {
        "exercise": "DenseNet",
        "name": "imagenet_stem_stride_1",
        "why": "the ImageNet stem's 7x7 convolution has stride 1",
        "source": _net(stride="1"),
    },
    {
        "exercise": "DenseNet",
        "name": "compression_ignored",
        "why": "transitions built with their default compression, not the network's",
        "source": _net(transition="Transition(channels)"),
    },
    # ---------------------------------------------------------------- DenseNet121
    {
        "exercise": "DenseNet121",
        "name": "densenet169_blocks",
        "why": "blocks (6, 12, 32, 32): DenseNet-169's configuration",
        "source": _net121(
            "DenseNet(block_config=(6, 12, 32, 32), growth_rate=32, num_init_features=64, num_classes=num_classes)"
        ),
    },
    {
        "exercise": "DenseNet121",
        "name": "growth_rate_24",
        "why": "growth rate 24 instead of 32",
        "source": _net121(
            "DenseNet(block_config=(6, 12, 24, 16), growth_rate=24, num_init_features=64, num_classes=num_classes)"
        ),
    },
    {
        "exercise": "DenseNet121",
        "name": "cifar_stem",
        "why": "the CIFAR stem (3x3 conv0, no pool): not torchvision's layout",
        "source": _net121(
            "DenseNet(block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, "
            'num_classes=num_classes, stem="cifar")'
        ),
    },
    {
        "exercise": "DenseNet121",
        "name": "num_classes_ignored",
        "why": "always 1000 classes",
        "source": _net121(
            "DenseNet(block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64)"
        ),
    },
    # ---- how-constraint (course.grading.constraints: by hand): every test of the exercise
    {
        "exercise": "skip_net_updates",
        "name": "hidden_autograd_in_a_helper",
        "why": "the right numbers from torch.func.vjp, imported under another name before the "
        "guard and called from a helper of the student's",
        "earns_nothing": True,
        "source": """from torch.func import vjp as _pullback


def _net(a0, W1, b1, W2, b2, Ws):
    return torch.relu(W2 @ torch.relu(W1 @ a0 + b1) + Ws @ a0 + b2)


def skip_net_updates(a0, W1, b1, W2, b2, Ws, da2, lr):
    with torch.enable_grad():
        _, pull = _pullback(_net, a0, W1, b1, W2, b2, Ws)
        da0, gW1, gb1, gW2, gb2, gWs = pull(da2)
    z1 = W1 @ a0 + b1
    z2 = W2 @ torch.relu(z1) + Ws @ a0 + b2
    delta2 = da2 * (z2 > 0)
    delta1 = (W2.T @ delta2) * (z1 > 0)
    return {"delta2": delta2, "delta1": delta1, "da0": da0, "W2": -lr * gW2, "Ws": -lr * gWs,
            "b2": -lr * gb2, "W1": -lr * gW1, "b1": -lr * gb1}
""",
    },
    {
        "exercise": "skip_net_updates",
        "name": "autograd_every_cell",
        "why": "torch.autograd.grad for every output: earns none of the exercise's points "
        "(issue 22: not only the __by_hand cell)",
        "earns_nothing": True,
        "source": """def skip_net_updates(a0, W1, b1, W2, b2, Ws, da2, lr):
    with torch.enable_grad():
        a0, W1, b1, W2, b2, Ws = (t.detach().clone().requires_grad_() for t in (a0, W1, b1, W2, b2, Ws))
        z1 = W1 @ a0 + b1
        z2 = W2 @ torch.relu(z1) + Ws @ a0 + b2
        g = torch.autograd.grad(torch.relu(z2), [z2, z1, a0, W2, Ws, b2, W1, b1], grad_outputs=da2)
    out = dict(zip(["delta2", "delta1", "da0"], g[:3]))
    out.update({k: -lr * v for k, v in zip(["W2", "Ws", "b2", "W1", "b1"], g[3:])})
    return out
""",
    },
]

# Issue 21's classes, entries of their own: (1) running statistics, (2) train-mode-only behaviour,
# (3) gradient routes, (4) side effects on the caller's objects, (5) dtype/device portability,
# (6) messages that name the student's real class under the grader.
WRONG_ANSWERS += [
    # (1) running statistics
    {
        "exercise": "ConvHighwayUnit",
        "name": "bn_momentum_0_9",
        "why": "(1) batch norms with momentum 0.9 (the 'keep 90 %' convention of other libraries): same outputs, wrong running statistics",
        "source": _swap(
            _swap(
                _unit(),
                "self.bn1 = nn.BatchNorm2d(channels)",
                "self.bn1 = nn.BatchNorm2d(channels, momentum=0.9)",
            ),
            "self.bn2 = nn.BatchNorm2d(channels)",
            "self.bn2 = nn.BatchNorm2d(channels, momentum=0.9)",
        ),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "main_path_twice",
        "why": "(1) the ungated branch computes H(x) again: same outputs, each batch norm updates twice per forward",
        "source": _unit(
            ungated="self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)"
        ),
    },
    {
        "exercise": "DenseLayer",
        "name": "momentum_none",
        "why": "(1) momentum=None (a cumulative average of all batches) instead of PyTorch's 0.1",
        "source": _swap(
            _swap(
                _layer(),
                "nn.BatchNorm2d(in_channels)",
                "nn.BatchNorm2d(in_channels, momentum=None)",
            ),
            "nn.BatchNorm2d(width)",
            "nn.BatchNorm2d(width, momentum=None)",
        ),
    },
    {
        "exercise": "Transition",
        "name": "keras_momentum",
        "why": "(1) momentum=0.99 copied from Keras' BatchNormalization (which keeps 99 % of the old value)",
        "source": _swap(
            _transition(),
            "nn.BatchNorm2d(in_channels)",
            "nn.BatchNorm2d(in_channels, momentum=0.99)",
        ),
    },
    {
        "exercise": "Transition",
        "name": "no_running_stats",
        "why": "(1) track_running_stats=False: no running statistics, batch statistics even in eval mode",
        "source": _swap(
            _transition(),
            "nn.BatchNorm2d(in_channels)",
            "nn.BatchNorm2d(in_channels, track_running_stats=False)",
        ),
    },
    {
        "exercise": "DenseNet",
        "name": "features_twice",
        "why": "(1) forward runs self.features twice (a leftover line): same logits, every batch norm updates twice",
        "source": _net(
            forward="""        features = self.features(x)
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))"""
        ),
    },
    {
        "exercise": "DenseNet121",
        "name": "keras_momentum",
        "why": "(1) every batch norm's momentum set to 0.99 (Keras' DenseNet121): the running statistics barely move",
        "source": """def DenseNet121(num_classes=1000):
    model = DenseNet(block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, num_classes=num_classes)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.99
    return model
""",
    },
    # (2) train-mode-only behaviour
    {
        "exercise": "ConvHighwayUnit",
        "name": "dropout_on_H",
        "why": "(2) dropout on H(x) in training mode: eval outputs right, training outputs random",
        "source": _unit(gated_out="self.relu(F.dropout(h, 0.1, self.training) * t + x * (1 - t))"),
    },
    {
        "exercise": "DenseLayer",
        "name": "dropout_0_2",
        "why": "(2) dropout 0.2 on the new channels (the paper's CIFAR setting without augmentation), not in the contract",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = F.dropout(self.conv2(self.relu2(self.norm2(new))), p=0.2, training=self.training)
        return torch.cat([x, new], dim=1)"""
        ),
    },
    {
        "exercise": "DenseNet",
        "name": "dropout_head",
        "why": "(2) dropout before the classifier: every eval-mode test passes",
        "source": _net(
            forward="""        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(F.dropout(torch.flatten(x, 1), p=0.2, training=self.training))"""
        ),
    },
    # (3) gradient routes
    {
        "exercise": "HighwayLayer",
        "name": "transform_no_grad",
        "why": "(3) H(x) computed under torch.no_grad(): right values, no gradient into H or through it",
        "source": _highway(
            forward="""        with torch.no_grad():
            h = torch.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1 - t)"""
        ),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "carry_detached",
        "why": "(3) the carry uses x.detach(): right values, the gradient no longer takes the carry route",
        "source": _unit(gated_out="self.relu(h * t + x.detach() * (1 - t))"),
    },
    {
        "exercise": "DenseLayer",
        "name": "bottleneck_no_grad",
        "why": "(3) the bottleneck computed under torch.no_grad() ('recomputed later', Pleiss et al. done wrong): norm1 and conv1 never learn",
        "source": _layer(
            forward="""        with torch.no_grad():
            new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([x, new], dim=1)"""
        ),
    },
    {
        "exercise": "DenseBlock",
        "name": "detached_features",
        "why": "(3) the features handed on are detached after each layer (to save memory): right values, the dense connections carry no gradient",
        "source": _block(
            forward="""
    def forward(self, x):
        for layer in self:
            out = layer(x)
            x = torch.cat([x.detach(), out[:, x.shape[1]:]], dim=1)
        return x
"""
        ),
    },
    {
        "exercise": "Transition",
        "name": "conv_frozen",
        "why": "(3) the 1x1 compression is frozen (requires_grad False): it never learns",
        "source": _transition(
            layers="""        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.conv.weight.requires_grad_(False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)"""
        ),
    },
    {
        "exercise": "DenseNet121",
        "name": "features_frozen",
        "why": "(3) the features are frozen as for fine-tuning: only the classifier would learn",
        "source": """def DenseNet121(num_classes=1000):
    model = DenseNet(block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, num_classes=num_classes)
    for p in model.features.parameters():
        p.requires_grad_(False)
    return model
""",
    },
    # (4) side effects on the caller's objects
    {
        "exercise": "ConvHighwayUnit",
        "name": "residual_in_place",
        "why": "(4) the ungated unit adds H(x) into the caller's x in place (x += h)",
        "source": _unit(ungated="self.relu(x.add_(h))"),
    },
    {
        "exercise": "DenseBlock",
        "name": "zero_grad_in_forward",
        "why": "(4) forward clears the gradients (self.zero_grad()): the caller's accumulated .grad is lost",
        "source": _block(
            forward="""
    def forward(self, x):
        self.zero_grad()
        return super().forward(x)
"""
        ),
    },
    {
        "exercise": "DenseNet",
        "name": "zero_grad_in_forward",
        "why": "(4) forward clears the gradients (self.zero_grad()): gradient accumulation over batches breaks",
        "source": _net(
            forward="""        self.zero_grad()
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))"""
        ),
    },
    # (5) dtype / device portability
    {
        "exercise": "HighwayLayer",
        "name": "carry_ones_cpu",
        "why": "(5) the carry gate built as torch.ones(x.shape) - t: a float32 CPU tensor (breaks on another device or dtype)",
        "source": _highway_forward("return h * t + x * (torch.ones(x.shape) - t)"),
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "carry_ones_cpu",
        "why": "(5) 1 - T built from torch.ones(t.shape): float32 on the CPU (float64 inputs hide it)",
        "source": _unit(gated_out="self.relu(h * t + x * (torch.ones(t.shape) - t))"),
    },
    {
        "exercise": "DenseLayer",
        "name": "concat_buffer",
        "why": "(5) the output written into torch.zeros(...): a float32 CPU buffer, whatever the input",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        out = torch.zeros(x.shape[0], x.shape[1] + new.shape[1], x.shape[2], x.shape[3])
        out[:, :x.shape[1]] = x
        out[:, x.shape[1]:] = new
        return out"""
        ),
    },
    {
        "exercise": "DenseBlock",
        "name": "preallocated_buffer",
        "why": "(5) one buffer for all channels (Pleiss et al.'s idea) made with torch.empty(...) without dtype/device",
        "source": _block(
            forward="""
    def forward(self, x):
        c = x.shape[1]
        k = self.denselayer1.conv2.out_channels
        out = torch.empty(x.shape[0], c + len(self) * k, x.shape[2], x.shape[3])
        out[:, :c] = x
        for layer in self:
            out[:, c:c + k] = layer(out[:, :c])[:, c:]
            c += k
        return out
"""
        ),
    },
    # (6) messages name the student's real class
    {
        "exercise": "HighwayLayer",
        "name": "gate_with_sigmoid_module",
        "why": "(6) the gate is nn.Sequential(Linear, Sigmoid): the message must say Sequential, not the grader's proxy",
        "source": """class HighwayLayer(nn.Module):
    def __init__(self, features, gate_bias=-2.0):
        super().__init__()
        self.transform = nn.Linear(features, features)
        self.gate = nn.Sequential(nn.Linear(features, features), nn.Sigmoid())
        with torch.no_grad():
            self.gate[0].bias.fill_(gate_bias)

    def forward(self, x):
        h = torch.relu(self.transform(x))
        t = self.gate(x)
        return h * t + x * (1 - t)
""",
        "message": "got Sequential",
    },
    {
        "exercise": "DenseLayer",
        "name": "group_norm",
        "why": "(6) norm1 is a GroupNorm (same parameter count): the message must name GroupNorm",
        "source": _swap(
            _layer(),
            "self.norm1 = nn.BatchNorm2d(in_channels)",
            "self.norm1 = nn.GroupNorm(1, in_channels)",
        ),
        "message": "got GroupNorm",
    },
    # issue 22 §4: the unknown stem has its own test cell
    {
        "exercise": "DenseNet",
        "name": "unknown_stem_falls_back",
        "why": "any stem other than 'imagenet' silently builds the CIFAR stem",
        "source": _swap(
            _net(),
            '        if stem not in ("imagenet", "cifar"):\n            raise ValueError(stem)\n',
            "",
        ),
        "caught_by": ["DenseNet__unknown_stem"],
    },
    # issue 20 §3: structure cells establish structure from behaviour (the test's weights loaded by the
    # contract's names, outputs compared with the grader's reference), never from what the module reports
    # about itself. Each module below reports the contract (its parameters, names, children or class) while
    # computing something else, and used to pass its structure cell; now that cell catches it.
    {
        "exercise": "HighwayLayer",
        "name": "hidden_mixer_reports_contract",
        "why": "(issue 20 §3) a third linear layer after the sum, hidden from parameters() and state_dict(), "
        "and a load_state_dict that is never strict: it reports the contract's four tensors",
        "source": """class HighwayLayer(nn.Module):
    def __init__(self, features, gate_bias=-2.0):
        super().__init__()
        self.transform = nn.Linear(features, features)
        self.gate = nn.Linear(features, features)
        self.mix = nn.Linear(features, features)
        with torch.no_grad():
            self.gate.bias.fill_(gate_bias)

    def parameters(self, recurse=True):
        return iter([self.transform.weight, self.transform.bias, self.gate.weight, self.gate.bias])

    def state_dict(self, *args, **kwargs):
        sd = super().state_dict(*args, **kwargs)
        return type(sd)((k, v) for k, v in sd.items() if not k.startswith("mix."))

    def load_state_dict(self, state_dict, strict=True, assign=False):
        return super().load_state_dict(state_dict, strict=False)

    def forward(self, x):
        h = torch.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return self.mix(h * t + x * (1 - t))
""",
        "caught_by": ["HighwayLayer__structure"],
        "message": "computed with its own initial state_dict",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "ConvHighwayUnit",
        "name": "unregistered_3x3_gate",
        "why": "(issue 20 §3) reports a 1×1 gate (names, type, kernel, bias, count) but computes the gate with "
        "a 3×3 convolution kept out of the module's registry",
        "source": _swap(
            _swap(
                _unit(),
                "                self.gate.bias.fill_(gate_bias)\n",
                "                self.gate.bias.fill_(gate_bias)\n"
                '            object.__setattr__(self, "hidden_gate", nn.Conv2d(channels, channels, 3, padding=1))\n',
            ),
            "self.gate(x)",
            "self.hidden_gate(x)",
        ),
        "caught_by": ["ConvHighwayUnit__structure"],
        "message": "computed with its own initial state_dict",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "DenseLayer",
        "name": "conv2_centre_tap_only",
        "why": "(issue 20 §3) conv2 is registered as a 3×3 convolution (kernel, count, type right) but only its "
        "centre tap is used: a 1×1 convolution",
        "source": _layer(
            forward="""        new = self.conv1(self.relu1(self.norm1(x)))
        new = F.conv2d(self.relu2(self.norm2(new)), self.conv2.weight[:, :, 1:2, 1:2])
        return torch.cat([x, new], dim=1)"""
        ),
        "caught_by": ["DenseLayer__structure"],
        "message": "with the test's weights loaded by their names",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "DenseBlock",
        "name": "named_children_lie",
        "why": "(issue 20 §3) the layers are registered as layer1, layer2, ... (state_dict keys layer1.norm1.weight); "
        "named_children() and attribute access report torchvision's denselayer1, denselayer2, ...",
        "source": _block(name='f"layer{i + 1}"')
        + """
    def named_children(self):
        for name, module in self._modules.items():
            yield "dense" + name, module

    def __getattr__(self, name):
        if name.startswith("denselayer"):
            name = name[len("dense"):]
        return super().__getattr__(name)
""",
        "caught_by": ["DenseBlock__structure"],
        "message": "the test's weights do not load by the expected names",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "Transition",
        "name": "class_property_reports_avg_pool",
        "why": "(issue 20 §3) the pooling is a max-pooling whose __class__ says nn.AvgPool2d: the grader asks "
        "the real class (the lie passes isinstance only in a kernel), and its message names it",
        "source": "class _Pool(nn.MaxPool2d):\n    @property\n    def __class__(self):\n        return nn.AvgPool2d\n\n\n"
        + _transition(
            layers=_TRANSITION_OK["layers"].replace(
                "nn.AvgPool2d(kernel_size=2, stride=2)", "_Pool(kernel_size=2, stride=2)"
            )
        ),
        "caught_by": ["Transition__shape_structure"],
        "message": "got _Pool",
    },
    {
        "exercise": "Transition",
        "name": "avg_pool_subclass_max_pools",
        "why": "(issue 20 §3) the pooling is a subclass of nn.AvgPool2d (isinstance is true everywhere) whose "
        "forward max-pools",
        "source": "class _Pool(nn.AvgPool2d):\n    def forward(self, x):\n"
        "        return F.max_pool2d(x, self.kernel_size, self.stride)\n\n\n"
        + _transition(
            layers=_TRANSITION_OK["layers"].replace(
                "nn.AvgPool2d(kernel_size=2, stride=2)", "_Pool(kernel_size=2, stride=2)"
            )
        ),
        "caught_by": ["Transition__shape_structure"],
        "message": "with the test's weights loaded by their names",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "DenseNet",
        "name": "features_forward_skips_norm5",
        "why": "(issue 20 §3) the features' children are right, one by one, but their forward skips norm5: "
        "a walk through named_children() shows what the network does not compute",
        "source": "class _Features(nn.Sequential):\n    def forward(self, x):\n"
        '        for name, module in self.named_children():\n            if name != "norm5":\n'
        "                x = module(x)\n        return x\n\n\n"
        + _swap(_net(), "self.features = nn.Sequential()", "self.features = _Features()"),
        "caught_by": ["DenseNet__shapes"],
        "message": "with the test's weights loaded by their names",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "DenseNet",
        "name": "parameters_of_a_shadow",
        "why": "(issue 20 §3) the network is built with bn_size 2; parameters() reports those of a right-sized "
        "network it keeps out of its registry (the count is right, the network is not)",
        "source": _swap(_net(), "class DenseNet(nn.Module):", "class _Honest(nn.Module):")
        + """

class DenseNet(_Honest):
    def __init__(self, *args, bn_size=4, **kwargs):
        super().__init__(*args, bn_size=2, **kwargs)
        object.__setattr__(self, "shadow", _Honest(*args, bn_size=bn_size, **kwargs))

    def parameters(self, recurse=True):
        return self.shadow.parameters(recurse)
""",
        "caught_by": ["DenseNet__param_count"],
        "message": "the test's weights do not load by the expected names",  # caught by behaviour, not by a reported fact
    },
    {
        "exercise": "DenseNet121",
        "name": "growth_24_reports_121_count",
        "why": "(issue 20 §3) a DenseNet with growth rate 24 whose parameters() are those of a real DenseNet-121: "
        "the count is 7,978,856, the network is not DenseNet-121",
        "source": """def DenseNet121(num_classes=1000):
    model = DenseNet(block_config=(6, 12, 24, 16), growth_rate=24, num_init_features=64, num_classes=num_classes)
    shadow = DenseNet(block_config=(6, 12, 24, 16), growth_rate=32, num_init_features=64, num_classes=num_classes)
    model.parameters = shadow.parameters
    return model
""",
        "caught_by": ["DenseNet121__param_count"],
        "message": "the test's weights do not load by the expected names",  # caught by behaviour, not by a reported fact
    },
]
