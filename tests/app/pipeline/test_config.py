"""Pipeline settings: TOML in and out, and clear errors for bad files."""

import pytest

from leanspike.app.pipeline import PipelineConfig, dump_config, load_config
from leanspike.errors import ConfigError


def test_defaults_are_the_documented_flow():
    c = load_config()
    assert (c.dataset, c.arch, c.ann.activation, c.convert.method, c.convert.timesteps) == \
        ("digits", "small_cnn", "clip", "datta", 2)
    assert c.retrain.schedule == [1] and c.prune.method == "gradr"
    assert c.prune.target_sparsity >= 0.9 and c.deploy.backend == "lava-fixed"
    assert c.run_name == "digits-small-cnn"


def test_resolved_config_round_trips_through_toml(tmp_path):
    c = load_config(quick=True, overrides={"seed": 3, "prune": {"target_sparsity": 0.8}})
    path = dump_config(c, tmp_path / "config.toml")
    again = load_config(path)
    assert again == c and again.seed == 3 and again.prune.target_sparsity == 0.8
    assert again.model == {"channels": [4, 8, 8], "hidden": [32]}


def test_file_settings_override_quick_and_cli_overrides_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 5\n[prune]\nepochs = 7\nsweep = [0.5]\n')
    c = load_config(path, quick=True, overrides={"seed": 9})
    assert c.prune.epochs == 7 and c.prune.sweep == [0.5] and c.seed == 9
    assert c.ann.epochs == load_config(quick=True).ann.epochs  # quick kept where not overridden


@pytest.mark.parametrize("text, culprit", [
    ("sed = 1\n", "sed"),
    ("[prune]\nsparsity = 0.9\n", "prune.sparsity"),
    ("[prune]\ntarget_sparsity = 1.5\n", "prune.target_sparsity"),
    ("[prune]\nsweep = [0.5, 2.0]\n", "prune.sweep[1]"),
    ("[ann]\nepochs = 'many'\n", "ann.epochs"),
    ("[ann]\nepochs = 2.5\n", "ann.epochs"),
    ("[ann]\nreference_relu = 1\n", "ann.reference_relu"),
    ("[ann]\npreset = 'fast'\n", "ann.preset"),
    ("convert = 3\n", "convert"),
    ("[deploy]\nbackend = 'lava-float'\n", "deploy.backend"),
    ("[retrain]\nschedule = 1\n", "retrain.schedule"),
    ("seed = [\n", "not valid TOML"),
])
def test_bad_settings_name_the_culprit(tmp_path, text, culprit):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=culprit.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml"):
        load_config(tmp_path / "nowhere.toml")


def test_config_is_a_plain_dataclass():
    assert PipelineConfig().as_dict()["prune"]["method"] == "gradr"
