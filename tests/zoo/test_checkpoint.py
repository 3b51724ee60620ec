import json

import pytest
import torch

from leanspike.errors import ModelFileError
from leanspike.zoo import create_model, load_model, save_model
from leanspike.zoo.checkpoint import MODEL_FILE, STATE_FILE


def test_round_trip_rebuilds_the_model_bit_for_bit(tmp_path):
    torch.manual_seed(0)
    model = create_model("small_cnn", activation="qcfs", activation_args={"levels": 4},
                         channels=(4, 8, 8))
    save_model(model, tmp_path, metadata={"accuracy": 0.5})
    back, meta = load_model(tmp_path)
    assert meta == {"accuracy": 0.5}
    for (k, a), (k2, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(model.eval()(x), back(x))
    assert not (tmp_path / MODEL_FILE).read_text().startswith("\x80")  # JSON, never a pickle


def test_corrupt_and_foreign_files_are_rejected(tmp_path):
    save_model(create_model("mlp", hidden=(8,)), tmp_path)
    weights = (tmp_path / STATE_FILE).read_bytes()
    (tmp_path / STATE_FILE).write_bytes(weights[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(ModelFileError, match="sha256 does not match"):
        load_model(tmp_path)
    (tmp_path / STATE_FILE).write_bytes(weights)
    doc = json.loads((tmp_path / MODEL_FILE).read_text())
    doc["kwargs"]["hidden"] = [9]
    (tmp_path / MODEL_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="does not fit mlp"):
        load_model(tmp_path)
    doc["builder"] = "alexnet"
    (tmp_path / MODEL_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="no model named 'alexnet'"):
        load_model(tmp_path)
    with pytest.raises(ModelFileError, match="missing"):
        load_model(tmp_path / "elsewhere")


def test_models_not_from_the_zoo_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="create_model"):
        save_model(torch.nn.Linear(2, 2), tmp_path)
    assert not any(tmp_path.iterdir())
