"""Plausible wrong answers for lesson 05 (ResNet-34 on CIFAR-10); each must be caught by its tests."""

# --------------------------------------------------------------------------------- BasicBlock
# A correct block with placeholders for the parts a wrong answer changes.
_BLOCK = """class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride={stride1}, padding=1, bias={bias})
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride={stride2}, padding=1, bias={bias})
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if {needs_projection}:
            self.downsample = {projection}

    def forward(self, x):
{forward}
"""
_BLOCK_OK = {
    "stride1": "stride",
    "stride2": "1",
    "bias": "False",
    "needs_projection": "stride != 1 or in_channels != out_channels",
    "projection": "nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), "
    "nn.BatchNorm2d(out_channels))",
    "forward": """        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)""",
}


def _block(**changes: str) -> str:
    unknown = set(changes) - set(_BLOCK_OK)
    assert not unknown, unknown
    return _BLOCK.format(**{**_BLOCK_OK, **changes})


# --------------------------------------------------------------------------------- ResNet34
_NET = """class ResNet34(nn.Module):
    def __init__(self, num_classes=10, stem="cifar"):
        super().__init__()
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias={stem_bias})
{cifar_pool}
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding={im_pad}, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        counts, strides = {counts}, {strides}
        cin = 64
        for i, (n, c, s) in enumerate(zip(counts, (64, 128, 256, 512), strides), start=1):
            blocks = [BasicBlock(cin, c, s)] + [BasicBlock(c, c) for _ in range(n - 1)]
            setattr(self, f"layer{{i}}", nn.Sequential(*blocks))
            cin = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if hasattr(self, "maxpool"):
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
{head}
"""
_NET_OK = {
    "stem_bias": "False",
    "cifar_pool": "            pass",
    "im_pad": "3",
    "counts": "(3, 4, 6, 3)",
    "strides": "(1, 2, 2, 2)",
    "head": "        return self.fc(torch.flatten(self.avgpool(x), 1))",
}


def _net(**changes: str) -> str:
    unknown = set(changes) - set(_NET_OK)
    assert not unknown, unknown
    return _NET.format(**{**_NET_OK, **changes})


# --------------------------------------------------------------------------------- data functions
_STATS = """def channel_stats(images):
{body}
"""
_CROP = """def random_crop_flip(batch, padding=4):
    B, C, H, W = batch.shape
    dev = batch.device
{body}
"""
# the correct gather, shared by several wrong crops that differ elsewhere
_GATHER = """    rows = dy[:, None] + torch.arange(H, device=dev)
    cols = torch.arange(W, device=dev).expand(B, W)
    cols = torch.where(flip[:, None], W - 1 - cols, cols) + dx[:, None]
    b = torch.arange(B, device=dev)[:, None, None, None]
    c = torch.arange(C, device=dev)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]"""


def _crop(body: str) -> str:
    return _CROP.format(body=body)


WRONG_ANSWERS = [
    # ---------------------------------------------------------------- BasicBlock
    {
        "exercise": "BasicBlock",
        "name": "no_projection",
        "why": "downsample always None: the shortcut is never projected when the stride changes",
        "source": _block(needs_projection="False"),
    },
    {
        "exercise": "BasicBlock",
        "name": "projection_only_on_stride",
        "why": "projects only when stride != 1, not when only the channel count changes",
        "source": _block(needs_projection="stride != 1"),
    },
    {
        "exercise": "BasicBlock",
        "name": "always_project",
        "why": "a 1x1 projection even when the identity fits (extra parameters, not option B)",
        "source": _block(needs_projection="True"),
    },
    {
        "exercise": "BasicBlock",
        "name": "relu_before_addition",
        "why": "relu(branch) + x: the ReLU comes before the skip addition, none after",
        "source": _block(
            forward="""        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        if self.downsample is not None:
            identity = self.downsample(x)
        return out + identity"""
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "no_final_relu",
        "why": "returns branch + shortcut without the last ReLU",
        "source": _block(
            forward="""        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return out + identity"""
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "no_bn2",
        "why": "skips the second batch norm in the forward pass",
        "source": _block(
            forward="""        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.relu(self.bn1(self.conv1(x))))
        return self.relu(out + identity)"""
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "projection_without_bn",
        "why": "the projection shortcut is a bare 1x1 convolution, no BN",
        "source": _block(
            projection="nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False))"
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "projection_3x3",
        "why": "projects with a 3x3 convolution instead of 1x1",
        "source": _block(
            projection="nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, "
            "padding=1, bias=False), nn.BatchNorm2d(out_channels))"
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "projection_with_bias",
        "why": "the 1x1 projection keeps a bias although BN follows it",
        "source": _block(
            projection="nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride), "
            "nn.BatchNorm2d(out_channels))"
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "stride_on_conv2",
        "why": "the stride sits on the second convolution (same output shape, other function)",
        "source": _block(stride1="1", stride2="stride"),
    },
    {
        "exercise": "BasicBlock",
        "name": "conv_bias",
        "why": "3x3 convolutions with bias although BN follows them (extra parameters)",
        "source": _block(bias="True"),
    },
    {
        "exercise": "BasicBlock",
        "name": "adds_into_input",
        "why": "identity += out modifies the caller's tensor in place",
        "source": _block(
            forward="""        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        identity += out
        return self.relu(identity)"""
        ),
    },
    {
        "exercise": "BasicBlock",
        "name": "shortcut_detached",
        "why": "identity = x.detach(): right values, but no gradient flows through the shortcut",
        "source": _block(
            forward="""        identity = x.detach()
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)"""
        ),
        "caught_by": ["BasicBlock__gradients"],
    },
    {
        "exercise": "BasicBlock",
        "name": "projection_of_detached_input",
        "why": "the projection shortcut reads x.detach(): no gradient reaches the input through it",
        "source": _block(
            forward="""        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x.detach())
        out += identity
        return self.relu(out)"""
        ),
        "caught_by": ["BasicBlock__gradients"],
    },
    {
        "exercise": "BasicBlock",
        "name": "bn_momentum_keras",
        "why": "BatchNorm2d(..., momentum=0.99), Keras's convention: running statistics follow each "
        "batch almost entirely (outputs unchanged in both modes)",
        "source": _block().replace(
            "nn.BatchNorm2d(out_channels)\n", "nn.BatchNorm2d(out_channels, momentum=0.99)\n"
        ),
        "caught_by": ["BasicBlock__train_mode"],
    },
    {
        "exercise": "BasicBlock",
        "name": "dropout_between_convs",
        "why": "a 30% dropout between the two convolutions (wide-ResNet style): eval-mode values unchanged",
        "source": _block(
            forward="""        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = F.dropout(out, 0.3, self.training)
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)"""
        ),
        "caught_by": ["BasicBlock__train_mode"],
    },
    {
        "exercise": "BasicBlock",
        "name": "bn_without_running_stats",
        "why": "BatchNorm2d(..., track_running_stats=False): batch statistics at inference too",
        "source": _block().replace(
            "nn.BatchNorm2d(out_channels)\n",
            "nn.BatchNorm2d(out_channels, track_running_stats=False)\n",
        ),
    },
    # ---------------------------------------------------------------- ResNet34
    {
        "exercise": "ResNet34",
        "name": "stride_in_layer1",
        "why": "layer1 starts with stride 2 (maps 16, 8, 4, 2 instead of 32, 16, 8, 4)",
        "source": _net(strides="(2, 2, 2, 2)"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "no_stride_in_layer4",
        "why": "layer4 keeps the resolution (8x8 maps at the end)",
        "source": _net(strides="(1, 2, 2, 1)"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "maxpool_in_cifar_stem",
        "why": "the CIFAR stem keeps ImageNet's max-pool: layer1 runs at 16x16",
        "source": _net(
            cifar_pool="            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)"
        ),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "blocks_2222",
        "why": "ResNet-18's stages [2, 2, 2, 2]",
        "source": _net(counts="(2, 2, 2, 2)"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "blocks_3463_off_by_one",
        "why": "stages [3, 4, 6, 2]",
        "source": _net(counts="(3, 4, 6, 2)"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "fc_without_avgpool",
        "why": "flattens the 4x4x512 maps straight into fc (no global average pooling)",
        "source": _net(head="        return self.fc(torch.flatten(x, 1))"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "missing_flatten",
        "why": "fc applied to the (B, 512, 1, 1) pooled maps without flattening",
        "source": _net(head="        return self.fc(self.avgpool(x))"),
        "caught_by": ["ResNet34__shapes"],
    },
    {
        "exercise": "ResNet34",
        "name": "stem_bias",
        "why": "the stem convolution keeps a bias (torchvision's has none)",
        "source": _net(stem_bias="True"),
        "caught_by": ["ResNet34__param_count"],
    },
    {
        "exercise": "ResNet34",
        "name": "imagenet_stem_no_padding",
        "why": "the 7x7 stem conv without padding 3 (maps off by a few pixels)",
        "source": _net(im_pad="0"),
        "caught_by": ["ResNet34__imagenet_stem"],
    },
    {
        "exercise": "ResNet34",
        "name": "stages_in_modulelist",
        "why": "stages kept in self.layers (a ModuleList): state_dict keys differ from torchvision's",
        "source": """class ResNet34(nn.Module):
    def __init__(self, num_classes=10, stem="cifar"):
        super().__init__()
        k, s, p = (3, 1, 1) if stem == "cifar" else (7, 2, 3)
        self.conv1 = nn.Conv2d(3, 64, k, stride=s, padding=p, bias=False)
        if stem == "imagenet":
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layers = nn.ModuleList()
        cin = 64
        for n, c, st in zip((3, 4, 6, 3), (64, 128, 256, 512), (1, 2, 2, 2)):
            self.layers.append(nn.Sequential(BasicBlock(cin, c, st), *[BasicBlock(c, c) for _ in range(n - 1)]))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = [nn.Identity() for _ in range(4)]
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if hasattr(self, "maxpool"):
            x = self.maxpool(x)
        for layer in self.layers:
            x = layer(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))
""",
        "caught_by": ["ResNet34__shapes", "ResNet34__torchvision_keys"],
    },
    {
        "exercise": "ResNet34",
        "name": "stem_bn_skipped_in_forward",
        "why": "builds bn1 but the forward applies relu(conv1(x)): keys, counts and shapes unchanged",
        "source": _net().replace(
            "        x = self.relu(self.bn1(self.conv1(x)))\n",
            "        x = self.relu(self.conv1(x))\n",
        ),
        "caught_by": ["ResNet34__forward"],
    },
    {
        "exercise": "ResNet34",
        "name": "extra_dropout_before_fc",
        "why": "a 20% dropout before fc (no parameters, so keys and counts unchanged; eval mode unchanged)",
        "source": _net(
            head="        return self.fc(F.dropout(torch.flatten(self.avgpool(x), 1), 0.2, self.training))"
        ),
        "caught_by": ["ResNet34__forward"],
    },
    {
        "exercise": "ResNet34",
        "name": "zero_init_every_bn",
        "why": "zero-γ initialisation applied to every BN, the stem's included: every image gives the "
        "same logits",
        "source": _net().replace(
            "        self.fc = nn.Linear(512, num_classes)\n",
            "        self.fc = nn.Linear(512, num_classes)\n"
            "        for m in self.modules():\n"
            "            if isinstance(m, nn.BatchNorm2d):\n"
            "                nn.init.zeros_(m.weight)\n",
        ),
        "caught_by": ["ResNet34__init"],
    },
    # ---------------------------------------------------------------- channel_stats
    {
        "exercise": "channel_stats",
        "name": "per_pixel",
        "why": "reduces over the images only: a (3, H, W) mean image",
        "source": _STATS.format(
            body="    x = images.float() / 255\n    return x.mean(0), x.std(0)",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "per_image",
        "why": "one mean per image (reduces over channels and pixels)",
        "source": _STATS.format(
            body="    x = images.float() / 255\n    return x.mean(dim=(1, 2, 3)), x.std(dim=(1, 2, 3))",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "channels_last_axis",
        "why": "treats the last axis as the channel axis (NHWC habit)",
        "source": _STATS.format(
            body="    x = images.float() / 255\n    return x.mean(dim=(0, 1, 2)), x.std(dim=(0, 1, 2))",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "no_divide_by_255",
        "why": "statistics on the 0..255 scale",
        "source": _STATS.format(
            body="    x = images.double()\n    return x.mean(dim=(0, 2, 3)).float(), x.std(dim=(0, 2, 3)).float()",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "mean_of_image_stds",
        "why": "averages per-image standard deviations (kuangliu's 0.2023, 0.1994, 0.2010)",
        "source": _STATS.format(
            body="    x = images.double() / 255\n"
            "    return x.mean(dim=(0, 2, 3)).float(), x.std(dim=(2, 3)).mean(0).float()",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "variance_not_std",
        "why": "returns the variance instead of the standard deviation",
        "source": _STATS.format(
            body="    x = images.double() / 255\n"
            "    return x.mean(dim=(0, 2, 3)).float(), x.var(dim=(0, 2, 3)).float()",
        ),
    },
    {
        "exercise": "channel_stats",
        "name": "returns_float64",
        "why": "computes in float64 (good) and returns float64 (the contract says float32)",
        "source": _STATS.format(
            body="    x = images.double() / 255\n"
            "    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))",
        ),
        "caught_by": ["channel_stats__contract"],
    },
    {
        "exercise": "channel_stats",
        "name": "python_numbers",
        "why": "one .item() per channel, back into torch.tensor(...): the result leaves the images' device",
        "source": _STATS.format(
            body="    x = images.double() / 255\n"
            "    mean = torch.tensor([x[:, c].mean().item() for c in range(3)])\n"
            "    std = torch.tensor([x[:, c].std().item() for c in range(3)])\n"
            "    return mean, std",
        ),
        "caught_by": ["channel_stats__contract"],
    },
    # ---------------------------------------------------------------- random_crop_flip
    {
        "exercise": "random_crop_flip",
        "name": "resize_instead_of_crop",
        "why": "pads and resizes back to H x W (not a crop of the padded image)",
        "source": _crop(
            """    padded = F.pad(batch.float(), (padding,) * 4)
    out = F.interpolate(padded, size=(H, W), mode="bilinear", align_corners=False)
    flip = torch.rand(B, device=dev) < 0.5
    out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    return out.to(batch.dtype)"""
        ),
        "caught_by": ["random_crop_flip__is_crop"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "no_padding",
        "why": "crops without padding: every offset is 0, the crop is the image itself",
        "source": _crop(
            """    padded = batch
    dy = torch.zeros(B, dtype=torch.long, device=dev)
    dx = torch.zeros(B, dtype=torch.long, device=dev)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__random"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "same_offset_for_batch",
        "why": "one (dy, dx) for the whole batch",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (1,), device=dev).expand(B)
    dx = torch.randint(0, 2 * padding + 1, (1,), device=dev).expand(B)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__random"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "offsets_exclude_2p",
        "why": "torch.randint(0, 2 * padding): the largest offset never occurs",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding, (B,), device=dev)
    dx = torch.randint(0, 2 * padding, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__random"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "vertical_flip",
        "why": "flips up-down (dim -2) instead of left-right",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
    rows = dy[:, None] + torch.arange(H, device=dev)
    cols = dx[:, None] + torch.arange(W, device=dev)
    b = torch.arange(B, device=dev)[:, None, None, None]
    c = torch.arange(C, device=dev)[None, :, None, None]
    out = padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]
    return torch.where(flip[:, None, None, None], out.flip(-2), out)"""
        ),
        "caught_by": ["random_crop_flip__is_crop"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "flip_whole_batch",
        "why": "one coin for the whole batch: all images flipped or none",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = (torch.rand(1, device=dev) < 0.5).expand(B)
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__random"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "reflect_padding",
        "why": "reflect padding: not a crop of the zero-padded image",
        "source": _crop(
            """    padded = F.pad(batch.float(), (padding,) * 4, mode="reflect").to(batch.dtype)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__is_crop"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "per_sample_loop",
        "why": "right crops, but a Python loop over the images",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    out = []
    for i in range(B):
        dy, dx = torch.randint(0, 2 * padding + 1, (2,)).tolist()
        img = padded[i, :, dy : dy + H, dx : dx + W]
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        out.append(img)
    return torch.stack(out)"""
        ),
    },
    {
        "exercise": "random_crop_flip",
        "name": "flips_the_input_in_place",
        "why": "flips the chosen images inside the caller's batch first, then crops: right outputs, "
        "changed inputs",
        "source": _crop(
            """    flip = torch.rand(B, device=dev) < 0.5
    batch[flip] = batch[flip].flip(-1)
    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    rows = dy[:, None] + torch.arange(H, device=dev)
    cols = dx[:, None] + torch.arange(W, device=dev)
    b = torch.arange(B, device=dev)[:, None, None, None]
    c = torch.arange(C, device=dev)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]"""
        ),
        "caught_by": ["random_crop_flip__device"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "offsets_on_the_cpu",
        "why": "torch.randint without device=: CPU offsets added to index tensors on the batch's device",
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,))
    dx = torch.randint(0, 2 * padding + 1, (B,))
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__device"],
    },
    # ---------------------------------------------------------------- accuracy
    {
        "exercise": "accuracy",
        "name": "argmax_dim0",
        "why": "argmax over the batch dimension",
        "source": "def accuracy(logits, labels):\n"
        "    return (logits.argmax(dim=0) == labels).float().mean().item()\n",
    },
    {
        "exercise": "accuracy",
        "name": "returns_tensor",
        "why": "returns a 0-d tensor, not a float",
        "source": "def accuracy(logits, labels):\n"
        "    return (logits.argmax(dim=1) == labels).float().mean()\n",
    },
    {
        "exercise": "accuracy",
        "name": "count_not_fraction",
        "why": "returns the number of correct rows",
        "source": "def accuracy(logits, labels):\n"
        "    return float((logits.argmax(dim=1) == labels).sum())\n",
    },
    {
        "exercise": "accuracy",
        "name": "compares_max_values",
        "why": "compares the largest logit value (not its index) with the label",
        "source": "def accuracy(logits, labels):\n"
        "    return (logits.max(dim=1).values == labels).float().mean().item()\n",
    },
    # ---------------------------------------------------------------- checkpoint (the recipe)
    {
        "exercise": "checkpoint",
        "name": "recipe_missing_keys",
        "why": "a recipe without batch size or schedule",
        "source": "RECIPE = dict(epochs=30, lr=0.1, optimizer='sgd', weight_decay=5e-4)\n",
        "caught_by": ["checkpoint__recipe"],
    },
    {
        "exercise": "checkpoint",
        "name": "recipe_lr_too_high",
        "why": "lr 10: diverges at once",
        "source": "RECIPE = dict(epochs=30, batch_size=512, lr=10.0, optimizer='sgd', momentum=0.9,\n"
        "              nesterov=True, weight_decay=5e-4, label_smoothing=0.1, schedule='onecycle')\n",
        "caught_by": ["checkpoint__recipe"],
    },
    {
        "exercise": "checkpoint",
        "name": "recipe_unknown_key",
        "why": "a key train.fit does not take (would raise at the training cell)",
        "source": "RECIPE = dict(epochs=30, batch_size=512, lr=0.2, max_lr=0.2, optimizer='sgd',\n"
        "              weight_decay=5e-4, label_smoothing=0.1, schedule='onecycle')\n",
        "caught_by": ["checkpoint__recipe"],
    },
    # ---- how-constraint (course.grading.constraints: no Python loop): hidden from the counter
    {
        "exercise": "random_crop_flip",
        "name": "hidden_loop_in_numpy",
        "why": "offsets and coins drawn with torch, then a Python loop over the images in NumPy: "
        "the torch call count does not grow with the batch",
        "earns_nothing": True,
        "source": _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
    src, oy, ox, fl = padded.cpu().numpy(), dy.cpu().numpy(), dx.cpu().numpy(), flip.cpu().numpy()
    out = src[:, :, :H, :W].copy()
    i = 0
    while i < B:
        img = src[i, :, oy[i] : oy[i] + H, ox[i] : ox[i] + W]
        out[i] = img[:, :, ::-1] if fl[i] else img
        i += 1
    return torch.from_numpy(out).to(dev)"""
        ),
    },
    {
        "exercise": "random_crop_flip",
        "name": "hidden_loop_in_a_helper",
        "why": "a per-image crop in a helper, applied with map(): the loop lives outside the "
        "answer's own lines",
        "earns_nothing": True,
        "source": """def _one(img, dy, dx, f, H, W):
    crop = img[:, dy : dy + H, dx : dx + W]
    return crop.flip(-1) if f else crop


"""
        + _crop(
            """    padded = F.pad(batch, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev).tolist()
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev).tolist()
    flip = (torch.rand(B, device=dev) < 0.5).tolist()
    return torch.stack(list(map(_one, padded, dy, dx, flip, [H] * B, [W] * B)))"""
        ),
    },
]


# ------------------------------------------------------------------------------- issue 21's classes
# Answers right in eval mode, in values, or on the CPU in float32, and wrong in what the tests now
# also read. "message" (optional): a text every caught answer's messages must contain.
_FORWARD_OK = _BLOCK_OK["forward"]
WRONG_ANSWERS += [
    # (1) running statistics
    {
        "exercise": "BasicBlock",
        "name": "bn2_run_twice",
        "why": "bn2 called once more for a value that is thrown away (a debugging print): its statistics move twice",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "        out = self.bn2(self.conv2(out))\n",
                "        out = self.conv2(out)\n        _ = self.bn2(out).std()\n        out = self.bn2(out)\n",
            )
        ),
        "caught_by": ["BasicBlock__train_mode"],
    },
    {
        "exercise": "BasicBlock",
        "name": "bn_cumulative_average",
        "why": "BatchNorm2d(..., momentum=None): a cumulative average, one batch sets the statistics outright",
        "source": _block().replace(
            "nn.BatchNorm2d(out_channels)\n", "nn.BatchNorm2d(out_channels, momentum=None)\n"
        ),
        "caught_by": ["BasicBlock__train_mode"],
    },
    {
        "exercise": "ResNet34",
        "name": "stem_bn_momentum_09",
        "why": "the stem's BN built with momentum 0.9",
        "source": _net().replace(
            "self.bn1 = nn.BatchNorm2d(64)", "self.bn1 = nn.BatchNorm2d(64, momentum=0.9)"
        ),
        "caught_by": ["ResNet34__forward"],
    },
    {
        "exercise": "ResNet34",
        "name": "stem_bn_run_twice",
        "why": "the stem's BN run a second time on a copy for a statistic that is discarded",
        "source": _net().replace(
            "        x = self.relu(self.bn1(self.conv1(x)))\n",
            "        x = self.conv1(x)\n        _ = self.bn1(x.clone()).mean()\n        x = self.relu(self.bn1(x))\n",
        ),
        "caught_by": ["ResNet34__forward"],
    },
    # (2) train-mode-only behaviour
    {
        "exercise": "BasicBlock",
        "name": "dropout_on_shortcut",
        "why": "a dropout on the shortcut in training mode: eval mode is exact",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "        out += identity\n",
                "        out += F.dropout(identity, 0.1, self.training)\n",
            )
        ),
        "caught_by": ["BasicBlock__train_mode"],
    },
    {
        "exercise": "ResNet34",
        "name": "dropout2d_after_stem",
        "why": "channel dropout after the stem in training mode",
        "source": _net().replace(
            "        x = self.relu(self.bn1(self.conv1(x)))\n",
            "        x = F.dropout2d(self.relu(self.bn1(self.conv1(x))), 0.05, self.training)\n",
        ),
        "caught_by": ["ResNet34__forward"],
    },
    # (3) gradient routes
    {
        "exercise": "BasicBlock",
        "name": "conv2_weight_detached",
        "why": "conv2 applied with a detached weight: right values, conv2 never learns",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "        out = self.bn2(self.conv2(out))\n",
                "        out = self.bn2(F.conv2d(out, self.conv2.weight.detach(), padding=1))\n",
            )
        ),
        "caught_by": ["BasicBlock__gradients"],
    },
    {
        "exercise": "ResNet34",
        "name": "stem_detached",
        "why": "the stem's output detached (a frozen stem): right values, no gradient to conv1, bn1 or the images",
        "source": _net().replace(
            "        x = self.relu(self.bn1(self.conv1(x)))\n",
            "        x = self.relu(self.bn1(self.conv1(x))).detach()\n",
        ),
        "caught_by": ["ResNet34__forward"],
    },
    {
        "exercise": "ResNet34",
        "name": "layer4_without_grad",
        "why": "layer4 run under torch.no_grad(): right values, nothing below the classifier learns",
        "source": _net().replace(
            "        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))\n",
            "        x = self.layer3(self.layer2(self.layer1(x)))\n        with torch.no_grad():\n            x = self.layer4(x)\n",
        ),
        "caught_by": ["ResNet34__forward"],
    },
    # (4) side effects on the caller's objects
    {
        "exercise": "accuracy",
        "name": "shifts_logits_in_place",
        "why": "subtracts each row's maximum from the caller's logits in place (for 'stability')",
        "source": """def accuracy(logits, labels):
    logits -= logits.max(dim=1, keepdim=True).values
    return (logits.argmax(dim=1) == labels).float().mean().item()
""",
        "caught_by": ["accuracy__values"],
    },
    {
        "exercise": "accuracy",
        "name": "softmax_in_place",
        "why": "turns the caller's logits into probabilities in place (exp_ and div_)",
        "source": """def accuracy(logits, labels):
    probs = logits.exp_()
    probs /= probs.sum(dim=1, keepdim=True)
    return (probs.argmax(dim=1) == labels).float().mean().item()
""",
        "caught_by": ["accuracy__values"],
    },
    # (5) dtype and device follow the batch
    {
        "exercise": "random_crop_flip",
        "name": "zero_canvas_float32",
        "why": "pads into torch.zeros(...) on the right device but in float32, whatever the batch's dtype",
        "source": _crop(
            """    padded = torch.zeros(B, C, H + 2 * padding, W + 2 * padding, device=dev)
    padded[:, :, padding:padding + H, padding:padding + W] = batch
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__device", "random_crop_flip__is_crop"],
    },
    {
        "exercise": "random_crop_flip",
        "name": "zero_canvas_on_the_cpu",
        "why": "pads into torch.zeros(..., dtype=batch.dtype) made on the CPU: breaks on a GPU batch",
        "source": _crop(
            """    padded = torch.zeros(B, C, H + 2 * padding, W + 2 * padding, dtype=batch.dtype)
    padded[:, :, padding:padding + H, padding:padding + W] = batch
    dy = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    dx = torch.randint(0, 2 * padding + 1, (B,), device=dev)
    flip = torch.rand(B, device=dev) < 0.5
"""
            + _GATHER
        ),
        "caught_by": ["random_crop_flip__device"],
    },
    # (6) messages name the student's real class, under the grader too
    {
        "exercise": "BasicBlock",
        "name": "downsample_modulelist",
        "why": "the projection kept in an nn.ModuleList (not callable as one module, other type)",
        "source": _block(
            projection="nn.ModuleList([nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), "
            "nn.BatchNorm2d(out_channels)])",
            forward=_FORWARD_OK.replace(
                "            identity = self.downsample(x)\n",
                "            identity = self.downsample[1](self.downsample[0](x))\n",
            ),
        ),
        "caught_by": ["BasicBlock__projection"],
        "message": "got ModuleList",
    },
    {
        "exercise": "ResNet34",
        "name": "imagenet_stem_avgpool",
        "why": "the ImageNet stem pools by averaging (nn.AvgPool2d) instead of torchvision's max-pool",
        "source": _net().replace(
            "self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)",
            "self.maxpool = nn.AvgPool2d(3, stride=2, padding=1)",
        ),
        "caught_by": ["ResNet34__torchvision_keys", "ResNet34__forward"],
        "message": "got AvgPool2d",
    },
]
