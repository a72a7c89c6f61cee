"""Plausible wrong answers for lesson 06 (residual variants); each must be caught by its tests."""

from __future__ import annotations


def _fill(template: str, ok: dict[str, str], changes: dict[str, str]) -> str:
    unknown = set(changes) - set(ok)
    assert not unknown, unknown
    return template.format(**{**ok, **changes})


# ------------------------------------------------------------------------------- PreActBlock
_PREACT = """class PreActBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d({bn1_channels})
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride={stride1}, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride={stride2}, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.shortcut = None
        if {needs_projection}:
            self.shortcut = {projection}

    def forward(self, x):
{forward}
"""
_PREACT_OK = {
    "bn1_channels": "in_channels",
    "stride1": "stride",
    "stride2": "1",
    "needs_projection": "stride != 1 or in_channels != out_channels",
    "projection": "nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)",
    "forward": """        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity""",
}


def _preact(**changes: str) -> str:
    return _fill(_PREACT, _PREACT_OK, changes)


# ------------------------------------------------------------------------------- block_variant
_VARIANT = """def block_variant(kind, channels):
    kinds = ("original", "bn_after_add", "relu_before_add", "relu_only_preact", "full_preact")
    if {unknown_check}:
        raise ValueError(f"unknown kind {{kind!r}}: choose one of {{kinds}}")
    if kind == "full_preact":
        return {full}
    return VariantUnit(kind, channels)


class VariantUnit(nn.Module):
    def __init__(self, kind, channels):
        super().__init__()
        self.kind = kind
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias={bias})
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias={bias})
        self.bn2 = {bn2}
        self.relu = nn.ReLU()

    def forward(self, x):
        relu, bn1, bn2, conv1, conv2 = self.relu, self.bn1, self.bn2, self.conv1, self.conv2
        if {a_test}:
            {a}
        if {b_test}:
            {b}
        if self.kind == "relu_before_add":
            {c}
        {d}
"""
_VARIANT_OK = {
    "unknown_check": "kind not in kinds",
    "full": "PreActBlock(channels, channels)",
    "bias": "False",
    "bn2": "nn.BatchNorm2d(channels)",
    "a_test": 'self.kind == "original"',
    "b_test": 'self.kind == "bn_after_add"',
    "a": "return relu(bn2(conv2(relu(bn1(conv1(x))))) + x)",
    "b": "return relu(bn2(conv2(relu(bn1(conv1(x)))) + x))",
    "c": "return relu(bn2(conv2(relu(bn1(conv1(x)))))) + x",
    "d": "return bn2(conv2(relu(bn1(conv1(relu(x)))))) + x",
}


def _variant(**changes: str) -> str:
    return _fill(_VARIANT, _VARIANT_OK, changes)


# ------------------------------------------------------------------------------- input_gradient
_INPUT_GRADIENT = """def input_gradient(block, x, da_out):
{body}
"""
_INPUT_GRADIENT_OK = """    x = x.detach().clone().requires_grad_(True)
    out = block(x)
    (dx,) = torch.autograd.grad(out, x, grad_outputs=da_out)
    return dx"""


def _input_gradient(body: str) -> str:
    return _INPUT_GRADIENT.format(body=body)


# ------------------------------------------------------------------------------- ResidualUnit
_UNIT = """class ResidualUnit(nn.Module):
    def __init__(self, channels, depth):
        super().__init__()
        n = {n_layers}
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1, bias=False) for _ in range(n))
        self.bns = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(n))
        self.relu = nn.ReLU()

    def forward(self, x):
{forward}
"""
_UNIT_OK = {
    "n_layers": "depth",
    "forward": """        out = x
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            out = bn(conv(out))
            if i < len(self.convs) - 1:
                out = self.relu(out)
        return self.relu(out + x)""",
}


def _unit(**changes: str) -> str:
    return _fill(_UNIT, _UNIT_OK, changes)


# ------------------------------------------------------------------------------- plain_equivalent
_PLAIN = """def plain_equivalent(unit):
    if {depth_check}:
        raise ValueError("only a one-layer unit is a plain layer")
    conv, bn = unit.convs[0], unit.bns[0]
    with torch.no_grad():
        scale = {scale}
        weight = {weight}
        bias = {bias}
        c = weight.shape[0]
        identity = torch.zeros_like(weight)
        {identity}
    return weight + identity, bias.clone()
"""
_PLAIN_OK = {
    "depth_check": "len(unit.convs) != 1",
    "scale": "bn.weight / torch.sqrt(bn.running_var + bn.eps)",
    "weight": "conv.weight * scale.reshape(-1, 1, 1, 1)",
    "bias": "bn.bias - scale * bn.running_mean",
    "identity": "identity[torch.arange(c), torch.arange(c), 1, 1] = 1.0",
}


def _plain(**changes: str) -> str:
    return _fill(_PLAIN, _PLAIN_OK, changes)


# ------------------------------------------------------------------------------- Shortcut
_SHORTCUT = """class Shortcut(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, option="B"):
        super().__init__()
        if {option_check}:
            raise ValueError(f"unknown option {{option!r}}")
        if option == "A" and out_channels < in_channels:
            raise ValueError("option A cannot drop channels")
        self.in_channels, self.out_channels, self.stride, self.option = in_channels, out_channels, stride, option
        same_shape = stride == 1 and in_channels == out_channels
        self.project = {projects}
        if self.project:
            pool_first = option == "pool" and stride > 1
            if pool_first:
                self.pool = {pool}
            self.conv = {conv}
            self.bn = {bn}

    def forward(self, x):
        if self.project:
            {pre}
            if hasattr(self, "pool"):
                x = self.pool(x)
            return self.bn(self.conv(x))
        if self.option == "A":
{option_a}
        return {identity}
"""
_SHORTCUT_OK = {
    "option_check": 'option not in ("A", "B", "C", "pool")',
    "projects": 'option == "C" or (option in ("B", "pool") and not same_shape)',
    "pool": "nn.AvgPool2d(stride, stride, ceil_mode=True)",
    "conv": "nn.Conv2d(in_channels, out_channels, 1, stride=1 if pool_first else stride, bias=False)",
    "bn": "nn.BatchNorm2d(out_channels)",
    "pre": "pass",
    "option_a": """            x = x[:, :, :: self.stride, :: self.stride]
            return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))""",
    "identity": "x",
}


def _shortcut(**changes: str) -> str:
    return _fill(_SHORTCUT, _SHORTCUT_OK, changes)


# ------------------------------------------------------------------------------- shortcut_params
_PARAMS = """def shortcut_params(in_channels, out_channels, stride=1, option="B"):
    same_shape = stride == 1 and in_channels == out_channels
    projects = {projects}
    return {count} if projects else 0
"""
_PARAMS_OK = {
    "projects": 'option == "C" or (option in ("B", "pool") and not same_shape)',
    "count": "in_channels * out_channels + 2 * out_channels",
}


def _params(**changes: str) -> str:
    return _fill(_PARAMS, _PARAMS_OK, changes)


# ------------------------------------------------------------------------------- Bottleneck
_BOTTLENECK = """class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1):
        super().__init__()
        out_channels = {out_channels}
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride={stride1}, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride={stride2}, padding={padding2}, bias={bias})
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if {needs_projection}:
            self.downsample = nn.Sequential({projection}, nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = {last}
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return {output}
"""
_BOTTLENECK_OK = {
    "out_channels": "width * self.expansion",
    "stride1": "1",
    "stride2": "stride",
    "padding2": "1",
    "bias": "False",
    "needs_projection": "stride != 1 or in_channels != out_channels",
    "projection": "nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)",
    "last": "self.bn3(self.conv3(out))",
    "output": "self.relu(out)",
}


def _bottleneck(**changes: str) -> str:
    return _fill(_BOTTLENECK, _BOTTLENECK_OK, changes)


# ------------------------------------------------------------------------------- ResNet50
_RESNET50 = """class ResNet50(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, {stem_kernel}, stride=2, padding={stem_padding}, bias={stem_bias})
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        stages = []
        for blocks, width, stride in {stages}:
            layers = [Bottleneck(in_channels, width, stride)]
            in_channels = {next_in}
            layers += [Bottleneck(in_channels, width) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
{register}
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear({fc_in}, num_classes)

    def forward(self, x):
        x = {stem}
        for stage in {stage_list}:
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))
"""
_RESNET50_OK = {
    "stem_kernel": "7",
    "stem_padding": "3",
    "stem_bias": "False",
    "stages": "[(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]",
    "next_in": "width * Bottleneck.expansion",
    "register": "        self.layer1, self.layer2, self.layer3, self.layer4 = stages",
    "fc_in": "512 * Bottleneck.expansion",
    "stem": "self.maxpool(self.relu(self.bn1(self.conv1(x))))",
    "stage_list": "(self.layer1, self.layer2, self.layer3, self.layer4)",
}


def _resnet50(**changes: str) -> str:
    return _fill(_RESNET50, _RESNET50_OK, changes)


# ------------------------------------------------------------------------------- block_costs
_COSTS = """def conv_params(c_in, c_out, f, bias=True):
    return (f * f * c_in + (1 if bias else 0)) * c_out


def conv_mults(h_out, w_out, c_in, c_out, f):
    return {mults}


def two_conv_cost(channels, h, w):
    return {{"params": {two_params}, "mults": {two_mults}}}


def bottleneck_cost(in_channels, width, h, w):
    layers = {layers}
    return {{"params": sum(conv_params(a, b, f, bias={bias}) for a, b, f in layers),
            "mults": sum(conv_mults(h, w, a, b, f) for a, b, f in layers)}}
"""
_COSTS_OK = {
    "mults": "h_out * w_out * c_out * f * f * c_in",
    "two_params": "2 * conv_params(channels, channels, 3, bias=False)",
    "two_mults": "2 * conv_mults(h, w, channels, channels, 3)",
    "layers": "[(in_channels, width, 1), (width, width, 3), (width, 4 * width, 1)]",
    "bias": "False",
}


def _costs(**changes: str) -> str:
    return _fill(_COSTS, _COSTS_OK, changes)


WRONG_ANSWERS = [
    # ------------------------------------------------------------------- PreActBlock
    {
        "exercise": "PreActBlock",
        "name": "relu_after_addition",
        "why": "a ReLU after the addition (the original unit's habit): the sum is clipped and the +1 masked",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return self.relu(out + identity)"""
        ),
        "caught_by": ["PreActBlock__structure", "PreActBlock__forward"],
    },
    {
        "exercise": "PreActBlock",
        "name": "projection_on_raw_input",
        "why": "the projection reads the raw input x instead of the pre-activated ReLU(BN1(x))",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return out + identity"""
        ),
    },
    {
        "exercise": "PreActBlock",
        "name": "never_projects",
        "why": "identity shortcut even when the stride or the channels change",
        "source": _preact(needs_projection="False"),
        "caught_by": ["PreActBlock__structure"],
    },
    {
        "exercise": "PreActBlock",
        "name": "projection_with_bn",
        "why": "a BN after the 1×1 projection (option B of the original ResNet), not a bare convolution",
        "source": _preact(
            projection="nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), "
            "nn.BatchNorm2d(out_channels))"
        ),
        "caught_by": ["PreActBlock__structure"],
    },
    {
        "exercise": "PreActBlock",
        "name": "bn1_over_out_channels",
        "why": "bn1 sized for the output channels, though it normalises the input",
        "source": _preact(bn1_channels="out_channels"),
        "caught_by": ["PreActBlock__structure"],
    },
    {
        "exercise": "PreActBlock",
        "name": "stride_on_conv2",
        "why": "the stride on the second 3×3 convolution: same output shape, different function",
        "source": _preact(stride1="1", stride2="stride"),
    },
    {
        "exercise": "PreActBlock",
        "name": "no_relu_before_conv2",
        "why": "bn2 feeds conv2 directly: the branch lacks its second ReLU",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.bn2(self.conv1(out)))
        return out + identity"""
        ),
    },
    {
        "exercise": "PreActBlock",
        "name": "shortcut_detached",
        "why": "the shortcut is detached from the graph: no gradient through the identity",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x.detach() if self.shortcut is None else self.shortcut(out).detach()
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return out + identity"""
        ),
    },
    {
        "exercise": "PreActBlock",
        "name": "adds_into_input",
        "why": "identity += out: the caller's input tensor is changed in place",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        identity += out
        return identity"""
        ),
        "caught_by": ["PreActBlock__structure", "PreActBlock__forward"],
    },
    # ------------------------------------------------------------------- block_variant
    {
        "exercise": "block_variant",
        "name": "b_without_final_relu",
        "why": "(b) BN after addition without the ReLU that follows it",
        "source": _variant(b="return bn2(conv2(relu(bn1(conv1(x)))) + x)"),
    },
    {
        "exercise": "block_variant",
        "name": "b_bn_on_branch",
        "why": "(b) with bn2 on the branch before the addition, i.e. the original unit again",
        "source": _variant(b="return relu(bn2(conv2(relu(bn1(conv1(x))))) + x)"),
    },
    {
        "exercise": "block_variant",
        "name": "c_relu_after_add",
        "why": "(c) ReLU before addition written with the ReLU after it",
        "source": _variant(c="return relu(bn2(conv2(relu(bn1(conv1(x))))) + x)"),
    },
    {
        "exercise": "block_variant",
        "name": "d_bn_first",
        "why": "(d) ReLU-only pre-activation written as BN → ReLU → conv (that is (e))",
        "source": _variant(d="return conv2(relu(bn2(conv1(relu(bn1(x)))))) + x"),
    },
    {
        "exercise": "block_variant",
        "name": "d_relu_after_add",
        "why": "(d) with a ReLU after the addition",
        "source": _variant(d="return relu(bn2(conv2(relu(bn1(conv1(relu(x)))))) + x)"),
    },
    {
        "exercise": "block_variant",
        "name": "e_is_original",
        "why": "full_preact returns the original unit",
        "source": _variant(full='VariantUnit("original", channels)'),
    },
    {
        "exercise": "block_variant",
        "name": "b_and_c_swapped",
        "why": "the formulas of (b) and (c) swapped",
        "source": _variant(b_test="False", c="return relu(bn2(conv2(relu(bn1(conv1(x)))) + x))"),
    },
    {
        "exercise": "block_variant",
        "name": "unknown_kind_is_original",
        "why": "an unknown kind silently builds the original unit instead of raising ValueError",
        "source": _variant(
            unknown_check="False",
            a_test='self.kind not in ("bn_after_add", "relu_before_add", "relu_only_preact")',
        ),
        "caught_by": [
            "block_variant__structure",
            "block_variant__original",
            "block_variant__unknown_kind",
        ],
    },
    {
        "exercise": "block_variant",
        "name": "one_bn_used_twice",
        "why": "bn2 is bn1: one batch norm shared by both places (fewer parameters than the others)",
        "source": _variant(bn2="self.bn1"),
        "caught_by": ["block_variant__structure"],
    },
    {
        "exercise": "block_variant",
        "name": "conv_bias",
        "why": "convolutions with bias (the BN right after makes it redundant; the keys differ)",
        "source": _variant(bias="True"),
        "caught_by": ["block_variant__structure"],
    },
    # ------------------------------------------------------------------- input_gradient
    {
        "exercise": "input_gradient",
        "name": "backward_fills_param_grads",
        "why": ".backward() fills every parameter's .grad as a side effect",
        "source": _input_gradient("""    x = x.detach().clone().requires_grad_(True)
    block(x).backward(da_out)
    return x.grad"""),
        "caught_by": ["input_gradient__values", "input_gradient__no_side_effects"],
    },
    {
        "exercise": "input_gradient",
        "name": "caller_requires_grad",
        "why": "x.requires_grad_() on the caller's tensor: right values, but the caller's x now "
        "requires grad (issue 20.4: the grader once mirrored data and .grad but not this flag)",
        "source": _input_gradient("""    x.requires_grad_(True)
    (dx,) = torch.autograd.grad(block(x), x, grad_outputs=da_out)
    return dx"""),
        "caught_by": ["input_gradient__no_side_effects"],
    },
    {
        "exercise": "input_gradient",
        "name": "sums_the_output",
        "why": "the gradient of block(x).sum(): da_out ignored",
        "source": _input_gradient("""    x = x.detach().clone().requires_grad_(True)
    (dx,) = torch.autograd.grad(block(x).sum(), x)
    return dx"""),
        "caught_by": ["input_gradient__values"],
    },
    {
        "exercise": "input_gradient",
        "name": "switches_to_eval",
        "why": "puts the block in eval mode before measuring it",
        "source": _input_gradient("    block.eval()\n" + _INPUT_GRADIENT_OK),
    },
    {
        "exercise": "input_gradient",
        "name": "returns_da_out",
        "why": "returns the incoming gradient itself (the +1 without the branch)",
        "source": _input_gradient("    return da_out.clone()"),
        "caught_by": ["input_gradient__values"],
    },
    {
        "exercise": "input_gradient",
        "name": "forward_without_grad",
        "why": "runs the block under torch.no_grad(), so there is no graph to differentiate",
        "source": _input_gradient("""    x = x.detach().clone().requires_grad_(True)
    with torch.no_grad():
        out = block(x)
    (dx,) = torch.autograd.grad(out, x, grad_outputs=da_out)
    return dx"""),
        "caught_by": ["input_gradient__values"],
    },
    # ------------------------------------------------------------------- ResidualUnit
    {
        "exercise": "ResidualUnit",
        "name": "skip_over_first_layer_only",
        "why": "the shortcut joins after the first layer; the remaining layers act on the sum",
        "source": _unit(
            forward="""        out = self.relu(self.bns[0](self.convs[0](x)) + x)
        for conv, bn in zip(self.convs[1:], self.bns[1:]):
            out = self.relu(bn(conv(out)))
        return out"""
        ),
        "caught_by": ["ResidualUnit__structure", "ResidualUnit__forward"],
    },
    {
        "exercise": "ResidualUnit",
        "name": "skip_one_layer_short",
        "why": "the shortcut spans depth - 1 layers; the last layer comes after the addition",
        "source": _unit(
            forward="""        out = x
        for conv, bn in zip(self.convs[:-1], self.bns[:-1]):
            out = self.relu(bn(conv(out)))
        out = self.relu(out + x) if len(self.convs) > 1 else x
        return self.relu(self.bns[-1](self.convs[-1](out)) + 0 * x)"""
        ),
        "caught_by": ["ResidualUnit__structure", "ResidualUnit__forward"],
    },
    {
        "exercise": "ResidualUnit",
        "name": "no_final_relu",
        "why": "the sum is returned without the ReLU of the original unit",
        "source": _unit(
            forward="""        out = x
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            out = bn(conv(out))
            if i < len(self.convs) - 1:
                out = self.relu(out)
        return out + x"""
        ),
        "caught_by": ["ResidualUnit__structure", "ResidualUnit__forward"],
    },
    {
        "exercise": "ResidualUnit",
        "name": "depth_ignored",
        "why": "always two layers, whatever depth says",
        "source": _unit(n_layers="2"),
        "caught_by": ["ResidualUnit__structure"],
    },
    {
        "exercise": "ResidualUnit",
        "name": "adds_into_input",
        "why": "x += out: the caller's input changed in place",
        "source": _unit(
            forward="""        out = x
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            out = bn(conv(out))
            if i < len(self.convs) - 1:
                out = self.relu(out)
        x += out
        return self.relu(x)"""
        ),
        "caught_by": ["ResidualUnit__structure", "ResidualUnit__forward"],
    },
    # ------------------------------------------------------------------- plain_equivalent
    {
        "exercise": "plain_equivalent",
        "name": "forgets_the_identity",
        "why": "the BN folded into the convolution, but the + x left out",
        "source": _plain(identity="pass"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "identity_on_every_tap",
        "why": "+1 on all nine taps of the kernel instead of the centre: a 3×3 box sum, not x",
        "source": _plain(identity="identity[torch.arange(c), torch.arange(c)] = 1.0"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "ignores_bn",
        "why": "the convolution's weight as it is, no bias: the batch norm forgotten",
        "source": _plain(scale="torch.ones_like(bn.weight)", bias="torch.zeros_like(bn.bias)"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "divides_by_variance",
        "why": "divides by the variance instead of the standard deviation",
        "source": _plain(scale="bn.weight / (bn.running_var + bn.eps)"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "forgets_eps",
        "why": "sqrt(running_var) without the BN's eps (wrong in the 6th digit)",
        "source": _plain(scale="bn.weight / torch.sqrt(bn.running_var)"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "bias_sign",
        "why": "adds the scaled mean instead of subtracting it",
        "source": _plain(bias="bn.bias + scale * bn.running_mean"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "scales_the_unit_in_place",
        "why": "folds the BN into the unit's own kernel (mul_), changing the unit",
        "source": _plain(weight="conv.weight.mul_(scale.reshape(-1, 1, 1, 1))"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "any_depth_accepted",
        "why": "no ValueError for a two-layer unit (it folds its first layer and ignores the rest)",
        "source": _plain(depth_check="False"),
        "caught_by": ["plain_equivalent__matches_unit", "plain_equivalent__one_layer_only"],
    },
    # ------------------------------------------------------------------- Shortcut
    {
        "exercise": "Shortcut",
        "name": "a_zeros_in_front",
        "why": "option A puts the zero channels before the input's channels",
        "source": _shortcut(
            option_a="""            x = x[:, :, :: self.stride, :: self.stride]
            return F.pad(x, (0, 0, 0, 0, self.out_channels - self.in_channels, 0))"""
        ),
    },
    {
        "exercise": "Shortcut",
        "name": "a_without_subsampling",
        "why": "option A pads the channels but does not subsample by the stride",
        "source": _shortcut(
            option_a="""            return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))"""
        ),
        "caught_by": ["Shortcut__shapes"],
    },
    {
        "exercise": "Shortcut",
        "name": "a_zeros_on_the_cpu",
        "why": "option A appends torch.zeros(...) made on the default device (fails on other devices)",
        "source": _shortcut(
            option_a="""            x = x[:, :, :: self.stride, :: self.stride]
            n, c, h, w = x.shape
            return torch.cat([x, torch.zeros(n, self.out_channels - c, h, w)], dim=1)"""
        ),
        "caught_by": ["Shortcut__shapes"],
    },
    {
        "exercise": "Shortcut",
        "name": "b_projects_everywhere",
        "why": "option B projects even where the shape is kept (that is option C)",
        "source": _shortcut(
            projects='option in ("B", "C") or (option == "pool" and not same_shape)'
        ),
    },
    {
        "exercise": "Shortcut",
        "name": "c_identity_where_shape_kept",
        "why": "option C keeps the identity where the shape is kept (that is option B)",
        "source": _shortcut(projects='option in ("B", "C", "pool") and not same_shape'),
    },
    {
        "exercise": "Shortcut",
        "name": "pool_without_ceil_mode",
        "why": "the average pooling drops the last row/column of an odd map: ⌊H/2⌋, not ⌈H/2⌉",
        "source": _shortcut(pool="nn.AvgPool2d(stride, stride)"),
        "caught_by": ["Shortcut__shapes"],
    },
    {
        "exercise": "Shortcut",
        "name": "pool_then_strided_conv",
        "why": "ResNet-D with the stride kept on the 1×1 convolution: subsampled twice",
        "source": _shortcut(
            conv="nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)"
        ),
        "caught_by": ["Shortcut__shapes"],
    },
    {
        "exercise": "Shortcut",
        "name": "max_pool",
        "why": "max-pooling instead of average pooling before the projection",
        "source": _shortcut(pool="nn.MaxPool2d(stride, stride, ceil_mode=True)"),
    },
    {
        "exercise": "Shortcut",
        "name": "projection_3x3",
        "why": "a 3×3 projection instead of 1×1",
        "source": _shortcut(
            conv="nn.Conv2d(in_channels, out_channels, 3, stride=1 if pool_first else stride, padding=1, bias=False)"
        ),
    },
    {
        "exercise": "Shortcut",
        "name": "projection_without_bn",
        "why": "the projection is not followed by BN",
        "source": _shortcut(bn="nn.Identity()"),
    },
    {
        "exercise": "Shortcut",
        "name": "detached",
        "why": "the shortcut detaches its input: no gradient flows back through it",
        "source": _shortcut(
            pre="x = x.detach()",
            identity="x.detach()",
            option_a="""            x = x.detach()[:, :, :: self.stride, :: self.stride]
            return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))""",
        ),
    },
    {
        "exercise": "Shortcut",
        "name": "relu_in_place_on_input",
        "why": "pre-activates the caller's input in place before projecting",
        "source": _shortcut(pre="x = F.relu(x, inplace=True)"),
    },
    {
        "exercise": "Shortcut",
        "name": "unknown_option_accepted",
        "why": "an unknown option silently behaves like B",
        "source": _shortcut(
            option_check="False", projects='option != "A" and (option == "C" or not same_shape)'
        ),
        "caught_by": ["Shortcut__shapes"],
    },
    # ------------------------------------------------------------------- shortcut_params
    {
        "exercise": "shortcut_params",
        "name": "c_counted_like_b",
        "why": "option C counted only where the shape changes, as for B",
        "source": _params(projects='option in ("B", "C", "pool") and not same_shape'),
        "caught_by": ["shortcut_params__values"],
    },
    {
        "exercise": "shortcut_params",
        "name": "forgets_bn",
        "why": "only the 1×1 convolution's weights, without BN's gamma and beta",
        "source": _params(count="in_channels * out_channels"),
        "caught_by": ["shortcut_params__values"],
    },
    {
        "exercise": "shortcut_params",
        "name": "counts_bn_buffers",
        "why": "BN's running mean and variance counted as parameters",
        "source": _params(count="in_channels * out_channels + 4 * out_channels"),
        "caught_by": ["shortcut_params__values"],
    },
    {
        "exercise": "shortcut_params",
        "name": "a_counted_like_b",
        "why": "option A given a projection's parameters where the shape changes",
        "source": _params(projects='option == "C" or not same_shape'),
        "caught_by": ["shortcut_params__values"],
    },
    {
        "exercise": "shortcut_params",
        "name": "float_result",
        "why": "returns a float (2.0 * out_channels), not an int",
        "source": _params(count="in_channels * out_channels + 2.0 * out_channels"),
        "caught_by": ["shortcut_params__values"],
    },
    # ------------------------------------------------------------------- Bottleneck
    {
        "exercise": "Bottleneck",
        "name": "stride_on_conv1",
        "why": "the stride on the first 1×1 convolution (the paper's v1), not torchvision's 3×3",
        "source": _bottleneck(stride1="stride", stride2="1"),
        "caught_by": ["Bottleneck__structure"],
    },
    {
        "exercise": "Bottleneck",
        "name": "expansion_applied_twice",
        "why": "width * expansion * expansion output channels",
        "source": _bottleneck(out_channels="width * self.expansion * self.expansion"),
        "caught_by": ["Bottleneck__structure"],
    },
    {
        "exercise": "Bottleneck",
        "name": "projection_only_on_stride",
        "why": "no projection when only the channels change (64 -> 256 in the first block)",
        "source": _bottleneck(needs_projection="stride != 1"),
        "caught_by": ["Bottleneck__structure"],
    },
    {
        "exercise": "Bottleneck",
        "name": "projection_without_stride",
        "why": "the projection does not subsample: its output cannot be added to the branch's",
        "source": _bottleneck(projection="nn.Conv2d(in_channels, out_channels, 1, bias=False)"),
        "caught_by": ["Bottleneck__structure"],
    },
    {
        "exercise": "Bottleneck",
        "name": "relu_before_addition",
        "why": "a ReLU after bn3, before the addition",
        "source": _bottleneck(last="self.relu(self.bn3(self.conv3(out)))"),
    },
    {
        "exercise": "Bottleneck",
        "name": "no_final_relu",
        "why": "the sum is returned without the final ReLU",
        "source": _bottleneck(output="out"),
    },
    {
        "exercise": "Bottleneck",
        "name": "conv2_without_padding",
        "why": "the 3×3 convolution without padding shrinks the map",
        "source": _bottleneck(padding2="0"),
        "caught_by": ["Bottleneck__structure"],
    },
    {
        "exercise": "Bottleneck",
        "name": "conv_bias",
        "why": "the 3×3 convolution with a bias",
        "source": _bottleneck(bias="True"),
    },
    # ------------------------------------------------------------------- ResNet50
    {
        "exercise": "ResNet50",
        "name": "expansion_applied_twice",
        "why": "the next block's input taken as width * expansion * expansion",
        "source": _resnet50(next_in="width * Bottleneck.expansion * Bottleneck.expansion"),
        "caught_by": ["ResNet50__torchvision_keys"],
    },
    {
        "exercise": "ResNet50",
        "name": "resnet34_stage_sizes_2222",
        "why": "two blocks per stage (ResNet-18's layout)",
        "source": _resnet50(stages="[(2, 64, 1), (2, 128, 2), (2, 256, 2), (2, 512, 2)]"),
        "caught_by": ["ResNet50__torchvision_keys"],
    },
    {
        "exercise": "ResNet50",
        "name": "no_maxpool_in_forward",
        "why": "the max-pool is registered but never applied (same keys, wrong shapes)",
        "source": _resnet50(stem="self.relu(self.bn1(self.conv1(x)))"),
    },
    {
        "exercise": "ResNet50",
        "name": "stride_in_layer1",
        "why": "layer1 also halves the resolution",
        "source": _resnet50(stages="[(3, 64, 2), (4, 128, 2), (6, 256, 2), (3, 512, 2)]"),
    },
    {
        "exercise": "ResNet50",
        "name": "fc_on_512_features",
        "why": "fc from 512 features (ResNet-34's), not 2048",
        "source": _resnet50(fc_in="512"),
        "caught_by": ["ResNet50__torchvision_keys"],
    },
    {
        "exercise": "ResNet50",
        "name": "stages_in_a_modulelist",
        "why": "stages kept in an nn.ModuleList called layers: keys layers.0... instead of layer1...",
        "source": _resnet50(
            register="        self.layers = nn.ModuleList(stages)", stage_list="self.layers"
        ),
        "caught_by": ["ResNet50__torchvision_keys"],
    },
    {
        "exercise": "ResNet50",
        "name": "cifar_stem",
        "why": "a 3×3 stem convolution (the CIFAR stem of lesson 05)",
        "source": _resnet50(stem_kernel="3", stem_padding="1"),
        "caught_by": ["ResNet50__torchvision_keys"],
    },
    {
        "exercise": "ResNet50",
        "name": "stem_bias",
        "why": "the stem convolution with a bias: an extra key and 64 extra parameters",
        "source": _resnet50(stem_bias="True"),
    },
    # ------------------------------------------------------------------- block_costs
    {
        "exercise": "block_costs",
        "name": "mults_without_c_in",
        "why": "conv_mults forgets the input channels",
        "source": _costs(mults="h_out * w_out * c_out * f * f"),
        "caught_by": ["block_costs__lesson03"],
    },
    {
        "exercise": "block_costs",
        "name": "two_conv_counts_biases",
        "why": "two_conv_cost counts biases (conv_params with its default bias=True)",
        "source": _costs(two_params="2 * conv_params(channels, channels, 3)"),
    },
    {
        "exercise": "block_costs",
        "name": "two_conv_counts_one",
        "why": "a basic block costed as one 3×3 convolution",
        "source": _costs(
            two_params="conv_params(channels, channels, 3, bias=False)",
            two_mults="conv_mults(h, w, channels, channels, 3)",
        ),
    },
    {
        "exercise": "block_costs",
        "name": "bottleneck_3x3_at_full_width",
        "why": "the 3×3 convolution costed from in_channels, as if nothing had been reduced",
        "source": _costs(
            layers="[(in_channels, width, 1), (in_channels, width, 3), (width, 4 * width, 1)]"
        ),
    },
    {
        "exercise": "block_costs",
        "name": "bottleneck_forgets_expansion_conv",
        "why": "only the 1×1 reduction and the 3×3 convolution are counted",
        "source": _costs(layers="[(in_channels, width, 1), (width, width, 3)]"),
    },
    {
        "exercise": "block_costs",
        "name": "bottleneck_expands_to_in_channels",
        "why": "the last 1×1 expands to in_channels, not 4 × width (equal only when in_channels = 4 × width)",
        "source": _costs(
            layers="[(in_channels, width, 1), (width, width, 3), (width, in_channels, 1)]"
        ),
    },
]


# ------------------------------------------------------------------------------- issue 21's classes
# Each class of contract point, with answers that are right in eval mode, in values or on the
# CPU in float32, and wrong in what the test now also reads. "message" (optional): a text every
# caught answer's messages must contain (the student's real class, not the grader's proxy).
WRONG_ANSWERS += [
    # (1) running statistics
    {
        "exercise": "PreActBlock",
        "name": "bn2_momentum_09",
        "why": "bn2 built with momentum 0.9: the running statistics jump almost to each batch's",
        "source": _preact().replace(
            "self.bn2 = nn.BatchNorm2d(out_channels)",
            "self.bn2 = nn.BatchNorm2d(out_channels, momentum=0.9)",
        ),
        "caught_by": ["PreActBlock__forward"],
    },
    {
        "exercise": "block_variant",
        "name": "bn1_cumulative_average",
        "why": "bn1 with momentum=None (a cumulative average): one batch sets the running statistics outright",
        "source": _variant().replace(
            "self.bn1 = nn.BatchNorm2d(channels)",
            "self.bn1 = nn.BatchNorm2d(channels, momentum=None)",
        ),
        "caught_by": ["block_variant__original", "block_variant__bn_after_add"],
    },
    {
        "exercise": "Bottleneck",
        "name": "projection_run_twice",
        "why": "the projection is computed twice (once to check its shape): its BN's statistics move twice per forward",
        "source": _bottleneck().replace(
            "        if self.downsample is not None:\n            identity = self.downsample(x)",
            "        if self.downsample is not None:\n"
            "            assert self.downsample(x).shape == out.shape\n"
            "            identity = self.downsample(x)",
        ),
        "caught_by": ["Bottleneck__forward"],
    },
    {
        "exercise": "Shortcut",
        "name": "bn_keras_momentum",
        "why": "Keras's momentum=0.99 typed into PyTorch (where it weighs the NEW batch)",
        "source": _shortcut(bn="nn.BatchNorm2d(out_channels, momentum=0.99)"),
        "caught_by": ["Shortcut__values_B"],
    },
    {
        "exercise": "ResNet50",
        "name": "bn_momentum_001_everywhere",
        "why": "every BN's momentum set to 0.01 after construction (a fine-tuning habit), the contract says PyTorch's 0.1",
        "source": _resnet50(
            register="""        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.01"""
        ),
        "caught_by": ["ResNet50__forward"],
    },
    # (2) train-mode-only behaviour
    {
        "exercise": "ResNet50",
        "name": "dropout_before_fc",
        "why": "a dropout before the classifier: eval mode is right, training mode is random",
        "source": _resnet50().replace(
            "return self.fc(torch.flatten(self.avgpool(x), 1))",
            "return self.fc(F.dropout(torch.flatten(self.avgpool(x), 1), 0.2, self.training))",
        ),
        "caught_by": ["ResNet50__forward"],
    },
    {
        "exercise": "Bottleneck",
        "name": "dropout2d_on_branch",
        "why": "channel dropout on the residual branch in training mode (stochastic, not in the contract)",
        "source": _bottleneck(last="F.dropout2d(self.bn3(self.conv3(out)), 0.1, self.training)"),
        "caught_by": ["Bottleneck__forward"],
    },
    {
        "exercise": "PreActBlock",
        "name": "dropout_between_convs",
        "why": "a dropout between the two convolutions (Wide ResNet's), active in training mode only",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.dropout(self.relu(self.bn2(out)), 0.1, self.training))
        return out + identity"""
        ),
        "caught_by": ["PreActBlock__forward"],
    },
    # (3) gradient routes
    {
        "exercise": "Bottleneck",
        "name": "projection_weight_detached",
        "why": "the projection uses a detached copy of its weight: right values, its weight never learns",
        "source": _bottleneck().replace(
            "            identity = self.downsample(x)",
            "            conv = self.downsample[0]\n"
            "            identity = self.downsample[1](F.conv2d(x, conv.weight.detach(), stride=conv.stride))",
        ),
        "caught_by": ["Bottleneck__forward"],
    },
    {
        "exercise": "PreActBlock",
        "name": "shortcut_weight_detached",
        "why": "the 1×1 projection uses a detached weight: right values, no gradient into it",
        "source": _preact(
            forward="""        out = self.relu(self.bn1(x))
        if self.shortcut is None:
            identity = x
        else:
            identity = F.conv2d(out, self.shortcut.weight.detach(), stride=self.shortcut.stride)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity"""
        ),
        "caught_by": ["PreActBlock__plus_one"],
    },
    {
        "exercise": "block_variant",
        "name": "original_branch_detached",
        "why": "(a) with its branch detached: right values, the gradient reaches x through the shortcut only",
        "source": _variant(a="return relu(bn2(conv2(relu(bn1(conv1(x))))).detach() + x)"),
        "caught_by": ["block_variant__original"],
    },
    # (4) side effects on the caller's objects
    {
        "exercise": "input_gradient",
        "name": "zero_grad_after_backward",
        "why": ".backward(), then block.zero_grad() to tidy up: wipes the gradients the caller already had",
        "source": _input_gradient("""    x = x.detach().clone().requires_grad_(True)
    block(x).backward(da_out)
    block.zero_grad()
    return x.grad"""),
        "caught_by": ["input_gradient__no_side_effects"],
    },
    {
        "exercise": "input_gradient",
        "name": "accumulates_into_callers_x",
        "why": "differentiates with respect to the caller's own x: its .grad (and flag) change",
        "source": _input_gradient("""    x.requires_grad_(True)
    torch.autograd.backward(block(x), da_out, inputs=[x])
    return x.grad.clone()"""),
        "caught_by": ["input_gradient__no_side_effects"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "freezes_the_unit",
        "why": "switches requires_grad off on the unit's parameters (instead of torch.no_grad())",
        "source": _plain(
            scale="[p.requires_grad_(False) for p in unit.parameters()] and bn.weight / torch.sqrt(bn.running_var + bn.eps)"
        ),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    # (5) dtype and device follow the input
    {
        "exercise": "plain_equivalent",
        "name": "identity_float32_cpu",
        "why": "the identity kernel built with torch.zeros(C, C, 3, 3): float32 on the CPU, whatever the unit",
        "source": _plain(
            identity="identity = torch.zeros(c, c, 3, 3); identity[torch.arange(c), torch.arange(c), 1, 1] = 1.0"
        ),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "plain_equivalent",
        "name": "identity_from_eye",
        "why": "the identity kernel padded from torch.eye(C): float32 on the CPU",
        "source": _plain(identity="identity = F.pad(torch.eye(c)[:, :, None, None], (1, 1, 1, 1))"),
        "caught_by": ["plain_equivalent__matches_unit"],
    },
    {
        "exercise": "Shortcut",
        "name": "a_zeros_default_dtype",
        "why": "option A's zero channels made on the right device but in float32 (float64 hides it: cat promotes)",
        "source": _shortcut(
            option_a="""            x = x[:, :, :: self.stride, :: self.stride]
            n, _, h, w = x.shape
            zeros = torch.zeros(n, self.out_channels - self.in_channels, h, w, device=x.device)
            return torch.cat([x, zeros], dim=1)"""
        ),
        "caught_by": ["Shortcut__shapes"],
    },
    {
        "exercise": "input_gradient",
        "name": "through_numpy",
        "why": "copies x through NumPy: a CPU float tensor, whatever x's device (and no bfloat16)",
        "source": _input_gradient("""    x = torch.from_numpy(x.detach().cpu().numpy().copy()).requires_grad_(True)
    (dx,) = torch.autograd.grad(block(x), x, grad_outputs=da_out)
    return dx"""),
        "caught_by": ["input_gradient__no_side_effects"],
    },
    # (6) messages name the student's real class, under the grader too
    {
        "exercise": "PreActBlock",
        "name": "shortcut_in_sequential",
        "why": "the projection wrapped in an nn.Sequential: not the bare 1×1 convolution the contract names",
        "source": _preact(
            projection="nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False))"
        ),
        "caught_by": ["PreActBlock__structure"],
        "message": "got Sequential",
    },
    {
        "exercise": "Shortcut",
        "name": "lp_pool",
        "why": "power-average pooling (nn.LPPool2d) instead of average pooling",
        "source": _shortcut(pool="nn.LPPool2d(2, stride, stride, ceil_mode=True)"),
        "caught_by": ["Shortcut__params"],
        "message": "got LPPool2d",
    },
    # issue 20 §3: the structure cells establish structure from behaviour (the test's weights
    # loaded by the contract's names), so a module whose counts and types are right but whose
    # computation is not loses them too
    {
        "exercise": "ResidualUnit",
        "name": "relu_after_last_bn_counts_right",
        "why": "a ReLU after the last BN too, before the addition (unit (c)): right layers, "
        "names and parameter count",
        "source": _unit(
            forward="""        out = x
        for conv, bn in zip(self.convs, self.bns):
            out = self.relu(bn(conv(out)))
        return self.relu(out + x)"""
        ),
        "caught_by": ["ResidualUnit__structure"],
    },
    {
        "exercise": "Shortcut",
        "name": "relu_before_projection_counts_right",
        "why": "right parameters, but a ReLU on the input before the 1×1 projection",
        "source": _shortcut(pre="x = F.relu(x)"),
        "caught_by": ["Shortcut__params"],
    },
]
