"""Plausible wrong answers for lesson 01 (the residual block); each must be caught by its tests."""

_SIG = {
    "plain_block": "def plain_block(a, W1, b1, W2, b2):\n",
    "residual_block": "def residual_block(a, W1, b1, W2, b2):\n",
    "residual_block_backward": "def residual_block_backward(a, W1, b1, W2, b2, da_out):\n",
}

# A correct backward pass, with placeholders for the lines a wrong answer changes.
_BACKWARD = """    z1 = W1 @ a + b1
    a1 = torch.relu(z1)
    z2 = W2 @ a1 + b2
    delta2 = {delta2}
    dW2 = {dW2}
    db2 = {db2}
    delta1 = {delta1}
    dW1 = {dW1}
    db1 = {db1}
    da = {da}
    return {{"da": da, "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}}
"""
_BACKWARD_OK = {
    "delta2": "da_out * (z2 + a > 0)",
    "dW2": "delta2 @ a1.T",
    "db2": "delta2.sum(dim=1, keepdim=True)",
    "delta1": "(W2.T @ delta2) * (z1 > 0)",
    "dW1": "delta1 @ a.T",
    "db1": "delta1.sum(dim=1, keepdim=True)",
    "da": "W1.T @ delta1 + delta2",
}


def _fn(exercise: str, body: str) -> str:
    return _SIG[exercise] + body


def _backward(**changes: str) -> str:
    unknown = set(changes) - set(_BACKWARD_OK)
    assert not unknown, unknown
    return _fn("residual_block_backward", _BACKWARD.format(**{**_BACKWARD_OK, **changes}))


# A correct ResidualBlock, with placeholders for what a wrong answer changes.
_BLOCK = """class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
{init}
    def forward(self, x):
{forward}
"""
_INIT_OK = """        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
"""
_FORWARD_OK = """        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)
"""


def _block(init: str = _INIT_OK, forward: str = _FORWARD_OK) -> str:
    return _BLOCK.format(init=init, forward=forward)


WRONG_ANSWERS = [
    # ------------------------------------------------------------------ plain_block
    {
        "exercise": "plain_block",
        "name": "missing_inner_relu",
        "why": "g(W2 (W1 a + b1) + b2): no ReLU after the first layer",
        "source": _fn("plain_block", "    return torch.relu(W2 @ (W1 @ a + b1) + b2)\n"),
    },
    {
        "exercise": "plain_block",
        "name": "missing_outer_relu",
        "why": "W2 g(W1 a + b1) + b2: no ReLU after the second layer",
        "source": _fn("plain_block", "    return W2 @ torch.relu(W1 @ a + b1) + b2\n"),
    },
    {
        "exercise": "plain_block",
        "name": "elementwise_product",
        "why": "W * a instead of W @ a",
        "source": _fn("plain_block", "    return torch.relu(W2 * torch.relu(W1 * a + b1) + b2)\n"),
    },
    {
        "exercise": "plain_block",
        "name": "transposed_weights",
        "why": "row-vector habit: W.T @ a (only runs when the matrices are square)",
        "source": _fn(
            "plain_block", "    return torch.relu(W2.T @ torch.relu(W1.T @ a + b1) + b2)\n"
        ),
    },
    {
        "exercise": "plain_block",
        "name": "bias_flattened",
        "why": "b1[:, 0] broadcasts along the examples axis (runs only when m equals h)",
        "source": _fn(
            "plain_block", "    return torch.relu(W2 @ torch.relu(W1 @ a + b1[:, 0]) + b2[:, 0])\n"
        ),
    },
    {
        "exercise": "plain_block",
        "name": "bias_after_relu",
        "why": "g(W2 a1) + b2: the bias added after the ReLU",
        "source": _fn("plain_block", "    return torch.relu(W2 @ torch.relu(W1 @ a) + b1) + b2\n"),
    },
    {
        "exercise": "plain_block",
        "name": "returns_float32",
        "why": "converts to float32, losing float64 inputs' precision",
        "source": _fn(
            "plain_block",
            "    a, W1, b1, W2, b2 = (t.float() for t in (a, W1, b1, W2, b2))\n"
            "    return torch.relu(W2 @ torch.relu(W1 @ a + b1) + b2)\n",
        ),
    },
    {
        "exercise": "plain_block",
        "name": "numpy_relu",
        "why": "np.maximum(z, 0) as the ReLU: right values and dtype, but no gradient and CPU only",
        "source": _fn(
            "plain_block",
            "    import numpy as np\n"
            "    a1 = np.maximum(W1 @ a + b1, 0)\n"
            "    return np.maximum(W2 @ a1 + b2, 0)\n",
        ),
    },
    {
        "exercise": "plain_block",
        "name": "relu_with_cpu_zeros",
        "why": "ReLU as torch.maximum(z, torch.zeros(z.shape)): the zeros live on the CPU, whatever z's device",
        "source": _fn(
            "plain_block",
            "    z1 = W1 @ a + b1\n"
            "    a1 = torch.maximum(z1, torch.zeros(z1.shape, dtype=z1.dtype))\n"
            "    z2 = W2 @ a1 + b2\n"
            "    return torch.maximum(z2, torch.zeros(z2.shape, dtype=z2.dtype))\n",
        ),
        "caught_by": ["plain_block__shape"],
    },
    # ------------------------------------------------------------------ residual_block
    {
        "exercise": "residual_block",
        "name": "relu_before_skip",
        "why": "g(z2) + a: the ReLU applied before the shortcut is added",
        "source": _fn(
            "residual_block",
            "    z2 = W2 @ torch.relu(W1 @ a + b1) + b2\n    return torch.relu(z2) + a\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "relu_twice",
        "why": "g(g(z2) + a): a ReLU on both sides of the addition",
        "source": _fn(
            "residual_block",
            "    z2 = W2 @ torch.relu(W1 @ a + b1) + b2\n    return torch.relu(torch.relu(z2) + a)\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "missing_final_relu",
        "why": "z2 + a: no ReLU at the end",
        "source": _fn("residual_block", "    return W2 @ torch.relu(W1 @ a + b1) + b2 + a\n"),
    },
    {
        "exercise": "residual_block",
        "name": "skip_into_z1",
        "why": "the shortcut added to the first layer's pre-activation: g(W1 a + b1 + a)",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1 + a)\n    return torch.relu(W2 @ a1 + b2)\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "skip_into_a1",
        "why": "the shortcut added to the hidden activation: W2 (a1 + a)",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n    return torch.relu(W2 @ (a1 + a) + b2)\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "no_skip",
        "why": "g(z2): the plain block, shortcut forgotten",
        "source": _fn(
            "residual_block", "    return torch.relu(W2 @ torch.relu(W1 @ a + b1) + b2)\n"
        ),
    },
    {
        "exercise": "residual_block",
        "name": "skip_subtracted",
        "why": "g(z2 - a)",
        "source": _fn(
            "residual_block", "    return torch.relu(W2 @ torch.relu(W1 @ a + b1) + b2 - a)\n"
        ),
    },
    {
        "exercise": "residual_block",
        "name": "missing_inner_relu",
        "why": "g(W2 (W1 a + b1) + b2 + a): no ReLU after the first layer",
        "source": _fn("residual_block", "    return torch.relu(W2 @ (W1 @ a + b1) + b2 + a)\n"),
    },
    {
        "exercise": "residual_block",
        "name": "skip_is_relu_of_z1",
        "why": "adds the first layer's output instead of the block's input (wrong source of the shortcut)",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n    return torch.relu(W2 @ a1 + b2 + a1)\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "detached_shortcut",
        "why": "g(z2 + a.detach()): right values, but no gradient flows back along the shortcut",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n"
            "    z2 = W2 @ a1 + b2\n"
            "    return torch.relu(z2 + a.detach())\n",
        ),
        "caught_by": ["residual_block__gradients"],
    },
    {
        "exercise": "residual_block",
        "name": "shortcut_added_in_place",
        "why": "out = a; out += z2: `out` is the caller's a, which the addition overwrites",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n"
            "    out = a\n"
            "    out += W2 @ a1 + b2\n"
            "    return torch.relu(out)\n",
        ),
    },
    {
        "exercise": "residual_block",
        "name": "relu_with_cpu_zeros",
        "why": "last ReLU as torch.maximum(s, torch.zeros(s.shape)): CPU zeros, whatever the inputs' device",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n"
            "    s = W2 @ a1 + b2 + a\n"
            "    return torch.maximum(s, torch.zeros(s.shape, dtype=s.dtype))\n",
        ),
        "caught_by": ["residual_block__shape"],
    },
    # ------------------------------------------------------------------ residual_block_backward
    {
        "exercise": "residual_block_backward",
        "name": "no_identity_gradient",
        "why": "da = W1.T @ delta1 only: the shortcut's +delta2 is missing",
        "source": _backward(da="W1.T @ delta1"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "identity_gradient_unmasked",
        "why": "da = W1.T @ delta1 + da_out: the shortcut's gradient skips the last ReLU's mask",
        "source": _backward(da="W1.T @ delta1 + da_out"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "output_mask_from_z2",
        "why": "delta2 masked by 1[z2 > 0], ignoring that the last ReLU's input is z2 + a",
        "source": _backward(delta2="da_out * (z2 > 0)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "output_mask_from_a",
        "why": "delta2 masked by 1[a > 0]: the mask taken from the wrong tensor",
        "source": _backward(delta2="da_out * (a > 0)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "no_output_mask",
        "why": "delta2 = da_out: the derivative of the last ReLU forgotten",
        "source": _backward(delta2="da_out"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "hidden_mask_from_input",
        "why": "delta1 masked by 1[a > 0] (the input layer) instead of 1[z1 > 0]",
        "source": _backward(delta1="(W2.T @ delta2) * (a > 0)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "hidden_mask_from_output",
        "why": "delta1 masked by the output layer's mask 1[z2 + a > 0]",
        "source": _backward(delta1="(W2.T @ delta2) * (z2 + a > 0)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "no_hidden_mask",
        "why": "delta1 = W2.T @ delta2: the first ReLU's derivative forgotten",
        "source": _backward(delta1="W2.T @ delta2"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "bias_grad_mean",
        "why": "db = mean of delta over the examples instead of the sum",
        "source": _backward(
            db1="delta1.mean(dim=1, keepdim=True)", db2="delta2.mean(dim=1, keepdim=True)"
        ),
    },
    {
        "exercise": "residual_block_backward",
        "name": "bias_grad_wrong_axis",
        "why": "db summed over the features (dim=0) instead of the examples",
        "source": _backward(
            db1="delta1.sum(dim=0, keepdim=True)", db2="delta2.sum(dim=0, keepdim=True)"
        ),
    },
    {
        "exercise": "residual_block_backward",
        "name": "bias_grad_flat",
        "why": "db = delta.sum(dim=1): shape (n,) instead of (n, 1)",
        "source": _backward(db1="delta1.sum(dim=1)", db2="delta2.sum(dim=1)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "bias_grad_unsummed",
        "why": "db = delta: per-example gradients, not summed",
        "source": _backward(db1="delta1", db2="delta2"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "dW_transposed",
        "why": "dW = x @ delta.T: the transpose of the weight gradient",
        "source": _backward(dW1="a @ delta1.T", dW2="a1 @ delta2.T"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "dW2_uses_input",
        "why": "dW2 = delta2 @ a.T: the activation two layers back instead of a1 (the skip rule on the normal path)",
        "source": _backward(dW2="delta2 @ a.T"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "grads_averaged",
        "why": "weight gradients divided by m (a mean loss) although da_out already carries the scale",
        "source": _backward(dW1="delta1 @ a.T / a.shape[1]", dW2="delta2 @ a1.T / a.shape[1]"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "no_W2_transpose",
        "why": "delta1 from W2 @ delta2 (only runs for square W2)",
        "source": _backward(delta1="(W2 @ delta2) * (z1 > 0)"),
    },
    {
        "exercise": "residual_block_backward",
        "name": "uses_autograd",
        "why": "asks torch.autograd instead of applying the chain rule by hand",
        "source": _fn(
            "residual_block_backward",
            "    leaves = [t.detach().clone().requires_grad_() for t in (a, W1, b1, W2, b2)]\n"
            "    x, V1, c1, V2, c2 = leaves\n"
            "    with torch.enable_grad():\n"
            "        out = torch.relu(V2 @ torch.relu(V1 @ x + c1) + c2 + x)\n"
            "        grads = torch.autograd.grad(out, leaves, grad_outputs=da_out)\n"
            "    return dict(zip(['da', 'dW1', 'db1', 'dW2', 'db2'], grads))\n",
        ),
    },
    {
        "exercise": "residual_block_backward",
        "name": "uses_torch_func",
        "why": "torch.func.vjp instead of the chain rule by hand (autograd by another name)",
        "source": _fn(
            "residual_block_backward",
            "    def block(a, W1, b1, W2, b2):\n"
            "        return torch.relu(W2 @ torch.relu(W1 @ a + b1) + b2 + a)\n"
            "    _, vjp = torch.func.vjp(block, a, W1, b1, W2, b2)\n"
            "    return dict(zip(['da', 'dW1', 'db1', 'dW2', 'db2'], vjp(da_out)))\n",
        ),
    },
    {
        "exercise": "residual_block_backward",
        "name": "masks_da_out_in_place",
        "why": "delta2 = da_out, then delta2[z2 + a <= 0] = 0: masks the caller's da_out in place",
        "source": _fn(
            "residual_block_backward",
            _BACKWARD.format(**{**_BACKWARD_OK, "delta2": "da_out"}).replace(
                "    dW2 =", "    delta2[z2 + a <= 0] = 0\n    dW2 =", 1
            ),
        ),
        "caught_by": ["residual_block_backward__inputs_unchanged"],
    },
    {
        "exercise": "residual_block_backward",
        "name": "mask_as_float64",
        "why": "ReLU masks converted with .double(): float32 inputs give float64 gradients",
        "source": _backward(
            delta2="da_out * (z2 + a > 0).double()", delta1="(W2.T @ delta2) * (z1 > 0).double()"
        ),
        "caught_by": ["residual_block_backward__keys_shapes"],
    },
    {
        "exercise": "residual_block_backward",
        "name": "mask_built_on_cpu",
        "why": "the ReLU mask built with torch.zeros(shape): a CPU tensor, whatever the inputs' device",
        "source": _fn(
            "residual_block_backward",
            _BACKWARD.format(**{**_BACKWARD_OK, "delta2": "da_out * mask2"}).replace(
                "    delta2 =",
                "    mask2 = torch.zeros(z2.shape, dtype=a.dtype)\n"
                "    mask2[z2 + a > 0] = 1\n"
                "    delta2 =",
                1,
            ),
        ),
        "caught_by": ["residual_block_backward__keys_shapes"],
    },
    # ------------------------------------------------------------------ ResidualBlock
    {
        "exercise": "ResidualBlock",
        "name": "relu_before_add",
        "why": "relu(bn2(...)) + x: the ReLU applied before the shortcut is added",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.relu(self.bn2(self.conv2(out)))\n"
            "        return out + x\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "no_padding",
        "why": "3x3 convolutions without padding: H and W shrink by 2 each (and the addition fails)",
        "source": _block(init=_INIT_OK.replace("padding=1", "padding=0")),
    },
    {
        "exercise": "ResidualBlock",
        "name": "no_batchnorm",
        "why": "conv -> relu -> conv, + x, relu: no batch norm at all",
        "source": _block(
            init=_INIT_OK.replace("nn.BatchNorm2d(channels)", "nn.Identity()"),
            forward=_FORWARD_OK,
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "batchnorm_unused",
        "why": "creates bn1/bn2 but never calls them in forward",
        "source": _block(
            forward="        out = self.relu(self.conv1(x))\n"
            "        out = self.conv2(out)\n"
            "        return self.relu(out + x)\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "bn1_used_twice",
        "why": "the first batch norm reused after conv2 (bn2 created but unused)",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.bn1(self.conv2(out))\n"
            "        return self.relu(out + x)\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "no_skip",
        "why": "plain block: the input is never added",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)))\n"
            "        return self.relu(self.bn2(self.conv2(out)))\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "missing_final_relu",
        "why": "returns bn2(...) + x without the last ReLU",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)))\n"
            "        return self.bn2(self.conv2(out)) + x\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "skip_after_first_layer",
        "why": "the input added after bn1 instead of after bn2",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)) + x)\n"
            "        return self.relu(self.bn2(self.conv2(out)))\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "conv_bias",
        "why": "convolutions with bias=True: redundant before batch norm, wrong parameter count",
        "source": _block(init=_INIT_OK.replace("bias=False", "bias=True")),
    },
    {
        "exercise": "ResidualBlock",
        "name": "kernel_5x5",
        "why": "5x5 kernels with padding 2: shapes preserved, but not the 3x3 block",
        "source": _block(
            init=_INIT_OK.replace("kernel_size=3", "kernel_size=5").replace(
                "padding=1", "padding=2"
            )
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "stride_2",
        "why": "first convolution with stride 2: halves H and W",
        "source": _block(init=_INIT_OK.replace("stride=1", "stride=2", 1)),
    },
    {
        "exercise": "ResidualBlock",
        "name": "torchvision_names_missing",
        "why": "layers kept in an nn.Sequential called body: no conv1/bn1/... attributes",
        "source": _block(
            init="        self.body = nn.Sequential(\n"
            "            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),\n"
            "            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, bias=False),\n"
            "            nn.BatchNorm2d(channels))\n",
            forward="        return torch.relu(self.body(x) + x)\n",
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "relu_on_input",
        "why": "applies the in-place ReLU to x first: both paths see relu(x), wrong for negative inputs",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(self.relu(x))))\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        return self.relu(out + x)\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "detached_identity",
        "why": "identity = x.detach(): right values, but no gradient flows back along the shortcut",
        "source": _block(forward=_FORWARD_OK.replace("identity = x", "identity = x.detach()")),
        "caught_by": ["ResidualBlock__gradients"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "adds_into_input",
        "why": "x += out: the shortcut addition overwrites the caller's tensor",
        "source": _block(
            forward="        out = self.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        x += out\n"
            "        return self.relu(x)\n"
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "keras_momentum",
        "why": "BatchNorm2d(momentum=0.99), Keras' convention: the running averages barely move",
        "source": _block(
            init=_INIT_OK.replace(
                "nn.BatchNorm2d(channels)", "nn.BatchNorm2d(channels, momentum=0.99)"
            )
        ),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "no_running_stats",
        "why": "BatchNorm2d(track_running_stats=False): eval mode uses batch statistics too",
        "source": _block(
            init=_INIT_OK.replace(
                "nn.BatchNorm2d(channels)", "nn.BatchNorm2d(channels, track_running_stats=False)"
            )
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "extra_dropout",
        "why": "a Dropout(0.2) between the convolutions: every eval-mode test is blind to it",
        "source": _block(
            init=_INIT_OK + "        self.dropout = nn.Dropout(0.2)\n",
            forward="        out = self.dropout(self.relu(self.bn1(self.conv1(x))))\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        return self.relu(out + x)\n",
        ),
    },
    {
        "exercise": "ResidualBlock",
        "name": "zero_gamma_by_default",
        "why": "initialises bn2's gamma to 0 in __init__, against the block's default initialisation",
        "source": _block(init=_INIT_OK + "        nn.init.zeros_(self.bn2.weight)\n"),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "no_relu_between_convs",
        "why": "bn1's output goes straight into conv2: no ReLU inside the branch",
        "source": _block(
            forward="        out = self.bn2(self.conv2(self.bn1(self.conv1(x))))\n"
            "        return self.relu(out + x)\n"
        ),
    },
    # ---- how-constraint (course.grading.constraints: by hand): autograd hidden from the guard
    # earns none of the exercise's points ("earns_nothing": every test of it fails)
    {
        "exercise": "residual_block_backward",
        "name": "hidden_autograd_bound_before_the_guard",
        "why": "torch.autograd.grad bound to another name before the by-hand guard starts",
        "earns_nothing": True,
        "source": "_solve = torch.autograd.grad\n\n"
        + _fn(
            "residual_block_backward",
            "    leaves = [t.detach().clone().requires_grad_() for t in (a, W1, b1, W2, b2)]\n"
            "    x, V1, c1, V2, c2 = leaves\n"
            "    with torch.enable_grad():\n"
            "        out = torch.relu(V2 @ torch.relu(V1 @ x + c1) + c2 + x)\n"
            "        grads = _solve(out, leaves, grad_outputs=da_out)\n"
            "    return dict(zip(['da', 'dW1', 'db1', 'dW2', 'db2'], grads))\n",
        ),
    },
    {
        "exercise": "residual_block_backward",
        "name": "hidden_autograd_name_built_at_run_time",
        "why": "the guard undone and autograd reached through getattr with a name built at run time",
        "earns_nothing": True,
        "source": "import torch.autograd as _ag\n_saved = dict(vars(_ag))\n\n"
        + _fn(
            "residual_block_backward",
            "    solve = getattr(torch, 'auto' + 'grad').__dict__['gr' + 'ad']\n"
            "    leaves = [t.detach().clone().requires_grad_() for t in (a, W1, b1, W2, b2)]\n"
            "    x, V1, c1, V2, c2 = leaves\n"
            "    with torch.enable_grad():\n"
            "        out = torch.relu(V2 @ torch.relu(V1 @ x + c1) + c2 + x)\n"
            "        grads = solve(out, leaves, grad_outputs=da_out)\n"
            "    return dict(zip(['da', 'dW1', 'db1', 'dW2', 'db2'], grads))\n",
        ),
    },
]

# Whole-contract classes (running statistics, train-mode behaviour, gradient routes, side effects on
# the caller's objects, dtype/device portability): at least two per class where the lesson has it.
_PLAIN_OK = "    z1 = W1 @ a + b1\n    a1 = torch.relu(z1)\n    return torch.relu(W2 @ a1 + b2)\n"
_RESIDUAL_OK = (
    "    a1 = torch.relu(W1 @ a + b1)\n    z2 = W2 @ a1 + b2\n    return torch.relu(z2 + a)\n"
)
WRONG_ANSWERS += [
    # ---- running statistics
    {
        "exercise": "ResidualBlock",
        "name": "momentum_none",
        "why": "BatchNorm2d(momentum=None): a cumulative average instead of PyTorch's default momentum",
        "source": _block(
            init=_INIT_OK.replace(
                "nn.BatchNorm2d(channels)", "nn.BatchNorm2d(channels, momentum=None)"
            )
        ),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "bn2_applied_twice",
        "why": "bn2(bn2(conv2(...))): nearly the same values, but the running statistics update twice",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "self.bn2(self.conv2(out))", "self.bn2(self.bn2(self.conv2(out)))"
            )
        ),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    # ---- train-mode-only behaviour
    {
        "exercise": "ResidualBlock",
        "name": "functional_dropout",
        "why": "F.dropout in forward, no module: invisible to the structure test and in eval mode",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "out = self.bn2(self.conv2(out))",
                "out = self.bn2(self.conv2(F.dropout(out, 0.1, self.training)))",
            )
        ),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "noise_in_training",
        "why": "adds a little Gaussian noise to the branch in training mode, as a 'regulariser'",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "out = out + identity",
                "if self.training:\n"
                "            out = out + 1e-3 * torch.randn_like(out)\n"
                "        out = out + identity",
            )
        ),
        "caught_by": ["ResidualBlock__train_mode"],
    },
    # ---- gradient routes
    {
        "exercise": "residual_block",
        "name": "shortcut_through_data",
        "why": "g(z2 + a.data): the shortcut adds the value of a but passes no gradient",
        "source": _fn("residual_block", _RESIDUAL_OK.replace("z2 + a)", "z2 + a.data)")),
        "caught_by": ["residual_block__gradients"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "identity_under_no_grad",
        "why": "the identity copied under torch.no_grad(): right values, no gradient along the shortcut",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "identity = x\n",
                "with torch.no_grad():\n            identity = x.clone()\n",
            )
        ),
        "caught_by": ["ResidualBlock__gradients"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "branch_detached",
        "why": "the branch's output detached: the shortcut carries gradient, the convolutions learn nothing",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "self.bn2(self.conv2(out))", "self.bn2(self.conv2(out)).detach()"
            )
        ),
        "caught_by": ["ResidualBlock__gradients"],
    },
    # ---- side effects on the caller's objects
    {
        "exercise": "plain_block",
        "name": "switches_gradients_on",
        "why": "a.requires_grad_() 'so that autograd can differentiate it': changes the caller's tensor",
        "source": _fn("plain_block", "    a.requires_grad_()\n" + _PLAIN_OK),
        "caught_by": ["plain_block__gradients"],
    },
    {
        "exercise": "residual_block",
        "name": "switches_weight_gradients_on",
        "why": "sets requires_grad on the caller's weights and biases",
        "source": _fn(
            "residual_block",
            "    for t in (W1, b1, W2, b2):\n        t.requires_grad_(True)\n" + _RESIDUAL_OK,
        ),
        "caught_by": ["residual_block__gradients"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "zero_grad_in_forward",
        "why": "self.zero_grad() at the start of forward: wipes the gradients the caller accumulated",
        "source": _block(forward="        self.zero_grad()\n" + _FORWARD_OK),
        "caught_by": ["ResidualBlock__gradients"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "forces_train_mode",
        "why": "self.train() in forward 'so that batch norm normalises': overrides the caller's eval()",
        "source": _block(forward="        self.train()\n" + _FORWARD_OK),
        "caught_by": ["ResidualBlock__gradients"],
    },
    # ---- dtype and device portability
    {
        "exercise": "plain_block",
        "name": "relu_as_float_mask",
        "why": "ReLU as z * (z > 0).float(): float32 mask, so bfloat16 inputs give a float32 result",
        "source": _fn(
            "plain_block",
            "    z1 = W1 @ a + b1\n"
            "    a1 = z1 * (z1 > 0).float()\n"
            "    z2 = W2 @ a1 + b2\n"
            "    return z2 * (z2 > 0).float()\n",
        ),
        "caught_by": ["plain_block__shape"],
    },
    {
        "exercise": "residual_block",
        "name": "relu_as_float_mask",
        "why": "the last ReLU as s * (s > 0).float(): bfloat16 inputs give a float32 result",
        "source": _fn(
            "residual_block",
            "    a1 = torch.relu(W1 @ a + b1)\n"
            "    s = W2 @ a1 + b2 + a\n"
            "    return s * (s > 0).float()\n",
        ),
        "caught_by": ["residual_block__shape"],
    },
    {
        "exercise": "residual_block_backward",
        "name": "output_mask_float32",
        "why": "delta2 = da_out * mask.float(): float64 and float32 pass, bfloat16 becomes float32",
        "source": _backward(delta2="da_out * (z2 + a > 0).float()"),
        "caught_by": ["residual_block_backward__dtypes"],
    },
    {
        "exercise": "residual_block_backward",
        "name": "hidden_mask_float32",
        "why": "delta1 = (W2.T @ delta2) * mask.float(): bfloat16 inputs give float32 gradients",
        "source": _backward(delta1="(W2.T @ delta2) * (z1 > 0).float()"),
        "caught_by": ["residual_block_backward__dtypes"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "relu_against_cpu_zeros",
        "why": "the last ReLU as torch.maximum(out, torch.zeros(1)): float32 on the CPU, whatever the block",
        "source": _block(
            forward=_FORWARD_OK.replace(
                "return self.relu(out)", "return torch.maximum(out, torch.zeros(1))"
            )
        ),
        "caught_by": ["ResidualBlock__shape"],
    },
    {
        "exercise": "ResidualBlock",
        "name": "identity_as_float32",
        "why": "identity = x.float(): float64 hides it (float64 wins), a bfloat16 block returns float32",
        "source": _block(forward=_FORWARD_OK.replace("identity = x\n", "identity = x.float()\n")),
        "caught_by": ["ResidualBlock__shape"],
    },
]

# ------------------------------------------------------------------ batch norm by hand
_BN_SIG = {
    "batchnorm_forward": "def batchnorm_forward(x, gamma, beta, eps=1e-5):\n",
    "batchnorm_backward": "def batchnorm_backward(x, gamma, beta, dout, eps=1e-5):\n",
    "numerical_gradient": "def numerical_gradient(f, x, h=1e-6):\n",
}
_BN_FORWARD = """    mu = {mu}
    var = {var}
    x_hat = {x_hat}
    return {y}
"""
_BN_FORWARD_OK = {
    "mu": "x.mean(dim=1, keepdim=True)",
    "var": "((x - mu) ** 2).mean(dim=1, keepdim=True)",
    "x_hat": "(x - mu) / torch.sqrt(var + eps)",
    "y": "gamma * x_hat + beta",
}
_BN_BACKWARD = """    m = x.shape[1]
    mu = x.mean(dim=1, keepdim=True)
    xc = x - mu
    var = {var}
    inv_std = {inv_std}
    x_hat = xc * inv_std
    dbeta = {dbeta}
    dgamma = {dgamma}
    dx_hat = {dx_hat}
    dvar = {dvar}
    dmu = {dmu}
    dx = {dx}
    return {{"dx": dx, "dgamma": dgamma, "dbeta": dbeta}}
"""
_BN_BACKWARD_OK = {
    "var": "(xc ** 2).mean(dim=1, keepdim=True)",
    "inv_std": "1.0 / torch.sqrt(var + eps)",
    "dbeta": "dout.sum(dim=1, keepdim=True)",
    "dgamma": "(dout * x_hat).sum(dim=1, keepdim=True)",
    "dx_hat": "dout * gamma",
    "dvar": "(dx_hat * xc).sum(dim=1, keepdim=True) * -0.5 * inv_std ** 3",
    "dmu": "-(dx_hat * inv_std).sum(dim=1, keepdim=True) + dvar * (-2.0 / m) * xc.sum(dim=1, keepdim=True)",
    "dx": "dx_hat * inv_std + dvar * 2.0 * xc / m + dmu / m",
}
_NUMGRAD_OK = """    grad = torch.zeros_like(x)
    xp = x.detach().clone()
    flat, gflat = xp.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        f_plus = float(f(xp))
        flat[i] = old - h
        f_minus = float(f(xp))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad
"""


def _bn_forward(**changes: str) -> str:
    assert not set(changes) - set(_BN_FORWARD_OK), changes
    return _BN_SIG["batchnorm_forward"] + _BN_FORWARD.format(**{**_BN_FORWARD_OK, **changes})


def _bn_backward(**changes: str) -> str:
    assert not set(changes) - set(_BN_BACKWARD_OK), changes
    return _BN_SIG["batchnorm_backward"] + _BN_BACKWARD.format(**{**_BN_BACKWARD_OK, **changes})


def _numgrad(body: str) -> str:
    return _BN_SIG["numerical_gradient"] + body


WRONG_ANSWERS += [
    # ---- batchnorm_forward
    {
        "exercise": "batchnorm_forward",
        "name": "unbiased_variance",
        "why": "x.var(dim=1): the unbiased variance (divided by m - 1), not the batch's",
        "source": _bn_forward(var="x.var(dim=1, keepdim=True)"),
        "caught_by": ["batchnorm_forward__values"],
    },
    {
        "exercise": "batchnorm_forward",
        "name": "normalised_over_features",
        "why": "statistics over the features (dim 0) instead of over the examples",
        "source": _bn_forward(
            mu="x.mean(dim=0, keepdim=True)", var="((x - mu) ** 2).mean(dim=0, keepdim=True)"
        ),
    },
    {
        "exercise": "batchnorm_forward",
        "name": "eps_outside_sqrt",
        "why": "(x - mu) / (sqrt(var) + eps): eps added after the square root",
        "source": _bn_forward(x_hat="(x - mu) / (torch.sqrt(var) + eps)"),
        "caught_by": ["batchnorm_forward__values"],
    },
    {
        "exercise": "batchnorm_forward",
        "name": "eps_ignored",
        "why": "a fixed 1e-5 instead of the eps argument",
        "source": _bn_forward(x_hat="(x - mu) / torch.sqrt(var + 1e-5)"),
        "caught_by": ["batchnorm_forward__values"],
    },
    {
        "exercise": "batchnorm_forward",
        "name": "gamma_beta_swapped",
        "why": "beta * x_hat + gamma",
        "source": _bn_forward(y="beta * x_hat + gamma"),
    },
    {
        "exercise": "batchnorm_forward",
        "name": "calls_f_batch_norm",
        "why": "PyTorch's own batch norm instead of the normalisation by hand",
        "earns_nothing": True,  # normalise by hand (constraints): none of its points
        "source": _BN_SIG["batchnorm_forward"]
        + "    return F.batch_norm(x.T, None, None, gamma[:, 0], beta[:, 0], training=True, eps=eps).T\n",
    },
    {
        "exercise": "batchnorm_forward",
        "name": "centres_in_place",
        "why": "x -= mu: the caller's x is centred too",
        "source": _BN_SIG["batchnorm_forward"] + "    x -= x.mean(dim=1, keepdim=True)\n"
        "    var = (x ** 2).mean(dim=1, keepdim=True)\n"
        "    return gamma * x / torch.sqrt(var + eps) + beta\n",
        "caught_by": ["batchnorm_forward__contract"],
    },
    {
        "exercise": "batchnorm_forward",
        "name": "statistics_detached",
        "why": "mean and variance detached 'as constants': right values, wrong gradient",
        "source": _bn_forward(
            mu="x.mean(dim=1, keepdim=True).detach()",
            var="((x - mu) ** 2).mean(dim=1, keepdim=True).detach()",
        ),
        "caught_by": ["batchnorm_forward__contract"],
    },
    {
        "exercise": "batchnorm_forward",
        "name": "eps_tensor_float32",
        "why": "torch.sqrt(var + torch.full((1, 1), eps)): a float32 CPU tensor, whatever x is",
        "source": _bn_forward(x_hat="(x - mu) / torch.sqrt(var + torch.full((1, 1), eps))"),
        "caught_by": ["batchnorm_forward__contract"],
    },
    # ---- numerical_gradient
    {
        "exercise": "numerical_gradient",
        "name": "one_sided_difference",
        "why": "(f(x + h e_i) - f(x)) / h: an error of order h instead of h ** 2",
        "source": _numgrad(
            _NUMGRAD_OK.replace("flat[i] = old - h\n", "flat[i] = old\n").replace(
                "(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h"
            )
        ),
    },
    {
        "exercise": "numerical_gradient",
        "name": "divides_by_h",
        "why": "the central difference divided by h instead of 2h: twice the gradient",
        "source": _numgrad(_NUMGRAD_OK.replace("/ (2 * h)", "/ h")),
    },
    {
        "exercise": "numerical_gradient",
        "name": "ignores_h",
        "why": "a fixed step of 1e-6, whatever h the caller gives",
        "source": _numgrad(
            _NUMGRAD_OK.replace("old + h", "old + 1e-6")
            .replace("old - h", "old - 1e-6")
            .replace("(2 * h)", "2e-6")
        ),
        "caught_by": ["numerical_gradient__values"],
    },
    {
        "exercise": "numerical_gradient",
        "name": "restores_by_subtracting",
        "why": "perturbs the caller's x in place and undoes it with x - h: x + h - h is not always x",
        "source": _numgrad(
            "    grad = torch.zeros_like(x)\n"
            "    flat, gflat = x.data.view(-1), grad.view(-1)\n"
            "    for i in range(flat.numel()):\n"
            "        flat[i] += h\n"
            "        f_plus = float(f(x))\n"
            "        flat[i] -= 2 * h\n"
            "        f_minus = float(f(x))\n"
            "        flat[i] += h\n"
            "        gflat[i] = (f_plus - f_minus) / (2 * h)\n"
            "    return grad\n"
        ),
        "caught_by": ["numerical_gradient__contract"],
    },
    {
        "exercise": "numerical_gradient",
        "name": "float32_result",
        "why": "torch.zeros(x.shape): a float32 result, whatever x's dtype",
        "source": _numgrad(_NUMGRAD_OK.replace("torch.zeros_like(x)", "torch.zeros(x.shape)")),
        "caught_by": ["numerical_gradient__contract"],
    },
    {
        "exercise": "numerical_gradient",
        "name": "flattened_argument",
        "why": "calls f on the flattened copy: f sees a tensor of the wrong shape",
        "source": _numgrad(_NUMGRAD_OK.replace("float(f(xp))", "float(f(flat))")),
        "caught_by": ["numerical_gradient__contract"],
    },
    # ---- batchnorm_backward
    {
        "exercise": "batchnorm_backward",
        "name": "direct_path_only",
        "why": "dx = dout * gamma / std: the paths through the mean and the variance are missing",
        "source": _bn_backward(dx="dx_hat * inv_std"),
        "caught_by": ["batchnorm_backward__input_grad"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "no_variance_path",
        "why": "the path through the variance is missing",
        "source": _bn_backward(dx="dx_hat * inv_std + dmu / m"),
        "caught_by": ["batchnorm_backward__input_grad"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "dgamma_from_x",
        "why": "dgamma = sum(dout * x): gamma scales x_hat, not x",
        "source": _bn_backward(dgamma="(dout * x).sum(dim=1, keepdim=True)"),
        "caught_by": ["batchnorm_backward__param_grads"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "dbeta_mean",
        "why": "dbeta = mean(dout): divides by m",
        "source": _bn_backward(dbeta="dout.mean(dim=1, keepdim=True)"),
        "caught_by": ["batchnorm_backward__param_grads"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "dgamma_flat",
        "why": "dgamma of shape (n,): keepdim forgotten",
        "source": _bn_backward(dgamma="(dout * x_hat).sum(dim=1)"),
        "caught_by": ["batchnorm_backward__keys_shapes"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "dx_hat_ignores_gamma",
        "why": "dL/dx_hat = dout: forgets that y = gamma * x_hat + beta",
        "source": _bn_backward(dx_hat="dout"),
        "caught_by": ["batchnorm_backward__input_grad"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "uses_autograd",
        "why": "asks torch.autograd for the gradients instead of applying the chain rule",
        "earns_nothing": True,  # by hand (course.grading.constraints): none of its points
        "source": _BN_SIG["batchnorm_backward"]
        + "    leaves = [t.detach().clone().requires_grad_() for t in (x, gamma, beta)]\n"
        "    xr, g, b = leaves\n"
        "    mu = xr.mean(dim=1, keepdim=True)\n"
        "    var = ((xr - mu) ** 2).mean(dim=1, keepdim=True)\n"
        "    y = g * (xr - mu) / torch.sqrt(var + eps) + b\n"
        "    dx, dgamma, dbeta = torch.autograd.grad(y, leaves, grad_outputs=dout)\n"
        '    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}\n',
    },
    {
        "exercise": "batchnorm_backward",
        "name": "scales_dout_in_place",
        "why": "dx_hat = dout; dx_hat *= gamma: the caller's dout is scaled too",
        "source": _bn_backward(dx_hat="dout.mul_(gamma)"),
        "caught_by": ["batchnorm_backward__keys_shapes"],
    },
    {
        "exercise": "batchnorm_backward",
        "name": "inv_std_float32",
        "why": "inv_std built through a float32 tensor: bfloat16 inputs give float32 gradients",
        "source": _bn_backward(inv_std="torch.ones(1) / torch.sqrt(var + eps)"),
        "caught_by": ["batchnorm_backward__keys_shapes"],
    },
]
