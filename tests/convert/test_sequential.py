import torch
from torch import nn
from torch.utils.data import TensorDataset

from leanspike.convert import convert
from leanspike.reference import simulate


def test_iir_conversion_sets_layerwise_percentile_thresholds_on_the_snn():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                        nn.Linear(16, 3))
    x = torch.randn(300, 6)
    data = TensorDataset(x, torch.zeros(300, dtype=torch.long))
    spec, report = convert(ann, data, method="iir", timesteps=4)
    first = torch.quantile(ann[0](x).detach().flatten(), 0.9)  # constant input: same each step
    assert abs(report.layers[0].threshold - float(first)) < 1e-5
    # the second threshold is measured on the spikes of the converted first layer
    currents = simulate(spec, x, record_currents=(1,), stop_after=1).currents[1]
    assert currents.shape == (4, 300, 16)
    assert abs(report.layers[1].threshold - float(torch.quantile(currents.flatten(), 0.9))) < 1e-5
    assert all(c.amplitude == 1.0 and c.v_init == 0.0 for c in report.layers)
    assert spec.metadata["converted_with"] == "iir"
