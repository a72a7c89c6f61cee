"""Plausible wrong answers for lesson 03 (one-by-one convolutions); each must be caught."""


def _conv1x1(body: str) -> str:
    return f"def conv1x1(x, weight, bias=None):\n{body}"


WRONG_ANSWERS = [
    # ------------------------------------------------------------------ conv1x1
    {
        "exercise": "conv1x1",
        "name": "weight_transposed",
        "why": "uses the weight as a (C_in, C_out) matrix: contracts x's channels with C_out",
        "source": _conv1x1(
            "    out = torch.einsum('nchw,co->nohw', x, weight[:, :, 0, 0])\n"
            "    if bias is not None:\n"
            "        out = out + bias.view(1, -1, 1, 1)\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "sums_wrong_index",
        "why": "sums over the output-channel index o instead of the input channel c",
        "source": _conv1x1(
            "    out = torch.einsum('nchw,oc->nchw', x, weight[:, :, 0, 0])\n"
            "    if bias is not None:\n"
            "        out = out + bias.view(1, -1, 1, 1)\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "reshape_without_permute",
        "why": "flattens (N, C, H, W) to (-1, C) without moving channels last, mixing pixels",
        "source": _conv1x1(
            "    n, c, h, w = x.shape\n"
            "    out = (x.reshape(-1, c) @ weight[:, :, 0, 0].T).reshape(n, -1, h, w)\n"
            "    if bias is not None:\n"
            "        out = out + bias.view(1, -1, 1, 1)\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "bias_on_last_axis",
        "why": "out + bias broadcasts the bias along the width axis, not the channels",
        "source": _conv1x1(
            "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
            "    if bias is not None:\n"
            "        out = out + bias\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "bias_on_height_axis",
        "why": "bias reshaped to (1, 1, C_out, 1): added along the height axis",
        "source": _conv1x1(
            "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
            "    if bias is not None:\n"
            "        out = out + bias.view(1, 1, -1, 1)\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "ignores_bias",
        "why": "never adds the bias",
        "source": _conv1x1("    return torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"),
    },
    {
        "exercise": "conv1x1",
        "name": "calls_conv2d",
        "why": "uses F.conv2d instead of writing the per-pixel product",
        "source": _conv1x1("    return F.conv2d(x, weight, bias)\n"),
        "caught_by": ["conv1x1__matches_conv2d"],
    },
    {
        "exercise": "conv1x1",
        "name": "uses_nn_conv2d",
        "why": "builds an nn.Conv2d, copies the weights in and calls it: a convolution, not the product",
        "source": _conv1x1(
            "    conv = nn.Conv2d(x.shape[1], weight.shape[0], 1, bias=bias is not None).to(x)\n"
            "    with torch.no_grad():\n"
            "        conv.weight.copy_(weight)\n"
            "        if bias is not None:\n"
            "            conv.bias.copy_(bias)\n"
            "    return conv(x)\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "weight_squeezed_in_place",
        "why": "weight.squeeze_() reshapes the caller's weight to (C_out, C_in)",
        "source": _conv1x1(
            "    out = torch.einsum('nchw,oc->nohw', x, weight.squeeze_(-1).squeeze_(-1))\n"
            "    if bias is not None:\n"
            "        out = out + bias.view(1, -1, 1, 1)\n"
            "    return out\n"
        ),
    },
    {
        "exercise": "conv1x1",
        "name": "default_bias_on_cpu",
        "why": "bias=None replaced by torch.zeros(C_out): a CPU tensor, whatever the inputs' device",
        "source": _conv1x1(
            "    if bias is None:\n"
            "        bias = torch.zeros(weight.shape[0])\n"
            "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
            "    return out + bias.view(1, -1, 1, 1)\n"
        ),
        "caught_by": ["conv1x1__contract"],
    },
    {
        "exercise": "conv1x1",
        "name": "numpy_einsum",
        "why": "np.einsum on .numpy() arrays: right values, but no gradient and CPU only",
        "source": _conv1x1(
            "    import numpy as np\n"
            "    out = np.einsum('nchw,oc->nohw', x.numpy(), weight[:, :, 0, 0].numpy())\n"
            "    if bias is not None:\n"
            "        out = out + bias.numpy().reshape(1, -1, 1, 1)\n"
            "    return torch.from_numpy(out)\n"
        ),
        "caught_by": ["conv1x1__contract"],
    },
    # ------------------------------------------------------------------ conv_output_size
    {
        "exercise": "conv_output_size",
        "name": "no_floor",
        "why": "true division: returns 3.5 instead of 3",
        "source": "def conv_output_size(n, f, padding, stride):\n"
        "    return (n + 2 * padding - f) / stride + 1\n",
    },
    {
        "exercise": "conv_output_size",
        "name": "padding_counted_once",
        "why": "n + p - f: the padding is added on both sides",
        "source": "def conv_output_size(n, f, padding, stride):\n"
        "    return (n + padding - f) // stride + 1\n",
    },
    {
        "exercise": "conv_output_size",
        "name": "ceil",
        "why": "rounds up: counts a last position where the filter does not fit",
        "source": "def conv_output_size(n, f, padding, stride):\n"
        "    return -(-(n + 2 * padding - f) // stride) + 1\n",
    },
    {
        "exercise": "conv_output_size",
        "name": "round",
        "why": "round() instead of floor",
        "source": "def conv_output_size(n, f, padding, stride):\n"
        "    return round((n + 2 * padding - f) / stride) + 1\n",
    },
    {
        "exercise": "conv_output_size",
        "name": "no_plus_one",
        "why": "forgets the + 1 (counts steps, not positions)",
        "source": "def conv_output_size(n, f, padding, stride):\n"
        "    return (n + 2 * padding - f) // stride\n",
    },
    {
        "exercise": "conv_output_size",
        "name": "stride_ignored",
        "why": "uses the stride-1 formula",
        "source": "def conv_output_size(n, f, padding, stride):\n    return n + 2 * padding - f + 1\n",
    },
    # ------------------------------------------------------------------ same_padding
    {
        "exercise": "same_padding",
        "name": "even_silently_f_div_2",
        "why": "f // 2 for every f: returns 2 for f = 4 instead of raising",
        "source": "def same_padding(f):\n    return f // 2\n",
    },
    {
        "exercise": "same_padding",
        "name": "even_silently_floor",
        "why": "(f - 1) // 2 with no check: returns 1 for f = 4 (output shrinks by one)",
        "source": "def same_padding(f):\n    return (f - 1) // 2\n",
    },
    {
        "exercise": "same_padding",
        "name": "float",
        "why": "(f - 1) / 2 is a float (1.5 for f = 4, 2.0 for f = 5)",
        "source": "def same_padding(f):\n    return (f - 1) / 2\n",
    },
    {
        "exercise": "same_padding",
        "name": "total_padding",
        "why": "returns f - 1, the total padding, instead of the padding per side",
        "source": "def same_padding(f):\n"
        "    if f % 2 == 0:\n"
        "        raise ValueError('odd f only')\n"
        "    return f - 1\n",
    },
    {
        "exercise": "same_padding",
        "name": "assert_not_valueerror",
        "why": "uses assert (AssertionError) instead of raising ValueError",
        "source": "def same_padding(f):\n"
        "    assert f % 2 == 1, 'odd f only'\n"
        "    return (f - 1) // 2\n",
    },
    # ------------------------------------------------------------------ conv_params
    {
        "exercise": "conv_params",
        "name": "forgets_c_in",
        "why": "(f*f + 1) * c_out: a filter spans all input channels",
        "source": "def conv_params(c_in, c_out, f, bias=True):\n"
        "    return (f * f + (1 if bias else 0)) * c_out\n",
    },
    {
        "exercise": "conv_params",
        "name": "bias_per_input_channel",
        "why": "one bias per input channel instead of per filter",
        "source": "def conv_params(c_in, c_out, f, bias=True):\n"
        "    return f * f * c_in * c_out + (c_in if bias else 0)\n",
    },
    {
        "exercise": "conv_params",
        "name": "bias_forgotten",
        "why": "never counts the bias, even with bias=True",
        "source": "def conv_params(c_in, c_out, f, bias=True):\n    return f * f * c_in * c_out\n",
    },
    {
        "exercise": "conv_params",
        "name": "bias_always",
        "why": "counts the bias even with bias=False",
        "source": "def conv_params(c_in, c_out, f, bias=True):\n    return (f * f * c_in + 1) * c_out\n",
    },
    {
        "exercise": "conv_params",
        "name": "f_not_squared",
        "why": "f * c_in weights per filter instead of f * f * c_in",
        "source": "def conv_params(c_in, c_out, f, bias=True):\n"
        "    return (f * c_in + (1 if bias else 0)) * c_out\n",
    },
    # ------------------------------------------------------------------ conv_mults
    {
        "exercise": "conv_mults",
        "name": "forgets_c_in",
        "why": "h*w*c_out*f*f: each output value needs f*f*c_in multiplications",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f):\n"
        "    return h_out * w_out * c_out * f * f\n",
    },
    {
        "exercise": "conv_mults",
        "name": "input_size_reasoning",
        "why": "treats h_out/w_out as the input and shrinks them by f - 1 again",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f):\n"
        "    return (h_out - f + 1) * (w_out - f + 1) * c_out * f * f * c_in\n",
    },
    {
        "exercise": "conv_mults",
        "name": "flops_not_macs",
        "why": "counts multiplications and additions (2x): FLOPs, not multiplications",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f):\n"
        "    return 2 * h_out * w_out * c_out * f * f * c_in\n",
    },
    {
        "exercise": "conv_mults",
        "name": "f_not_squared",
        "why": "f instead of f*f",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f):\n"
        "    return h_out * w_out * c_out * f * c_in\n",
    },
    {
        "exercise": "conv_mults",
        "name": "params_times_positions_with_bias",
        "why": "multiplies the parameter count (with biases) by the positions",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f):\n"
        "    return h_out * w_out * (f * f * c_in + 1) * c_out\n",
    },
    # ---- how-constraint (course.grading.constraints: no convolution): hidden from the guard
    {
        "exercise": "conv1x1",
        "name": "hidden_conv_bound_before_the_guard",
        "why": "F.conv2d bound to another name before the product-only guard starts",
        "earns_nothing": True,
        "source": "_product = F.conv2d\n\n" + _conv1x1("    return _product(x, weight, bias)\n"),
    },
    {
        "exercise": "conv1x1",
        "name": "hidden_conv_name_built_at_run_time",
        "why": "the convolution reached through getattr with a name built at run time",
        "earns_nothing": True,
        "flagged": True,
        "source": _conv1x1("    return getattr(F, 'con' + 'v2d')(x, weight, bias)\n"),
    },
    {
        "exercise": "conv1x1",
        "name": "hidden_conv_through_aten",
        "why": "the convolution as torch.ops.aten.convolution (the counter sees no conv2d)",
        "earns_nothing": True,
        "source": _conv1x1(
            "    return torch.ops.aten.convolution(x, weight, bias, [1, 1], [0, 0], [1, 1], False,"
            " [0, 0], 1)\n"
        ),
    },
]

# Whole-contract classes (side effects on the caller's objects, dtype/device portability) and the
# derivations (dilation, groups): at least two each.
_CONV1X1_OK = (
    "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
    "    if bias is not None:\n"
    "        out = out + bias.view(1, -1, 1, 1)\n"
    "    return out\n"
)
WRONG_ANSWERS += [
    # ---- side effects on the caller's objects
    {
        "exercise": "conv1x1",
        "name": "switches_weight_gradient_on",
        "why": "weight.requires_grad_() 'so that the layer can learn': changes the caller's tensor",
        "source": _conv1x1("    weight.requires_grad_()\n" + _CONV1X1_OK),
        "caught_by": ["conv1x1__flags_dtypes"],
    },
    {
        "exercise": "conv1x1",
        "name": "zero_bias_requires_grad",
        "why": "bias=None replaced by a zero bias created with requires_grad=True: the output requires grad",
        "source": _conv1x1(
            "    if bias is None:\n"
            "        bias = torch.zeros(weight.shape[0], dtype=x.dtype, device=x.device, requires_grad=True)\n"
            "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
            "    return out + bias.view(1, -1, 1, 1)\n"
        ),
        "caught_by": ["conv1x1__flags_dtypes"],
    },
    # ---- dtype and device portability
    {
        "exercise": "conv1x1",
        "name": "zero_bias_float32",
        "why": "bias=None replaced by torch.zeros(C_out, device=x.device): float32, so bfloat16 becomes float32",
        "source": _conv1x1(
            "    if bias is None:\n"
            "        bias = torch.zeros(weight.shape[0], device=x.device)\n"
            "    out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
            "    return out + bias.view(1, -1, 1, 1)\n"
        ),
        "caught_by": ["conv1x1__flags_dtypes"],
    },
    {
        "exercise": "conv1x1",
        "name": "bias_as_float32",
        "why": "bias.float() before adding it: float64 wins over float32, bfloat16 does not",
        "source": _conv1x1(
            _CONV1X1_OK.replace("bias.view(1, -1, 1, 1)", "bias.float().view(1, -1, 1, 1)")
        ),
        "caught_by": ["conv1x1__flags_dtypes"],
    },
    # ---- derivations: dilation, groups
    {
        "exercise": "conv_output_size",
        "name": "dilation_ignored",
        "why": "the dilation argument is accepted and ignored",
        "source": "def conv_output_size(n, f, padding, stride, dilation=1):\n"
        "    return (n + 2 * padding - f) // stride + 1\n",
        "caught_by": ["conv_output_size__dilation"],
    },
    {
        "exercise": "conv_output_size",
        "name": "dilation_times_f",
        "why": "a dilated filter taken to span d * f pixels instead of d * (f - 1) + 1",
        "source": "def conv_output_size(n, f, padding, stride, dilation=1):\n"
        "    return (n + 2 * padding - dilation * f) // stride + 1\n",
        "caught_by": ["conv_output_size__dilation"],
    },
    {
        "exercise": "conv_output_size",
        "name": "dilation_adds_holes_once",
        "why": "span f + dilation - 1: counts the holes once instead of between every pair of taps",
        "source": "def conv_output_size(n, f, padding, stride, dilation=1):\n"
        "    return (n + 2 * padding - (f + dilation - 1)) // stride + 1\n",
        "caught_by": ["conv_output_size__dilation"],
    },
    {
        "exercise": "conv_params",
        "name": "groups_ignored",
        "why": "the groups argument is accepted and ignored",
        "source": "def conv_params(c_in, c_out, f, bias=True, groups=1):\n"
        "    return (f * f * c_in + (1 if bias else 0)) * c_out\n",
        "caught_by": ["conv_params__groups"],
    },
    {
        "exercise": "conv_params",
        "name": "groups_divide_everything",
        "why": "divides the whole count (biases included) by the number of groups",
        "source": "def conv_params(c_in, c_out, f, bias=True, groups=1):\n"
        "    return (f * f * c_in + (1 if bias else 0)) * c_out // groups\n",
        "caught_by": ["conv_params__groups"],
    },
    {
        "exercise": "conv_mults",
        "name": "groups_ignored",
        "why": "the groups argument is accepted and ignored",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f, groups=1):\n"
        "    return h_out * w_out * c_out * f * f * c_in\n",
        "caught_by": ["conv_mults__groups"],
    },
    {
        "exercise": "conv_mults",
        "name": "groups_divide_twice",
        "why": "divides by the groups for the input AND the output channels",
        "source": "def conv_mults(h_out, w_out, c_in, c_out, f, groups=1):\n"
        "    return h_out * w_out * (c_out // groups) * f * f * (c_in // groups)\n",
        "caught_by": ["conv_mults__groups"],
    },
]
