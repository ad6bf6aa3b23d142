"""The network (a ``transformers`` ResNet) and its export to ONNX; public for scripts that build bare networks (e.g. the GPU training script). Imports torch."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import ResNetConfig, ResNetForImageClassification

from cxrpilot.errors import InvalidInputError

__all__ = ["ARCHITECTURES", "build_network", "export_onnx", "LogitsAndMaps"]

#: Named ResNet configurations (greyscale input; basic blocks unless ``layer_type`` says
#: otherwise). The first four are the narrow CPU networks (half the standard widths); the
#: ``w64`` ones have the standard widths of He et al. 2016 (stem 64, stages 64-512, or
#: 256-2048 with bottleneck blocks), for training on a GPU.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "resnet10": {"embedding_size": 32, "hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 1, 1]},
    "resnet18": {"embedding_size": 32, "hidden_sizes": [32, 64, 128, 256], "depths": [2, 2, 2, 2]},
    "resnet10t": {"embedding_size": 16, "hidden_sizes": [16, 32, 64, 128], "depths": [1, 1, 1, 1]},
    "resnet14w": {"embedding_size": 32, "hidden_sizes": [48, 96, 192, 384], "depths": [1, 1, 2, 2]},
    "resnet18w64": {"embedding_size": 64, "hidden_sizes": [64, 128, 256, 512],
                    "depths": [2, 2, 2, 2]},
    "resnet34w64": {"embedding_size": 64, "hidden_sizes": [64, 128, 256, 512],
                    "depths": [3, 4, 6, 3]},
    "resnet50w64": {"embedding_size": 64, "hidden_sizes": [256, 512, 1024, 2048],
                    "depths": [3, 4, 6, 3], "layer_type": "bottleneck"},
}


def build_network(arch: str, num_labels: int) -> ResNetForImageClassification:
    """A randomly initialised ``transformers`` ResNet for 1-channel input."""
    if arch not in ARCHITECTURES:
        raise InvalidInputError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    options = {"layer_type": "basic", **ARCHITECTURES[arch]}
    config = ResNetConfig(
        num_channels=1, hidden_act="relu", num_labels=num_labels,
        downsample_in_first_stage=False, **options,
    )
    return ResNetForImageClassification(config)


class LogitsAndMaps(torch.nn.Module):
    """Wraps the transformers model so that it maps pixels -> (logits, class activation maps).

    The network ends in global average pooling and one linear layer, so the class
    activation map of label k (Zhou et al. 2016, "Learning deep features for discriminative
    localization", CVPR) is that linear layer applied at every position of the last feature
    map: ``maps[:, k]`` has shape (h, w) and its mean over positions equals ``logits[:, k]``.
    """

    def __init__(self, model: ResNetForImageClassification) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.resnet(pixel_values=pixels).last_hidden_state  # (B, C, h, w)
        linear = self.model.classifier[-1]
        maps = torch.einsum("bchw,kc->bkhw", features, linear.weight)
        maps = maps + linear.bias[None, :, None, None]
        return maps.mean(dim=(2, 3)), maps


def export_onnx(model: ResNetForImageClassification, path: Path, image_size: int,
                *, opset: int = 18) -> float:
    """Export to ONNX (outputs ``logits`` (N, L) and ``maps`` (N, L, h, w)) with a dynamic
    batch axis; returns the largest |ONNX - torch| logit difference on a random batch
    (checked with ONNX Runtime against the transformers forward)."""
    import onnxruntime as ort

    wrapper = LogitsAndMaps(model).eval()
    example = torch.randn(2, 1, image_size, image_size, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation/tracer notes
        torch.onnx.export(
            wrapper, (example,), str(path), input_names=["pixels"],
            output_names=["logits", "maps"],
            dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}, "maps": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check = torch.randn(3, 1, image_size, image_size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = model.eval()(pixel_values=check).logits.numpy()
    got = session.run(None, {"pixels": check.numpy()})[0]
    return float(np.abs(got - expected).max())
