"""Architecture diagrams drawn from a real forward pass, so the shapes they show stay true.

Plumbing written by hand (not course content): the model lessons call ``architecture(model,
input)``, which runs the model once with hooks, records each stage's output shape, and draws
the stages left to right as boxes (height from the spatial size, width from the channels).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# Shape-keeping activations are left out of a diagram: they would only repeat a box.
ACTIVATIONS = (nn.GELU, nn.ReLU, nn.SiLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Identity)


def _stages(model: nn.Module, expand: tuple[str, ...] = ()) -> dict[nn.Module, str]:
    """The modules a diagram shows: the model's children, containers (and ``expand``) opened
    one level."""
    stages = {}
    for name, child in model.named_children():
        if name in expand:
            for module, inner in _stages(child).items():
                stages[module] = f"{name}.{inner}"
        elif isinstance(child, CONTAINERS):
            for inner, module in child.named_children():
                stages[module] = f"{name}.{inner}"
        else:
            stages[child] = name
    return {module: name for module, name in stages.items() if not isinstance(module, ACTIVATIONS)}


def trace_shapes(
    model: nn.Module, *inputs, expand: tuple[str, ...] = ()
) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, class, output shape) of each shown stage, in the order the forward pass ran them;
    ``expand`` names children to show stage by stage (e.g. ``("encoder", "decoder")``)."""
    if not inputs:
        raise ValueError("trace_shapes needs the model's input, e.g. trace_shapes(model, t)")
    seen: list[tuple[str, str, tuple[int, ...]]] = []

    def record(module, _inputs, output):
        if isinstance(output, (tuple, list)):
            output = output[0]
        if torch.is_tensor(output):
            seen.append((names[module], type(module).__name__, tuple(output.shape)))

    names = _stages(model, expand)
    hooks = [module.register_forward_hook(record) for module in names]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    if not seen:
        raise ValueError(f"{type(model).__name__} ran no child module: nothing to draw")
    return seen


def _describe(shape: tuple[int, ...]) -> str:
    return " x ".join(str(size) for size in shape[1:])  # the batch size is left out


def draw_architecture(input_shape, stages, title: str = "", ax=None):
    """Boxes for the input and each (name, class, shape) stage; returns the matplotlib axes."""
    boxes = [("input", "", tuple(input_shape))] + list(stages)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.25 * len(boxes)), 3.2))
    x = 0.0
    for index, (name, kind, shape) in enumerate(boxes):
        channels = shape[1] if len(shape) > 1 else 1
        spatial = math.prod(shape[2:]) if len(shape) > 2 else 1
        height = 0.3 + 0.25 * math.log2(spatial + 1)
        width = 0.25 + 0.12 * math.log2(channels + 1)
        ax.add_patch(
            plt.Rectangle((x, -height / 2), width, height, color=f"C{index % 10}", alpha=0.6)
        )
        label = f"{name}\n{kind}\n{_describe(shape)}" if kind else f"{name}\n{_describe(shape)}"
        ax.text(x + width / 2, -height / 2 - 0.15, label, ha="center", va="top", fontsize=7)
        if index + 1 < len(boxes):
            ax.annotate(
                "", (x + width + 0.35, 0), (x + width + 0.05, 0), arrowprops={"arrowstyle": "->"}
            )
        x += width + 0.4
    ax.set_xlim(-0.2, x)
    ax.set_ylim(-4.2, 3.0)
    ax.set_axis_off()
    ax.set_title(title or "shapes from one forward pass (batch left out)")
    return ax


def architecture(model: nn.Module, *inputs, expand: tuple[str, ...] = (), title="", ax=None):
    """Run ``model`` once on ``inputs`` and draw its stages with their output shapes."""
    stages = trace_shapes(model, *inputs, expand=expand)
    return draw_architecture(inputs[0].shape, stages, title=title, ax=ax)
