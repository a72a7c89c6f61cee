"""Reference figures of lessons 03, 04, 06 and 07, checked against independent computations.

Each published figure (the lecture's 28×28×192 bottleneck example in lesson 03 and COURSE_SPEC;
GoogLeNet's inception (3a), Szegedy et al. 2014, Table 1, in lesson 04) is computed here twice:

- without any course formula: multiply-adds from ``torch.utils.flop_counter.FlopCounterMode`` (which
  counts 2 FLOPs per multiply-add, checked below on a plain matrix product) run on layers built
  with plain ``torch.nn`` in this file, and parameters by counting those layers' tensors;
- with the lessons' reference solutions (``conv_mults``/``conv_params`` of lesson 03,
  ``InceptionModule``/``NaiveInception`` of lesson 04, read from ``solutions/``).

Lesson 06's ResNet-50 is compared with the state_dict of torchvision's own ``resnet50()``, checked
in as ``tests/reference/torchvision_resnet50.tsv`` (made by ``make_torchvision_resnet50.py`` from
the torchvision wheel's code, since torchvision cannot be installed beside our torch), and its
parameter count with torchvision's model card and a closed-form count.

Lesson 07: torchvision's ``densenet121`` state_dict (``tests/reference/densenet121_state_dict.txt``,
derived from torchvision's own code, see its header) against a DenseNet written here with plain
``torch.nn`` and against the lesson's solution; 7,978,856 parameters, 2.83 G multiply-adds at
224x224, and DenseNet-BC (L=100, k=12) with 0.8M parameters (Huang et al. 2017, Table 2).

Both must equal the figure, and the figure must be the one the lesson's text states.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from lesson_code import answers
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from course.cells import is_test
from course.checkout import Checkout, notebooks

L03 = "03_one_by_one_convolutions"
L04 = "04_inception"

# The lecture's example (COURSE_SPEC, lesson 03): 28×28×192 -> 5×5 "same" conv to 32 channels.
DIRECT_MULTS = 120_422_400
REDUCE_MULTS, EXPAND_MULTS = 2_408_448, 10_035_200  # 1×1 to 16, then 5×5 to 32
BOTTLENECK_MULTS = 12_443_648
DIRECT_WEIGHTS, BOTTLENECK_WEIGHTS = 153_600, 15_872

# GoogLeNet inception (3a), Szegedy et al. 2014, Table 1: (in_ch, #1×1, #3×3 reduce, #3×3,
# #5×5 reduce, #5×5, pool proj) on 28×28; output 28×28×256, "159K" params, "128M" ops.
INCEPTION_3A = (192, 64, 96, 128, 16, 32, 32)
WEIGHTS_3A, MULT_ADDS_3A = 163_328, 128_049_152
TABLE1_PARAMS_K, TABLE1_OPS_M = 159, 128


def mult_adds(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, torch.Size]:
    """(FlopCounterMode FLOPs // 2, output shape) of ``module`` on a meta tensor of ``shape``."""
    module = module.to("meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(torch.empty(shape, device="meta"))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2, out.shape


def weights(module: nn.Module) -> int:
    """Elements of the conv/linear weights (parameters with more than one dimension)."""
    return sum(p.numel() for p in module.parameters() if p.dim() > 1)


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def lesson_text(lesson: str) -> str:
    """All markdown of a lesson's source notebook."""
    nb = notebooks.read(Checkout(ROOT).source(lesson))
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# --------------------------------------------------------------------------------------------
# the counter itself
# --------------------------------------------------------------------------------------------


def test_flop_counter_counts_two_flops_per_multiply_add():
    """(1×7) @ (7×5) has 35 multiplications (and 35 additions): the counter says 70 FLOPs."""
    with FlopCounterMode(display=False) as counter:
        torch.ones(1, 7) @ torch.ones(7, 5)
    assert counter.get_total_flops() == 2 * 7 * 5


def test_conv_is_counted_as_its_im2col_matrix_product():
    """A conv costs what the matrix product of its unfolded input costs (no hidden extras)."""
    conv = nn.Conv2d(6, 4, 3, padding=1, bias=False)
    x = torch.randn(1, 6, 5, 7)
    with FlopCounterMode(display=False) as conv_count:
        direct = conv(x)
    cols = nn.functional.unfold(x, 3, padding=1)  # (1, 6·3·3, 5·7)
    with FlopCounterMode(display=False) as mm_count:
        product = conv.weight.reshape(4, -1) @ cols[0]  # (4, 54) @ (54, 35)
    torch.testing.assert_close(product.reshape(1, 4, 5, 7), direct)
    assert conv_count.get_total_flops() == mm_count.get_total_flops() == 2 * 4 * 54 * 35


# --------------------------------------------------------------------------------------------
# lesson 03: the 28×28×192 example
# --------------------------------------------------------------------------------------------


def _direct() -> nn.Module:
    return nn.Conv2d(192, 32, 5, padding=2, bias=False)


def _bottleneck() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(192, 16, 1, bias=False), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2, bias=False)
    )


def test_lecture_example_multiplications_by_flop_counter():
    direct, out = mult_adds(_direct(), (1, 192, 28, 28))
    assert out == (1, 32, 28, 28)
    assert direct == DIRECT_MULTS
    reduce, mid = mult_adds(nn.Conv2d(192, 16, 1, bias=False), (1, 192, 28, 28))
    expand, _ = mult_adds(nn.Conv2d(16, 32, 5, padding=2, bias=False), tuple(mid))
    assert (reduce, expand) == (REDUCE_MULTS, EXPAND_MULTS)
    total, out = mult_adds(_bottleneck(), (1, 192, 28, 28))
    assert out == (1, 32, 28, 28)
    assert total == reduce + expand == BOTTLENECK_MULTS
    assert round(direct / total, 1) == 9.7  # "≈ 9.7× fewer"


def test_lecture_example_weights_by_parameter_count():
    assert params(_direct()) == DIRECT_WEIGHTS
    assert params(_bottleneck()) == BOTTLENECK_WEIGHTS == 192 * 16 + 12_800
    # with biases: one per filter
    biased = nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2))
    assert params(biased) == BOTTLENECK_WEIGHTS + 16 + 32


def test_lesson03_solution_reproduces_the_example():
    ns = answers(L03, "conv_params", "conv_mults")
    conv_mults, conv_params = ns["conv_mults"], ns["conv_params"]
    assert conv_mults(28, 28, 192, 32, 5) == DIRECT_MULTS
    assert conv_mults(28, 28, 192, 16, 1) == REDUCE_MULTS
    assert conv_mults(28, 28, 16, 32, 5) == EXPAND_MULTS
    assert conv_params(192, 32, 5, bias=False) == DIRECT_WEIGHTS
    assert conv_params(192, 16, 1, bias=False) + conv_params(16, 32, 5, bias=False) == (
        BOTTLENECK_WEIGHTS
    )


@pytest.mark.parametrize(
    "figure", ["120,422,400", "12,443,648", "2,408,448", "10,035,200", "153,600", "15,872"]
)
def test_lesson03_text_states_the_checked_figures(figure):
    assert figure in lesson_text(L03)


# --------------------------------------------------------------------------------------------
# lesson 04: inception (3a)
# --------------------------------------------------------------------------------------------


class PlainInception(nn.Module):
    """Fig. 2b written out with plain layers, independently of the lesson: six biased convs."""

    def __init__(self, in_ch, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = nn.Conv2d(in_ch, c1, 1)
        self.b2r, self.b2 = nn.Conv2d(in_ch, c3r, 1), nn.Conv2d(c3r, c3, 3, padding=1)
        self.b3r, self.b3 = nn.Conv2d(in_ch, c5r, 1), nn.Conv2d(c5r, c5, 5, padding=2)
        self.b4 = nn.Conv2d(in_ch, cp, 1)

    def forward(self, x):
        relu = torch.relu
        pooled = nn.functional.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat(
            [
                relu(self.b1(x)),
                relu(self.b2(relu(self.b2r(x)))),
                relu(self.b3(relu(self.b3r(x)))),
                relu(self.b4(pooled)),
            ],
            dim=1,
        )


class PlainNaive(nn.Module):
    """Fig. 2a with plain layers: 1×1, 3×3, 5×5 convs and a 3×3 max-pool, side by side."""

    def __init__(self, in_ch, c1, c3, c5):
        super().__init__()
        self.b1 = nn.Conv2d(in_ch, c1, 1)
        self.b2 = nn.Conv2d(in_ch, c3, 3, padding=1)
        self.b3 = nn.Conv2d(in_ch, c5, 5, padding=2)

    def forward(self, x):
        pooled = nn.functional.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat(
            [torch.relu(self.b1(x)), torch.relu(self.b2(x)), torch.relu(self.b3(x)), pooled], 1
        )


def test_inception_3a_by_flop_counter_and_parameter_count():
    module = PlainInception(*INCEPTION_3A)
    assert weights(module) == WEIGHTS_3A
    assert params(module) == WEIGHTS_3A + 64 + 96 + 128 + 16 + 32 + 32  # one bias per filter
    macs, out = mult_adds(module, (1, 192, 28, 28))
    assert out == (1, 256, 28, 28)  # Table 1: 28×28×256
    assert macs == MULT_ADDS_3A


def test_table1_units_for_inception_3a():
    """Table 1 says 159K params and 128M ops: K = 1024, but M = 10⁶."""
    assert WEIGHTS_3A // 1024 == TABLE1_PARAMS_K  # 159.5
    assert round(WEIGHTS_3A / 1000) != TABLE1_PARAMS_K  # 163 with K = 1000
    assert (WEIGHTS_3A + 368) // 1024 == TABLE1_PARAMS_K  # biases do not change it
    assert round(MULT_ADDS_3A / 1e6) == TABLE1_OPS_M
    assert round(MULT_ADDS_3A / 2**20) != TABLE1_OPS_M  # 122 with M = 2^20


def test_naive_3a_costs_more_and_grows_wider():
    naive_macs, naive_out = mult_adds(PlainNaive(192, 64, 128, 32), (1, 192, 28, 28))
    assert naive_out == (1, 64 + 128 + 32 + 192, 28, 28)  # 416: the pool keeps all 192
    assert naive_macs == weights(PlainNaive(192, 64, 128, 32)) * 28 * 28 == 303_464_448
    assert round(naive_macs / MULT_ADDS_3A, 1) == 2.4  # "about 2.4" in the lesson


def test_lesson04_solution_reproduces_inception_3a():
    ns = answers(L04, "NaiveInception", "InceptionModule")
    module = ns["InceptionModule"](*INCEPTION_3A)
    assert weights(module) == WEIGHTS_3A
    assert params(module) == params(PlainInception(*INCEPTION_3A))
    macs, out = mult_adds(module, (1, 192, 28, 28))
    assert (macs, tuple(out)) == (MULT_ADDS_3A, (1, 256, 28, 28))
    naive_macs, naive_out = mult_adds(ns["NaiveInception"](192, 64, 128, 32), (1, 192, 28, 28))
    plain_macs, plain_out = mult_adds(PlainNaive(192, 64, 128, 32), (1, 192, 28, 28))
    assert (naive_macs, naive_out) == (plain_macs, plain_out)


def test_lesson04_solution_computes_what_the_plain_module_computes():
    """Same weights in, same numbers out: the solution's (3a) is Fig. 2b, not just the right size."""
    ns = answers(L04, "InceptionModule")
    torch.manual_seed(0)
    module = ns["InceptionModule"](8, 4, 3, 6, 2, 5, 7).double()
    plain = PlainInception(8, 4, 3, 6, 2, 5, 7).double()
    convs = [
        m
        for name in ("branch1", "branch2", "branch3", "branch4")
        for m in getattr(module, name).modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        for src, dst in zip(
            convs, [plain.b1, plain.b2r, plain.b2, plain.b3r, plain.b3, plain.b4], strict=True
        ):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        x = torch.randn(2, 8, 9, 6, dtype=torch.float64)
        torch.testing.assert_close(module(x), plain(x))


@pytest.mark.parametrize("figure", ["163,328", "159K", "128M", "28×28×256", "128,049,152"])
def test_lesson04_text_states_the_checked_figures(figure):
    assert figure in lesson_text(L04)


# --------------------------------------------------------------------------------------------
# lesson 06: ResNet-50 (torchvision's), shortcut options, the bottleneck's cost
# --------------------------------------------------------------------------------------------

L06 = "06_residual_variants"
RESNET50_PARAMS = 25_557_032  # torchvision's model card for resnet50 (ResNet50_Weights)
RESNET50_MULT_ADDS = 4_089_184_256  # torchvision: "_ops": 4.089 (GFLOPS, in fact multiply-adds)
RESNET34_PARAMS = 21_797_672  # torchvision's resnet34 (option B shortcuts), lesson 05
SHORTCUTS_B, SHORTCUTS_C = 173_824, 1_092_992  # ResNet-34's shortcut parameters, options B and C
BOTTLENECK_256 = (69_632, 218_365_952)  # weights, multiply-adds on 56×56: 1×1 256→64, 3×3, 1×1 →256
BASIC_64 = (73_728, 231_211_008)  # two 3×3 convolutions at 64 channels
TWO_3X3_256 = (1_179_648, 3_699_376_128)  # two 3×3 convolutions at 256 channels
TORCHVISION_KEYS = Path(__file__).resolve().parent / "reference" / "torchvision_resnet50.tsv"


def torchvision_resnet50_table() -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """The checked-in state_dict of torchvision's resnet50() (key -> shape) and its header notes
    (made from torchvision's own code: tests/reference/make_torchvision_resnet50.py)."""
    table, notes = {}, {}
    for line in TORCHVISION_KEYS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[2:].partition(":")
            notes[key.strip()] = value.strip()
        elif line.strip():
            key, shape = line.split("\t")
            table[key] = tuple(ast.literal_eval(shape))
    return table, notes


def is_parameter(key: str) -> bool:
    """State-dict entries that are parameters (BN running statistics are buffers)."""
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def test_checked_in_key_list_counts_torchvisions_parameters():
    table, notes = torchvision_resnet50_table()
    assert len(table) == 320
    count = sum(math.prod(shape) for key, shape in table.items() if is_parameter(key))
    assert count == RESNET50_PARAMS
    assert str(RESNET50_PARAMS) in notes["parameters counted"]
    assert (
        f"num_params {RESNET50_PARAMS}" in notes["model card (ResNet50_Weights.IMAGENET1K_V1.meta)"]
    )


def test_resnet50_params_by_closed_form():
    """Stage by stage, without any module: stem, bottlenecks, projections, fc."""
    total = 7 * 7 * 3 * 64 + 2 * 64
    cin = 64
    for blocks, w in ((3, 64), (4, 128), (6, 256), (3, 512)):
        for i in range(blocks):
            a = cin if i == 0 else 4 * w
            total += a * w + 9 * w * w + w * 4 * w + 2 * (w + w + 4 * w)
            if i == 0:
                total += a * 4 * w + 2 * 4 * w
        cin = 4 * w
    total += 2048 * 1000 + 1000
    assert total == RESNET50_PARAMS


def test_lesson06_resnet50_state_dict_equals_torchvisions():
    ns = answers(L06, "Bottleneck", "ResNet50")
    model = ns["ResNet50"]().to("meta")
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    table, _ = torchvision_resnet50_table()
    assert list(got) == list(table)  # same keys, same order
    assert got == table
    assert params(model) == RESNET50_PARAMS


def test_lesson06_resnet50_cost_by_flop_counter():
    ns = answers(L06, "Bottleneck", "ResNet50")
    macs, out = mult_adds(ns["ResNet50"](), (1, 3, 224, 224))
    assert out == (1, 1000)
    assert macs == RESNET50_MULT_ADDS and round(macs / 1e9, 3) == 4.089
    # the paper's v1 (stride on the first 1×1 convolution) costs 3.86G: Table 1's "3.8 × 10^9"
    model = ns["ResNet50"]()
    for name in ("layer2", "layer3", "layer4"):
        block = getattr(model, name)[0]
        block.conv1.stride, block.conv2.stride = (2, 2), (1, 1)
    v1, _ = mult_adds(model, (1, 3, 224, 224))
    assert round(v1 / 1e9, 2) == 3.86 and round(v1 / 1e9, 1) == 3.9 and int(v1 / 1e8) == 38


def _plain_shortcut(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


def test_resnet34_shortcut_parameters_with_plain_modules():
    blocks, cin = [], 64
    for n, c in ((3, 64), (4, 128), (6, 256), (3, 512)):
        for i in range(n):
            blocks.append((cin, c, 2 if i == 0 and c != 64 else 1))
            cin = c
    b = sum(params(_plain_shortcut(a, c)) for a, c, s in blocks if s != 1 or a != c)
    c_all = sum(params(_plain_shortcut(a, c)) for a, c, _ in blocks)
    assert (b, c_all) == (SHORTCUTS_B, SHORTCUTS_C)
    assert len(blocks) - sum(s != 1 or a != c for a, c, s in blocks) == 13  # "thirteen" (§4.1)
    ns = answers(L06, "Shortcut", "shortcut_params")
    for option, want in (("A", 0), ("B", SHORTCUTS_B), ("C", SHORTCUTS_C), ("pool", SHORTCUTS_B)):
        assert sum(ns["shortcut_params"](a, c, s, option) for a, c, s in blocks) == want
        assert sum(params(ns["Shortcut"](a, c, s, option)) for a, c, s in blocks) == want


def test_bottleneck_and_basic_costs_by_flop_counter():
    def cost(layers):
        seq = nn.Sequential(*(nn.Conv2d(a, b, f, padding=f // 2, bias=False) for a, b, f in layers))
        return weights(seq), mult_adds(seq, (1, layers[0][0], 56, 56))[0]

    assert cost([(256, 64, 1), (64, 64, 3), (64, 256, 1)]) == BOTTLENECK_256
    assert cost([(64, 64, 3), (64, 64, 3)]) == BASIC_64
    assert cost([(256, 256, 3), (256, 256, 3)]) == TWO_3X3_256
    assert round(TWO_3X3_256[0] / BOTTLENECK_256[0]) == 17  # "17 times"
    ns = answers(L06, "block_costs")
    assert tuple(ns["bottleneck_cost"](256, 64, 56, 56).values()) == BOTTLENECK_256
    assert tuple(ns["two_conv_cost"](64, 56, 56).values()) == BASIC_64
    assert tuple(ns["two_conv_cost"](256, 56, 56).values()) == TWO_3X3_256
    # the lesson's own Bottleneck measures the same (its three convolutions, without BN)
    block = answers(L06, "Bottleneck")["Bottleneck"](256, 64)
    convs = nn.Sequential(block.conv1, block.conv2, block.conv3)
    assert (weights(convs), mult_adds(convs, (1, 256, 56, 56))[0]) == BOTTLENECK_256


def test_last_stage_projection_against_its_bottleneck():
    """Written answer 2: a 2048 × 2048 projection is nearly as big as a last-stage bottleneck."""
    bottleneck = nn.Sequential(
        nn.Conv2d(2048, 512, 1, bias=False),
        nn.Conv2d(512, 512, 3, bias=False),
        nn.Conv2d(512, 2048, 1, bias=False),
    )
    assert (
        weights(bottleneck) == 4_456_448
        and weights(nn.Conv2d(2048, 2048, 1, bias=False)) == 4_194_304
    )


# lesson 07: DenseNet-121 (torchvision) and DenseNet-BC (Huang et al. 2017, Table 2)
# --------------------------------------------------------------------------------------------

L07 = "07_highway_densenet"
DENSENET121_LIST = Path(__file__).parent / "reference" / "densenet121_state_dict.txt"
DENSENET121_PARAMS = 7_978_856  # torchvision's densenet121 (DenseNet121_Weights.IMAGENET1K_V1)
DENSENET121_MACS = 2_834_161_664  # per 224x224 image; torchvision's table: "2.83 GFLOPS"
DENSENET_BC_100_K12 = 769_162  # CIFAR-10, stem conv 3x3 to 2k = 24 channels: "0.8M" in Table 2


def reference_table() -> dict[str, tuple[int, ...]]:
    """tests/reference/densenet121_state_dict.txt as {key: shape}, in file order."""
    table = {}
    for line in DENSENET121_LIST.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape = line.split()
        table[key] = () if shape == "()" else tuple(int(s) for s in shape.split("x"))
    return table


def _bn_relu_conv(c_in: int, c_out: int, kernel: int, names=("norm", "relu", "conv")):
    norm, relu, conv = names
    return [
        (norm, nn.BatchNorm2d(c_in)),
        (relu, nn.ReLU()),
        (conv, nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False)),
    ]


class PlainDenseNet(nn.Module):
    """DenseNet-BC written from Huang et al. 2017 (§3, Table 1) with plain torch.nn, independently
    of the lesson: named like torchvision, forward by explicit concatenation of feature lists."""

    def __init__(self, blocks, k, c0, classes, imagenet=True):
        super().__init__()
        from collections import OrderedDict

        stem = OrderedDict()
        if imagenet:
            stem["conv0"] = nn.Conv2d(3, c0, 7, stride=2, padding=3, bias=False)
            stem["norm0"] = nn.BatchNorm2d(c0)
            stem["relu0"] = nn.ReLU()
            stem["pool0"] = nn.MaxPool2d(3, 2, 1)
        else:
            stem["conv0"] = nn.Conv2d(3, c0, 3, padding=1, bias=False)
        c = c0
        for b, n in enumerate(blocks, 1):
            block = nn.Module()
            for i in range(n):
                layer = nn.Sequential(
                    OrderedDict(
                        _bn_relu_conv(c + i * k, 4 * k, 1, ("norm1", "relu1", "conv1"))
                        + _bn_relu_conv(4 * k, k, 3, ("norm2", "relu2", "conv2"))
                    )
                )
                block.add_module(f"denselayer{i + 1}", layer)
            stem[f"denseblock{b}"] = block
            c += n * k
            if b < len(blocks):
                stem[f"transition{b}"] = nn.Sequential(
                    OrderedDict(_bn_relu_conv(c, c // 2, 1) + [("pool", nn.AvgPool2d(2, 2))])
                )
                c //= 2
        stem["norm5"] = nn.BatchNorm2d(c)
        self.features = nn.Sequential(stem)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        for name, module in self.features.named_children():
            if name.startswith("denseblock"):
                feats = [x]
                for layer in module.children():
                    feats.append(layer(torch.cat(feats, 1)))
                x = torch.cat(feats, 1)
            else:
                x = module(x)
        x = torch.relu(x).mean(dim=(2, 3))
        return self.classifier(x)


def table_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_densenet121_list_sums_to_torchvision_count():
    table = reference_table()
    assert len(table) == 727
    learned = [k for k in table if k.endswith((".weight", ".bias"))]
    assert sum(math.prod(table[k]) for k in learned) == DENSENET121_PARAMS


def test_plain_densenet121_equals_the_list_and_the_counts():
    model = PlainDenseNet((6, 12, 24, 16), 32, 64, 1000)
    assert table_of(model) == reference_table()
    assert list(table_of(model)) == list(reference_table())  # same order, too
    assert params(model) == DENSENET121_PARAMS
    macs, out = mult_adds(model, (1, 3, 224, 224))
    assert out == (1, 1000)
    assert macs == DENSENET121_MACS
    assert round(macs / 1e9, 2) == 2.83


def test_densenet_bc_100_has_08m_parameters():
    model = PlainDenseNet((16, 16, 16), 12, 24, 10, imagenet=False)
    assert params(model) == DENSENET_BC_100_K12
    assert round(DENSENET_BC_100_K12 / 1e6, 1) == 0.8
    assert (
        1 + 2 * 48 + 2 + 1 == 100
    )  # L = 100 weighted layers: stem, 2 per layer, 2 transitions, fc


def test_lesson07_solution_matches_torchvision_and_the_plain_network():
    ns = answers(L07, "DenseLayer", "DenseBlock", "Transition", "DenseNet", "DenseNet121")
    ns["math"] = math
    model = ns["DenseNet121"]()
    assert table_of(model) == reference_table()
    assert list(table_of(model)) == list(reference_table())
    bc = ns["DenseNet"]((16, 16, 16), 12, 24, num_classes=10, stem="cifar")
    assert params(bc) == DENSENET_BC_100_K12
    # same weights in, same logits out: the solution computes what the plain network computes
    torch.manual_seed(0)
    mine = ns["DenseNet"]((2, 3), 4, 8, num_classes=5, stem="imagenet").double().eval()
    plain = PlainDenseNet((2, 3), 4, 8, 5).double().eval()
    plain.load_state_dict(mine.state_dict())
    x = torch.randn(2, 3, 40, 40, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), plain(x))


def test_lesson07_hidden_key_generator_reproduces_the_list():
    """The hidden test of DenseNet121 builds torchvision's table with a generator; it must be this list."""
    nb = notebooks.read(Checkout(ROOT).source(L07))
    cell = next(c for c in nb.cells if is_test(c) and "def _tv_table" in c.source)
    src = cell.source
    start = src.index("def _tv_table")
    end = src.index("### END HIDDEN TESTS", start)
    namespace: dict = {}
    exec(src[start:end], namespace)
    assert namespace["_tv_table"]() == reference_table()


def test_lesson07_matched_networks():
    from course.experiments import comparison

    ns = answers(L07, "ConvHighwayUnit", "DenseLayer", "DenseBlock", "Transition", "DenseNet")
    ns["math"] = math
    nets = comparison.matched_networks(ns["ConvHighwayUnit"], ns["DenseNet"])
    counts = {name: params(build()) for name, build in nets.items()}
    assert counts == {"ResNet": 218_778, "Highway": 229_754, "DenseNet": 218_470}
    assert max(counts.values()) / min(counts.values()) < 1.06  # "about 0.22 M", gates +5 %


@pytest.mark.parametrize(
    "figure",
    [
        "6.61",
        "8.17",
        "7.84",
        "6.71",
        "6.37",
        "25.03",
        "7.76",
        "24.52",
        "7.46",
        "24.19",
        "7.40",
        "28.54",
        "10.02",
        "25,557,032",
        "173,824",
        "1,092,992",
        "69,632",
        "73,728",
        "1,179,648",
        "4,089,184,256",
        "3.86G",
        "218M",
        "231M",
        "3.70G",
        "9.90",
        "8.91",
        "4.92",
        "7.61",
        "12.22",
        "5.46",
    ],
)
def test_lesson06_text_states_the_checked_figures(figure):
    text = lesson_text(L06) + "\n".join(
        c.source for c in notebooks.read(Checkout(ROOT).source(L06)).cells if c.cell_type == "code"
    )
    assert figure in text


@pytest.mark.parametrize(
    "figure",
    ["7,978,856", "0.8 M", "4.51 %", "2.83 GFLOPS", "6, 12, 24 and 16", "8.70 %", "6.61 %"],
)
def test_lesson07_text_states_the_checked_figures(figure):
    assert figure in lesson_text(L07)
