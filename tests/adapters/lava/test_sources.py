import pytest
import torch

from leanspike import spec as S
from leanspike.errors import RegistryError
from leanspike.registry import Registry
from leanspike.zoo import create_model


@pytest.mark.lava
def test_lava_adapter_accepts_specs_entries_references_and_folders(tmp_path):
    from leanspike.adapters.lava import network_spec

    layers = [S.Linear(torch.ones(3, 2), None, None, S.LIF()),
              S.Linear(torch.ones(1, 3), None, None, S.Integrator())]
    spec = S.NetworkSpec((2,), layers, 2)
    reg = Registry(tmp_path / "reg")
    entry = reg.register("m", spec)
    spec.save(tmp_path / "folder")
    for source in (spec, entry, "m@snn", tmp_path / "folder"):
        assert network_spec(source, registry=reg).identical(spec)
    ann = reg.register("m", create_model("mlp", hidden=(4,)))
    with pytest.raises(RegistryError, match="is an ANN"):
        network_spec(ann)
