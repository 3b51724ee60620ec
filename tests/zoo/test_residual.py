"""The residual SNN specs: both block styles as graphs, SEW's identity mapping exact."""

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.reference import simulate
from leanspike.zoo.residual import sew_resnet


@pytest.mark.parametrize("style", ["sew", "current"])
def test_both_styles_are_valid_graphs_that_save_and_run(style, tmp_path):
    spec = sew_resnet(input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=2, style=style)
    adds = [layer for layer in spec.layers if isinstance(layer, S.Add)]
    assert spec.is_graph and len(adds) == 4
    assert all((a.neuron is None) == (style == "sew") for a in adds)
    assert [layer.name for layer in spec.layers if isinstance(layer, S.Conv2d)
            and layer.inputs is not None] == ["stage2.block1.shortcut"]
    back = S.NetworkSpec.load(spec.save(tmp_path / style))
    assert back.identical(spec)
    out = simulate(spec, torch.rand(3, 1, 8, 8))
    assert out.output.shape == (3, 10) and sorted(out.spikes) == spec.spiking_layers()


def test_a_silent_sew_block_passes_its_input_on_exactly():
    spec = sew_resnet(widths=(4,), blocks_per_stage=1, style="sew")
    block = [i for i, layer in enumerate(spec.layers)
             if (layer.name or "").startswith("stage1.block1.conv")]
    for i in block:
        spec.layers[i].weight.zero_()
    add = next(i for i, layer in enumerate(spec.layers) if isinstance(layer, S.Add))
    x = torch.rand(6, 1, 8, 8) * 3
    stem = simulate(spec, x, stop_after=0, timesteps=1).output
    assert stem.sum() > 0
    assert torch.equal(simulate(spec, x, stop_after=add, timesteps=1).output, stem)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="style must be one of"):
        sew_resnet(style="dense")
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        sew_resnet(input_shape=(64,))
