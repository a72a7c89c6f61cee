"""Plausible wrong answers for lesson 04 (Inception); each must be caught by its exercise's tests."""

# ----------------------------------------------------------------------------- NaiveInception
# A correct module with placeholders for the parts a wrong answer changes.
_NAIVE = """class NaiveInception(nn.Module):
    def __init__(self, in_ch, ch1x1, ch3x3, ch5x5):
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(in_ch, ch1x1, 1){relu})
        self.branch2 = nn.Sequential(nn.Conv2d(in_ch, ch3x3, 3, padding={pad3}){relu})
        self.branch3 = nn.Sequential(nn.Conv2d(in_ch, ch5x5, 5, padding={pad5}){relu})
        self.branch4 = nn.Sequential({pool})

    def forward(self, x):
        return torch.cat([{order}], dim={dim})
"""
_NAIVE_OK = {
    "relu": ", nn.ReLU(inplace=True)",
    "pad3": "1",
    "pad5": "2",
    "pool": "nn.MaxPool2d(3, stride=1, padding=1)",
    "order": "self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)",
    "dim": "1",
}


def _naive(**changes: str) -> str:
    assert set(changes) <= set(_NAIVE_OK), set(changes) - set(_NAIVE_OK)
    return _NAIVE.format(**{**_NAIVE_OK, **changes})


# fills a preallocated buffer made without device or dtype (the answer is otherwise correct)
_NAIVE_OUT_BUFFER = _naive().replace(
    "        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)\n",
    """        outs = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        out = torch.empty(x.shape[0], sum(o.shape[1] for o in outs), x.shape[2], x.shape[3])
        c = 0
        for o in outs:
            out[:, c : c + o.shape[1]] = o
            c += o.shape[1]
        return out
""",
)


# ----------------------------------------------------------------------------- InceptionModule
_INCEPTION = """class InceptionModule(nn.Module):
    def __init__(self, in_ch, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(in_ch, ch1x1, 1{bias}), {bn1}nn.ReLU(inplace=True))
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_ch, {red3}, 1{bias}), {reduce_relu}
            nn.Conv2d({red3}, ch3x3, 3, padding=1{bias}), nn.ReLU(inplace=True),
        )
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_ch, {red5}, 1{bias}), {reduce_relu}
            nn.Conv2d({red5}, ch5x5, {k5}, padding={pad5}{bias}), nn.ReLU(inplace=True),
        )
        self.branch4 = nn.Sequential({branch4})

    def forward(self, x):
        return torch.cat([{order}], dim={dim})
"""
_INCEPTION_OK = {
    "bias": "",
    "bn1": "",
    "red3": "ch3x3red",
    "red5": "ch5x5red",
    "reduce_relu": "nn.ReLU(inplace=True),",
    "k5": "5",
    "pad5": "2",
    "branch4": "nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_ch, pool_proj, 1{bias}), "
    "nn.ReLU(inplace=True)",
    "order": "self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)",
    "dim": "1",
}


def _inception(**changes: str) -> str:
    assert set(changes) <= set(_INCEPTION_OK), set(changes) - set(_INCEPTION_OK)
    values = {**_INCEPTION_OK, **changes}
    values["branch4"] = values["branch4"].replace("{bias}", values["bias"])
    return _INCEPTION.format(**values)


def _replace_once(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


# ----------------------------------------------------------------------------- AuxClassifier
_AUX = """class AuxClassifier(nn.Module):
    def __init__(self, in_ch, num_classes):
        super().__init__()
        self.pool = {pool}
        self.conv = nn.Conv2d(in_ch, 128, 1)
        self.fc1 = nn.Linear(4 * 4 * 128, 1024)
        self.dropout = nn.Dropout(p={p})
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
{forward}
"""
_AUX_OK = {
    "pool": "nn.AvgPool2d(5, stride=3)",
    "p": "0.7",
    "forward": """        x = F.relu(self.conv(self.pool(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(self.dropout(x))""",
}


def _aux(**changes: str) -> str:
    assert set(changes) <= set(_AUX_OK), set(changes) - set(_AUX_OK)
    return _AUX.format(**{**_AUX_OK, **changes})


# ----------------------------------------------------------------------------- SmallGoogLeNet
_NET = """class SmallGoogLeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = {stem}
        self.inception3a = InceptionModule(48, 16, 24, 32, 4, 8, 8)
        self.inception3b = InceptionModule(64, 32, 32, 48, 8, 24, 16)
        self.maxpool3 = {maxpool}
        self.inception4a = InceptionModule(120, 48, 24, 52, 4, 12, 16)
        self.aux1 = AuxClassifier(128, {aux_classes})
        self.inception4b = InceptionModule(128, 40, 28, 56, 6, 16, 16)
        self.aux2 = AuxClassifier(128, {aux_classes})
        self.maxpool4 = {maxpool}
        self.inception5a = InceptionModule(128, 64, 40, 80, 8, 32, 32)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout({p})
        self.fc = nn.Linear(208, num_classes)

    def forward(self, x):
        x = self.maxpool3(self.inception3b(self.inception3a(self.stem(x))))
{middle}
        x = self.inception5a(self.maxpool4(x))
        logits = self.fc({head})
{ret}
"""
_NET_OK = {
    "stem": "nn.Sequential(nn.Conv2d(3, 48, 3, padding=1), nn.ReLU(inplace=True))",
    "maxpool": "nn.MaxPool2d(3, stride=2, padding=1)",
    "aux_classes": "num_classes",
    "p": "0.4",
    "middle": """        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        x = self.inception4b(x)
        aux2 = self.aux2(x) if self.training else None""",
    "head": "self.dropout(torch.flatten(self.avgpool(x), 1))",
    "ret": """        if self.training:
            return logits, aux1, aux2
        return logits""",
}


def _net(**changes: str) -> str:
    assert set(changes) <= set(_NET_OK), set(changes) - set(_NET_OK)
    return _NET.format(**{**_NET_OK, **changes})


# ----------------------------------------------------------------------------- googlenet_loss
def _loss(body: str) -> str:
    return f"def googlenet_loss(outputs, y):\n{body}"


_LOSS_EVAL = (
    "    if isinstance(outputs, torch.Tensor):\n        return F.cross_entropy(outputs, y)\n"
)


WRONG_ANSWERS = [
    # ------------------------------------------------------------------ NaiveInception
    {
        "exercise": "NaiveInception",
        "name": "maxpool_default_stride",
        "why": "nn.MaxPool2d(3, padding=1): the stride defaults to the kernel size, H×W shrinks 3×",
        "source": _naive(pool="nn.MaxPool2d(3, padding=1)"),
    },
    {
        "exercise": "NaiveInception",
        "name": "no_padding",
        "why": "3×3 and 5×5 convolutions without padding: the branches lose 2 and 4 pixels",
        "source": _naive(pad3="0", pad5="0"),
    },
    {
        "exercise": "NaiveInception",
        "name": "missing_relu",
        "why": "convolution branches without ReLU",
        "source": _naive(relu=""),
    },
    {
        "exercise": "NaiveInception",
        "name": "relu_on_pool_branch",
        "why": "a ReLU after the max-pool too (the pool branch has no convolution to rectify)",
        "source": _naive(pool="nn.MaxPool2d(3, stride=1, padding=1), nn.ReLU()"),
    },
    {
        "exercise": "NaiveInception",
        "name": "pool_branch_first",
        "why": "concatenates the pool branch first: channels in the wrong order",
        "source": _naive(
            order="self.branch4(x), self.branch1(x), self.branch2(x), self.branch3(x)"
        ),
    },
    {
        "exercise": "NaiveInception",
        "name": "average_pool",
        "why": "3×3 average pooling instead of max-pooling in the pool branch",
        "source": _naive(pool="nn.AvgPool2d(3, stride=1, padding=1)"),
    },
    {
        "exercise": "NaiveInception",
        "name": "pool_branch_detached",
        "why": "detaches the weight-free pool branch ('nothing to learn there'): no gradient reaches the "
        "input through it",
        "source": _naive(
            order="self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x).detach()"
        ),
        "caught_by": ["NaiveInception__gradients"],
    },
    {
        "exercise": "NaiveInception",
        "name": "output_preallocated_on_cpu",
        "why": "fills a torch.empty(...) made without device or dtype: float32 on the CPU whatever the "
        "input",
        "source": _NAIVE_OUT_BUFFER,
    },
    # ------------------------------------------------------------------ InceptionModule
    {
        "exercise": "InceptionModule",
        "name": "pool_branch_without_projection",
        "why": "the pool branch is the max-pool alone: all in_ch channels pass through",
        "source": _inception(branch4="nn.MaxPool2d(3, stride=1, padding=1)"),
    },
    {
        "exercise": "InceptionModule",
        "name": "no_relu_after_reductions",
        "why": "1×1 reductions without ReLU (only the branch ends are rectified)",
        "source": _inception(reduce_relu=""),
    },
    {
        "exercise": "InceptionModule",
        "name": "no_relu_on_1x1_branch",
        "why": "branch1 is a bare 1×1 convolution",
        "source": _replace_once(
            _inception(),
            "nn.Conv2d(in_ch, ch1x1, 1), nn.ReLU(inplace=True))",
            "nn.Conv2d(in_ch, ch1x1, 1))",
        ),
    },
    {
        "exercise": "InceptionModule",
        "name": "projection_before_pool",
        "why": "pool branch as 1×1 conv -> ReLU -> max-pool (the projection on the wrong side)",
        "source": _inception(
            branch4="nn.Conv2d(in_ch, pool_proj, 1), nn.ReLU(inplace=True), "
            "nn.MaxPool2d(3, stride=1, padding=1)"
        ),
    },
    {
        "exercise": "InceptionModule",
        "name": "3x3_kernel_in_5x5_branch",
        "why": "a 3×3 kernel in the '5×5' branch (torchvision's kept bug, pytorch/vision#906)",
        "source": _inception(k5="3", pad5="1"),
    },
    {
        "exercise": "InceptionModule",
        "name": "reductions_swapped",
        "why": "uses ch5x5red before the 3×3 conv and ch3x3red before the 5×5 conv",
        "source": _inception(red3="ch5x5red", red5="ch3x3red"),
    },
    {
        "exercise": "InceptionModule",
        "name": "no_bias",
        "why": "convolutions without bias (bias=False): (3a) would have 368 parameters fewer",
        "source": _inception(bias=", bias=False"),
    },
    {
        "exercise": "InceptionModule",
        "name": "extra_batchnorm",
        "why": "conv -> BatchNorm -> ReLU in branch1 (torchvision's BasicConv2d, not the paper's module)",
        "source": _inception(bn1="nn.BatchNorm2d(ch1x1), "),
    },
    {
        "exercise": "InceptionModule",
        "name": "pool_without_padding",
        "why": "nn.MaxPool2d(3, stride=1): no padding, the pool branch loses 2 pixels",
        "source": _inception(
            branch4="nn.MaxPool2d(3, stride=1), nn.Conv2d(in_ch, pool_proj, 1), nn.ReLU(inplace=True)"
        ),
    },
    {
        "exercise": "InceptionModule",
        "name": "branches_out_of_order",
        "why": "concatenates the 5×5 branch before the 3×3 branch",
        "source": _inception(
            order="self.branch1(x), self.branch3(x), self.branch2(x), self.branch4(x)"
        ),
    },
    {
        "exercise": "InceptionModule",
        "name": "concat_on_width",
        "why": "torch.cat on the last dimension (width) instead of the channels",
        "source": _inception(dim="-1"),
    },
    {
        "exercise": "InceptionModule",
        "name": "pool_branch_on_detached_input",
        "why": "the pool branch reads x.detach() ('max-pooling has no weights'): the layers below get no "
        "gradient through it",
        "source": _inception(
            order="self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x.detach())"
        ),
        "caught_by": ["InceptionModule__gradients"],
    },
    {
        "exercise": "InceptionModule",
        "name": "pool_branch_without_maxpool",
        "why": "the pool branch is only the 1×1 projection (+ ReLU): same shapes and parameter count, "
        "other values",
        "source": _inception(branch4="nn.Conv2d(in_ch, pool_proj, 1{bias}), nn.ReLU(inplace=True)"),
    },
    # ------------------------------------------------------------------ AuxClassifier
    {
        "exercise": "AuxClassifier",
        "name": "dropout_keeps_70_percent",
        "why": "nn.Dropout(0.3): drops 30% instead of the paper's 70%",
        "source": _aux(p="0.3"),
    },
    {
        "exercise": "AuxClassifier",
        "name": "dropout_also_in_eval",
        "why": "F.dropout(x, 0.7) (training=True by default): still dropping at inference",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(F.dropout(x, 0.7))"""
        ),
    },
    {
        "exercise": "AuxClassifier",
        "name": "adaptive_pool",
        "why": "nn.AdaptiveAvgPool2d(4) (torchvision's InceptionAux) instead of 5×5 / stride 3",
        "source": _aux(pool="nn.AdaptiveAvgPool2d(4)"),
    },
    {
        "exercise": "AuxClassifier",
        "name": "max_pool",
        "why": "5×5 / stride 3 max-pooling instead of average pooling",
        "source": _aux(pool="nn.MaxPool2d(5, stride=3)"),
    },
    {
        "exercise": "AuxClassifier",
        "name": "no_relu_after_fc1",
        "why": "fc1 without its ReLU",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = self.fc1(torch.flatten(x, 1))
        return self.fc2(self.dropout(x))"""
        ),
    },
    {
        "exercise": "AuxClassifier",
        "name": "dropout_before_fc1",
        "why": "dropout on the 2048 pooled features instead of on fc1's 1024 outputs",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = F.relu(self.fc1(self.dropout(torch.flatten(x, 1))))
        return self.fc2(x)"""
        ),
    },
    {
        "exercise": "AuxClassifier",
        "name": "returns_softmax",
        "why": "returns softmax probabilities instead of logits",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return F.softmax(self.fc2(self.dropout(x)), dim=1)"""
        ),
    },
    {
        "exercise": "AuxClassifier",
        "name": "extra_dropout_on_features",
        "why": "a second dropout (50%) on the flattened features before fc1: invisible when fc1's "
        "weights are zero, as in the dropout test",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = F.dropout(torch.flatten(x, 1), 0.5, self.training)
        x = F.relu(self.fc1(x))
        return self.fc2(self.dropout(x))"""
        ),
        "caught_by": ["AuxClassifier__training_mode"],
    },
    {
        "exercise": "AuxClassifier",
        "name": "own_mask_on_cpu",
        "why": "its own dropout mask, torch.rand(x.shape) (made on the CPU): fails for a model on a GPU",
        "source": _aux(
            forward="""        x = F.relu(self.conv(self.pool(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        if self.training:
            x = x * (torch.rand(x.shape) >= 0.7) / 0.3
        return self.fc2(x)"""
        ),
        "caught_by": ["AuxClassifier__training_mode"],
    },
    # ------------------------------------------------------------------ SmallGoogLeNet
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux_outputs_at_eval",
        "why": "returns (logits, aux1, aux2) in eval mode too: the side branches used at inference",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x)
        x = self.inception4b(x)
        aux2 = self.aux2(x)""",
            ret="        return logits, aux1, aux2",
        ),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux_computed_at_eval",
        "why": "runs both auxiliary heads in eval mode and throws their outputs away",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x)
        x = self.inception4b(x)
        aux2 = self.aux2(x)"""
        ),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "both_aux_on_4a",
        "why": "aux2 also reads inception4a's output (same 16×16×128 shape as 4b's)",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        aux2 = self.aux2(x) if self.training else None
        x = self.inception4b(x)"""
        ),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux_outputs_swapped",
        "why": "returns (logits, aux2, aux1)",
        "source": _net(
            ret="""        if self.training:
            return logits, aux2, aux1
        return logits"""
        ),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "stem_without_relu",
        "why": "the stem is a bare 3×3 convolution",
        "source": _net(stem="nn.Sequential(nn.Conv2d(3, 48, 3, padding=1))"),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "maxpool_without_padding",
        "why": "nn.MaxPool2d(3, stride=2): 32 -> 15 -> 7 instead of 32 -> 16 -> 8",
        "source": _net(maxpool="nn.MaxPool2d(3, stride=2)"),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "dropout_never_applied",
        "why": "defines self.dropout but feeds the pooled features straight into fc",
        "source": _net(head="torch.flatten(self.avgpool(x), 1)"),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux_fixed_to_10_classes",
        "why": "AuxClassifier(128, 10): the auxiliary heads ignore num_classes",
        "source": _net(aux_classes="10"),
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "double_dropout",
        "why": "applies the 40% dropout twice (64% dropped): identical in eval mode",
        "source": _net(head="self.dropout(self.dropout(torch.flatten(self.avgpool(x), 1)))"),
        "caught_by": ["SmallGoogLeNet__main_dropout"],
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "dropout_before_pooling",
        "why": "drops 40% of the 8×8 feature maps' values before the global average pool",
        "source": _net(head="torch.flatten(self.avgpool(self.dropout(x)), 1)"),
        "caught_by": ["SmallGoogLeNet__main_dropout"],
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "inception4b_skipped",
        "why": "builds inception4b but never calls it (shapes and parameter count unchanged)",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        aux2 = self.aux2(x) if self.training else None"""
        ),
        "caught_by": ["SmallGoogLeNet__outputs"],
    },
    # ------------------------------------------------------------------ googlenet_loss
    {
        "exercise": "googlenet_loss",
        "name": "aux_weight_one",
        "why": "adds the auxiliary losses with weight 1 instead of 0.3",
        "source": _loss(
            _LOSS_EVAL
            + "    logits, *aux = outputs\n"
            + "    return F.cross_entropy(logits, y) + sum(F.cross_entropy(a, y) for a in aux)\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "mean_of_all_heads",
        "why": "averages the main and auxiliary losses",
        "source": _loss(
            _LOSS_EVAL + "    return sum(F.cross_entropy(o, y) for o in outputs) / len(outputs)\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "aux_weight_shared",
        "why": "0.3 × the MEAN of the auxiliary losses (0.15 each with two heads)",
        "source": _loss(
            _LOSS_EVAL
            + "    logits, *aux = outputs\n"
            + "    loss = F.cross_entropy(logits, y)\n"
            + "    if aux:\n"
            + "        loss = loss + 0.3 * sum(F.cross_entropy(a, y) for a in aux) / len(aux)\n"
            + "    return loss\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "first_aux_only",
        "why": "uses only the first auxiliary head",
        "source": _loss(
            _LOSS_EVAL
            + "    return F.cross_entropy(outputs[0], y) + 0.3 * F.cross_entropy(outputs[1], y)\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "exactly_two_aux",
        "why": "unpacks exactly (logits, aux1, aux2): fails for other numbers of heads",
        "source": _loss(
            _LOSS_EVAL
            + "    logits, aux1, aux2 = outputs\n"
            + "    return F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y)"
            + " + F.cross_entropy(aux2, y))\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "tensor_unpacked_as_tuple",
        "why": "no eval-mode case: a logits tensor is unpacked row by row as if it were a tuple",
        "source": _loss(
            "    logits, *aux = outputs\n"
            "    return F.cross_entropy(logits, y) + sum(0.3 * F.cross_entropy(a, y) for a in aux)\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "softmax_before_cross_entropy",
        "why": "applies softmax before F.cross_entropy (which expects logits)",
        "source": _loss(
            "    if isinstance(outputs, torch.Tensor):\n"
            "        outputs = (outputs,)\n"
            "    logits, *aux = (o.softmax(dim=1) for o in outputs)\n"
            "    return F.cross_entropy(logits, y) + sum(0.3 * F.cross_entropy(a, y) for a in aux)\n"
        ),
    },
    {
        "exercise": "googlenet_loss",
        "name": "aux_losses_detached",
        "why": "the auxiliary losses are added as .detach()ed values: right number, no gradient to the "
        "side heads",
        "source": _loss(
            _LOSS_EVAL
            + "    logits, *aux = outputs\n"
            + "    loss = F.cross_entropy(logits, y)\n"
            + "    for a in aux:\n"
            + "        loss = loss + 0.3 * F.cross_entropy(a, y).detach()\n"
            + "    return loss\n"
        ),
        "caught_by": ["googlenet_loss__training"],
    },
    {
        "exercise": "googlenet_loss",
        "name": "casts_to_float32",
        "why": "computes every cross-entropy on .float() logits: float64 logits give a float32 loss",
        "source": _loss(
            "    if isinstance(outputs, torch.Tensor):\n"
            "        return F.cross_entropy(outputs.float(), y)\n"
            "    logits, *aux = outputs\n"
            "    loss = F.cross_entropy(logits.float(), y)\n"
            "    for a in aux:\n"
            "        loss = loss + 0.3 * F.cross_entropy(a.float(), y)\n"
            "    return loss\n"
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
    {
        "exercise": "googlenet_loss",
        "name": "stabilises_logits_in_place",
        "why": "subtracts each row's maximum in place ('for stability'): the loss is right, the caller's "
        "logits are changed",
        "source": _loss(
            "    if isinstance(outputs, torch.Tensor):\n"
            "        outputs = (outputs,)\n"
            "    for o in outputs:\n"
            "        o -= o.max(dim=1, keepdim=True).values\n"
            "    logits, *aux = outputs\n"
            "    return F.cross_entropy(logits, y) + sum(0.3 * F.cross_entropy(a, y) for a in aux)\n"
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
    {
        "exercise": "googlenet_loss",
        "name": "weights_tensor_on_cpu",
        "why": "torch.tensor([1.0, 0.3, ...]) times the stacked losses: the weights live on the CPU",
        "source": _loss(
            _LOSS_EVAL
            + "    losses = torch.stack([F.cross_entropy(o, y) for o in outputs])\n"
            + "    weights = torch.tensor([1.0] + [0.3] * (len(outputs) - 1), dtype=losses.dtype)\n"
            + "    return (weights * losses).sum()\n"
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
]

# Whole-contract classes (train-mode behaviour, gradient routes, side effects on the caller's
# objects, dtype/device portability): at least two per class. No module of this lesson holds a
# batch norm, so there are no running statistics to test (extra_batchnorm above is caught by count).
_LOSS_OK = (
    "    logits, *aux = outputs\n"
    "    loss = F.cross_entropy(logits, y)\n"
    "    for a in aux:\n"
    "        loss = loss + 0.3 * F.cross_entropy(a, y)\n"
    "    return loss\n"
)
WRONG_ANSWERS += [
    # ---- train-mode-only behaviour
    {
        "exercise": "NaiveInception",
        "name": "functional_dropout",
        "why": "F.dropout on the concatenated output in training mode: no module, invisible in eval mode",
        "source": _naive()
        .replace(
            "        return torch.cat(",
            "        return F.dropout(torch.cat(",
        )
        .replace("], dim=1)\n", "], dim=1), 0.1, self.training)\n"),
    },
    {
        "exercise": "InceptionModule",
        "name": "dropout2d_on_branches",
        "why": "an nn.Dropout2d(0.2) closing branch 2: no parameters, active in training mode only",
        "source": _replace_once(
            _inception(),
            "nn.Conv2d(ch3x3red, ch3x3, 3, padding=1), nn.ReLU(inplace=True),",
            "nn.Conv2d(ch3x3red, ch3x3, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout2d(0.2),",
        ),
        "caught_by": ["InceptionModule__branch2"],
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "dropout_also_on_aux_inputs",
        "why": "F.dropout on inception (4a)'s output before aux1 in training mode",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(F.dropout(x, 0.3, self.training)) if self.training else None
        x = self.inception4b(x)
        aux2 = self.aux2(x) if self.training else None"""
        ),
        "caught_by": ["SmallGoogLeNet__training_mode"],
    },
    # ---- gradient routes
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux_heads_on_detached_features",
        "why": "aux1(x.detach()), aux2(x.detach()): right logits, no gradient from the side losses "
        "into the trunk",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x.detach()) if self.training else None
        x = self.inception4b(x)
        aux2 = self.aux2(x.detach()) if self.training else None"""
        ),
        "caught_by": ["SmallGoogLeNet__gradient_routes"],
    },
    {
        "exercise": "SmallGoogLeNet",
        "name": "aux2_under_no_grad",
        "why": "aux2 run under torch.no_grad() 'to save memory': its loss trains nothing",
        "source": _net(
            middle="""        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training else None
        x = self.inception4b(x)
        aux2 = None
        if self.training:
            with torch.no_grad():
                aux2 = self.aux2(x)"""
        ),
        "caught_by": ["SmallGoogLeNet__gradient_routes"],
    },
    # ---- side effects on the caller's objects
    {
        "exercise": "googlenet_loss",
        "name": "backpropagates_itself",
        "why": "calls loss.backward(retain_graph=True) before returning: the caller's gradients change",
        "source": _loss(
            _LOSS_EVAL
            + _LOSS_OK.replace(
                "    return loss\n",
                "    if loss.requires_grad:\n        loss.backward(retain_graph=True)\n    return loss\n",
            )
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
    {
        "exercise": "googlenet_loss",
        "name": "accumulator_requires_grad",
        "why": "starts from a zero created with requires_grad=True: plain logits give a loss that needs gradients",
        "source": _loss(
            _LOSS_EVAL + "    logits, *aux = outputs\n"
            "    loss = torch.zeros((), dtype=logits.dtype, device=logits.device, requires_grad=True)\n"
            "    loss = loss + F.cross_entropy(logits, y)\n"
            "    for a in aux:\n"
            "        loss = loss + 0.3 * F.cross_entropy(a, y)\n"
            "    return loss\n"
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
    # ---- dtype and device portability
    {
        "exercise": "googlenet_loss",
        "name": "weights_tensor_float32",
        "why": "weights = torch.tensor([1.0, 0.3, ...], device=...): float32, so bfloat16 logits give float32",
        "source": _loss(
            _LOSS_EVAL
            + "    weights = torch.tensor([1.0] + [0.3] * (len(outputs) - 1), device=outputs[0].device)\n"
            "    return sum(w * F.cross_entropy(o, y) for w, o in zip(weights, outputs))\n"
        ),
        "caught_by": ["googlenet_loss__contract"],
    },
    {
        "exercise": "NaiveInception",
        "name": "buffer_float32_on_device",
        "why": "a preallocated output made with device= but no dtype=: float32 whatever the module",
        "source": _NAIVE_OUT_BUFFER.replace("x.shape[3])", "x.shape[3], device=x.device)"),
        "caught_by": ["NaiveInception__branch1"],
    },
]
