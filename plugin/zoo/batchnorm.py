"""Fold batch norm into the preceding convolution or linear layer.

After folding, the network computes the same function in eval mode with plain Conv/Linear layers
(with bias), which is what conversion needs: an SNN has no batch statistics. The arithmetic is
torch's own (``torch.nn.utils.fusion``); this module only finds the pairs.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from leanspike.errors import ConfigError

_PAIRS = ((nn.Conv2d, nn.BatchNorm2d), (nn.Linear, nn.BatchNorm1d))


def _fold_sequential(seq: nn.Sequential) -> tuple[nn.Sequential, int]:
    items = list(seq.named_children())
    kept: OrderedDict[str, nn.Module] = OrderedDict()
    folded = 0
    i = 0
    while i < len(items):
        name, module = items[i]
        nxt = items[i + 1][1] if i + 1 < len(items) else None
        pair = next((p for p in _PAIRS if isinstance(module, p[0]) and isinstance(nxt, p[1])),
                    None)
        if pair is not None:
            fuse = fuse_conv_bn_eval if pair[0] is nn.Conv2d else fuse_linear_bn_eval
            kept[name] = fuse(module.eval(), nxt.eval())
            folded += 1
            i += 2
            continue
        kept[name] = module
        i += 1
    return nn.Sequential(kept), folded


def _fold(module: nn.Module) -> int:
    folded = 0
    for name, child in list(module.named_children()):
        folded += _fold(child)
        if isinstance(child, nn.Sequential):
            new, n = _fold_sequential(child)
            if n:
                setattr(module, name, new)
                folded += n
    return folded


def remaining_batch_norms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def fold_batch_norm(model: nn.Module, *, strict: bool = True) -> nn.Module:
    """Return a copy of ``model`` with every Conv->BN / Linear->BN pair folded into one layer.

    Pairs are found inside ``nn.Sequential`` containers (the zoo builds them that way). With
    ``strict`` a batch norm that cannot be folded (not right after a conv/linear) is an error,
    naming it, because conversion would silently drop it.
    """
    out = copy.deepcopy(model)
    if isinstance(out, nn.Sequential):
        out, _ = _fold_sequential(out)
        for attr in ("leanspike_config",):
            if hasattr(model, attr):
                setattr(out, attr, copy.deepcopy(getattr(model, attr)))
    _fold(out)
    left = remaining_batch_norms(out)
    if strict and left:
        raise ConfigError(f"cannot fold batch norm {', '.join(left)}: it does not directly "
                         f"follow a Conv2d/Linear inside an nn.Sequential")
    config = getattr(out, "leanspike_config", None)
    if config is not None and not left:
        config["kwargs"]["batch_norm"] = False
    out.eval()
    return out
