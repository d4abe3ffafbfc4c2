"""Random-weight replicas of generators trained elsewhere, each in its project's published layout.

Nothing can be downloaded in tests, so each format restyle imports is rebuilt here from the
published structure (module names, key names, padding, normalisation, value ranges), written
independently of restyle's importers, with random weights. A test saves a replica the way its
project does and compares restyle's import with the replica's own forward pass.

* pytorch/examples ``fast_neural_style``: :class:`TransformerNet` (``neural_style.py`` runs it on
  0–255 float NCHW; old checkpoints carry InstanceNorm running stats: :func:`old_state_dict`);
* onnx/models ``fast_neural_style`` at opset 8 and 9: :func:`zoo_onnx` writes the graph the old
  TorchScript exporter gave (``input1`` → ``output1``, 1×3×224×224, ``Pad``/``Upsample``);
* bryandlee/animegan2-pytorch: :class:`AnimeGenerator`;
* junyanz CycleGAN/pix2pix: :class:`ResnetGenerator`;
* AnimeGANv3 ONNX: :func:`animeganv3_onnx` (NHWC, [-1, 1], shape-driven bilinear resize).
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

# --- pytorch/examples fast_neural_style -----------------------------------------------------------


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, upsample: int) -> None:
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """The published network: 0–255 float NCHW in, unclamped out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9, 1), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        for i in range(1, 6):
            setattr(self, f"res{i}", ResidualBlock(128))
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, 2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, 2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def _randomise_norms(net: nn.Module, gen: torch.Generator) -> None:
    """Trained norms are not ones and zeros: draw them, so the test sees their effect."""
    for m in net.modules():
        norm = isinstance(m, nn.InstanceNorm2d | nn.GroupNorm | nn.BatchNorm2d)
        if norm and m.weight is not None:
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))


def transformer_net(seed: int = 0) -> TransformerNet:
    """A TransformerNet with random weights whose output spans 0–255 on photos."""
    torch.manual_seed(seed)
    net = TransformerNet()
    _randomise_norms(net, torch.Generator().manual_seed(seed))
    with torch.no_grad():  # a trained net's output layer maps to pixel values
        net.deconv3.conv2d.weight.mul_(40.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    return net.eval()


def old_state_dict(net: TransformerNet) -> dict[str, torch.Tensor]:
    """The state dict as PyTorch 0.3 saved it: every InstanceNorm also had running stats."""
    state = dict(net.state_dict())
    for name, m in net.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.zeros(m.num_features)
            state[f"{name}.running_var"] = torch.ones(m.num_features)
    return state


def stylize_like_neural_style(net: TransformerNet, image: np.ndarray) -> np.ndarray:
    """``neural_style.py stylize``'s arithmetic on one HxWx3 uint8 image (float result, 0–255)."""
    x = torch.from_numpy(image).permute(2, 0, 1).float().unsqueeze(0)  # ToTensor() * 255
    with torch.no_grad():
        return net(x)[0].permute(1, 2, 0).numpy()


# --- onnx/models fast_neural_style (opset 8 / 9) --------------------------------------------------


def zoo_onnx(net: TransformerNet, opset: int) -> onnx.ModelProto:
    """The zoo's file for ``net``: the graph the TorchScript exporter wrote at ``opset``."""
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    count = [0]

    def fresh() -> str:
        count[0] += 1
        return str(count[0])

    def conv(x: str, layer: str, k: int, stride: int) -> str:
        padded, out = fresh(), fresh()
        p = k // 2
        nodes.append(helper.make_node("Pad", [x], [padded], mode="reflect",
                                      pads=[0, 0, p, p, 0, 0, p, p]))
        w, b = f"{layer}.conv2d.weight", f"{layer}.conv2d.bias"
        inits.extend([numpy_helper.from_array(state[w], w), numpy_helper.from_array(state[b], b)])
        nodes.append(helper.make_node("Conv", [padded, w, b], [out], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[0, 0, 0, 0],
                                      dilations=[1, 1], group=1))
        return out

    def norm(x: str, layer: str, relu: bool = True) -> str:
        out = fresh()
        w, b = f"{layer}.weight", f"{layer}.bias"
        inits.extend([numpy_helper.from_array(state[w], w), numpy_helper.from_array(state[b], b)])
        nodes.append(helper.make_node("InstanceNormalization", [x, w, b], [out], epsilon=1e-5))
        if not relu:
            return out
        r = fresh()
        nodes.append(helper.make_node("Relu", [out], [r]))
        return r

    def upsample(x: str) -> str:
        out = fresh()
        if opset >= 9:
            scales = fresh()
            nodes.append(helper.make_node("Constant", [], [scales], value=numpy_helper.from_array(
                np.array([1.0, 1.0, 2.0, 2.0], np.float32))))
            nodes.append(helper.make_node("Upsample", [x, scales], [out], mode="nearest"))
        else:
            nodes.append(helper.make_node("Upsample", [x], [out], mode="nearest",
                                          scales=[1.0, 1.0, 2.0, 2.0]))
        return out

    y = norm(conv("input1", "conv1", 9, 1), "in1")
    y = norm(conv(y, "conv2", 3, 2), "in2")
    y = norm(conv(y, "conv3", 3, 2), "in3")
    for i in range(1, 6):
        r = norm(conv(y, f"res{i}.conv1", 3, 1), f"res{i}.in1")
        r = norm(conv(r, f"res{i}.conv2", 3, 1), f"res{i}.in2", relu=False)
        out = fresh()
        nodes.append(helper.make_node("Add", [r, y], [out]))
        y = out
    y = norm(conv(upsample(y), "deconv1", 3, 1), "in4")
    y = norm(conv(upsample(y), "deconv2", 3, 1), "in5")
    y = conv(y, "deconv3", 9, 1)
    nodes.append(helper.make_node("Identity", [y], ["output1"]))
    # IR 3/4: the exporter listed every weight as a graph input too.
    weights = [helper.make_tensor_value_info(i.name, TensorProto.FLOAT, list(i.dims))
               for i in inits]
    graph = helper.make_graph(
        nodes, "torch-jit-export",
        [helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, 224, 224]), *weights],
        [helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, 224, 224])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="pytorch", producer_version="1.0")
    model.ir_version = 4 if opset >= 9 else 3
    onnx.checker.check_model(model)
    return model


# --- bryandlee/animegan2-pytorch ------------------------------------------------------------------


class ConvNormLReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | tuple[int, int, int, int] = 1, groups: int = 1,
                 bias: bool = False) -> None:
        super().__init__(nn.ReflectionPad2d(padding),
                         nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=0,
                                   groups=groups, bias=bias),
                         nn.GroupNorm(num_groups=1, num_channels=cout, affine=True),
                         nn.LeakyReLU(0.2, inplace=True))


class InvertedResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, expansion_ratio: int = 2) -> None:
        super().__init__()
        self.use_res_connect = cin == cout
        bottleneck = round(cin * expansion_ratio)
        self.layers = nn.Sequential(
            ConvNormLReLU(cin, bottleneck, kernel_size=1, padding=0),
            ConvNormLReLU(bottleneck, bottleneck, groups=bottleneck, bias=True),
            nn.Conv2d(bottleneck, cout, kernel_size=1, padding=0, bias=False),
            nn.GroupNorm(num_groups=1, num_channels=cout, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.use_res_connect else out


class AnimeGenerator(nn.Module):
    """AnimeGANv2's generator: [-1, 1] NCHW in, tanh out."""

    def __init__(self) -> None:
        super().__init__()
        self.block_a = nn.Sequential(ConvNormLReLU(3, 32, kernel_size=7, padding=3),
                                     ConvNormLReLU(32, 64, stride=2, padding=(0, 1, 0, 1)),
                                     ConvNormLReLU(64, 64))
        self.block_b = nn.Sequential(ConvNormLReLU(64, 128, stride=2, padding=(0, 1, 0, 1)),
                                     ConvNormLReLU(128, 128))
        self.block_c = nn.Sequential(ConvNormLReLU(128, 128), InvertedResBlock(128, 256, 2),
                                     InvertedResBlock(256, 256, 2), InvertedResBlock(256, 256, 2),
                                     InvertedResBlock(256, 256, 2), ConvNormLReLU(256, 128))
        self.block_d = nn.Sequential(ConvNormLReLU(128, 128), ConvNormLReLU(128, 128))
        self.block_e = nn.Sequential(ConvNormLReLU(128, 64), ConvNormLReLU(64, 64),
                                     ConvNormLReLU(64, 32, kernel_size=7, padding=3))
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, kernel_size=1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
        out = self.block_a(x)
        half_size = out.size()[-2:]
        out = self.block_c(self.block_b(out))
        if align_corners:
            out = F.interpolate(out, half_size, mode="bilinear", align_corners=True)
        else:
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)
        out = self.block_d(out)
        if align_corners:
            out = F.interpolate(out, x.size()[-2:], mode="bilinear", align_corners=True)
        else:
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)
        return self.out_layer(self.block_e(out))


def anime_generator(seed: int = 0) -> AnimeGenerator:
    torch.manual_seed(seed)
    net = AnimeGenerator()
    _randomise_norms(net, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        net.out_layer[0].weight.mul_(0.3)  # keep tanh out of saturation
    return net.eval()


def stylize_like_animegan2(net: AnimeGenerator, image: np.ndarray,
                           align_corners: bool = False) -> np.ndarray:
    """``test.py``'s arithmetic (img / 127.5 - 1, (out + 1) * 127.5), float 0–255 result."""
    x = torch.from_numpy(image.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        out = net(x, align_corners)[0].permute(1, 2, 0).numpy()
    return (out + 1) * 127.5


# --- junyanz CycleGAN / pix2pix ResnetGenerator ---------------------------------------------------


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, use_dropout: bool) -> None:
        super().__init__()
        block: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0),
                                  nn.InstanceNorm2d(dim), nn.ReLU(True)]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0), nn.InstanceNorm2d(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """``define_G(3, 3, ngf, 'resnet_9blocks', norm='instance')``: [-1, 1] in, tanh out."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9, use_dropout: bool = False) -> None:
        super().__init__()
        model: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, padding=0),
                                  nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                      nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        model += [ResnetBlock(ngf * 4, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                         output_padding=1),
                      nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def resnet_generator(seed: int = 0, **kwargs: int | bool) -> ResnetGenerator:
    torch.manual_seed(seed)
    net = ResnetGenerator(**kwargs)  # type: ignore[arg-type]
    with torch.no_grad():
        net.model[-2].weight.mul_(0.3)
    return net.eval()


def stylize_like_cyclegan(net: ResnetGenerator, image: np.ndarray) -> np.ndarray:
    """Normalize(0.5, 0.5) in, ``tensor2im``'s (x + 1) / 2 * 255 out (float); sides must be
    multiples of 4, as the project's own resize-and-crop makes them."""
    x = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        out = net((x - 0.5) / 0.5)[0].permute(1, 2, 0).numpy()
    return (out + 1) / 2.0 * 255.0


# --- AnimeGANv3 ONNX ------------------------------------------------------------------------------


def animeganv3_onnx(seed: int = 0, width: int = 16) -> onnx.ModelProto:
    """An AnimeGANv3-shaped graph (tf2onnx style): NHWC float [-1, 1] in, tanh NHWC out; two
    stride-2 convolutions and shape-driven bilinear resizes back, so sides must be ×8-friendly."""
    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def w(name: str, *shape: int, scale: float = 1.0) -> str:
        fan_in = int(np.prod(shape[1:]))
        value = rng.normal(0, scale / np.sqrt(fan_in), shape).astype(np.float32)
        inits.append(numpy_helper.from_array(value, name))
        return name

    def conv(x: str, name: str, cin: int, cout: int, k: int, stride: int) -> str:
        nodes.append(helper.make_node("Conv", [x, w(f"{name}/kernel", cout, cin, k, k),
                                               w(f"{name}/bias", cout)], [f"{name}:0"],
                                      kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        nodes.append(helper.make_node("LeakyRelu", [f"{name}:0"], [f"{name}/act:0"], alpha=0.2))
        return f"{name}/act:0"

    def resize_like(x: str, like: str, name: str) -> str:
        nodes.append(helper.make_node("Shape", [like], [f"{name}/shape"]))
        nodes.append(helper.make_node("Slice", [f"{name}/shape", f"{name}/s", f"{name}/e"],
                                      [f"{name}/hw"]))
        inits.append(numpy_helper.from_array(np.array([2], np.int64), f"{name}/s"))
        inits.append(numpy_helper.from_array(np.array([4], np.int64), f"{name}/e"))
        nodes.append(helper.make_node("Shape", [x], [f"{name}/xshape"]))
        nodes.append(helper.make_node("Slice", [f"{name}/xshape", f"{name}/s0", f"{name}/s"],
                                      [f"{name}/nc"]))
        inits.append(numpy_helper.from_array(np.array([0], np.int64), f"{name}/s0"))
        nodes.append(helper.make_node("Concat", [f"{name}/nc", f"{name}/hw"], [f"{name}/size"],
                                      axis=0))
        nodes.append(helper.make_node("Resize", [x, "", "", f"{name}/size"], [f"{name}:0"],
                                      mode="linear",
                                      coordinate_transformation_mode="half_pixel"))
        return f"{name}:0"

    nodes.append(helper.make_node("Transpose", ["AnimeGANv3_input:0"], ["nchw"],
                                  perm=[0, 3, 1, 2]))
    a = conv("nchw", "generator/G_MODEL/A/conv", 3, width, 7, 1)
    b = conv(a, "generator/G_MODEL/B/conv", width, 2 * width, 3, 2)
    c = conv(b, "generator/G_MODEL/C/conv", 2 * width, 4 * width, 3, 2)
    c = conv(c, "generator/G_MODEL/C/conv2", 4 * width, 4 * width, 3, 1)
    d = resize_like(c, b, "generator/G_MODEL/D/resize")
    d = conv(d, "generator/G_MODEL/D/conv", 4 * width, 2 * width, 3, 1)
    e = resize_like(d, a, "generator/G_MODEL/E/resize")
    e = conv(e, "generator/G_MODEL/E/conv", 2 * width, width, 3, 1)
    nodes.append(helper.make_node("Conv", [e, w("generator/out/kernel", 3, width, 7, 7,
                                                scale=0.8)], ["out_pre"],
                                  kernel_shape=[7, 7], pads=[3, 3, 3, 3]))
    nodes.append(helper.make_node("Tanh", ["out_pre"], ["out_tanh"]))
    nodes.append(helper.make_node("Transpose", ["out_tanh"], ["generator_1/main/out_layer:0"],
                                  perm=[0, 2, 3, 1]))
    graph = helper.make_graph(
        nodes, "tf2onnx",
        [helper.make_tensor_value_info("AnimeGANv3_input:0", TensorProto.FLOAT,
                                       ["unk__0", "unk__1", "unk__2", 3])],
        [helper.make_tensor_value_info("generator_1/main/out_layer:0", TensorProto.FLOAT,
                                       ["unk__3", "unk__4", "unk__5", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)],
                              producer_name="tf2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
