import json

import pytest


def test_stdp_cli_compares_pruned_with_dense_and_writes_a_run_folder(tmp_path, cli):
    out = tmp_path / "run"
    code, text, _ = cli("stdp", "--dataset", "digits", "--channels", "4,8", "--epochs", "0.6",
                        "--prune-threshold", "0.4", "--compare", "--out", str(out),
                        "--no-progress")
    assert code == 0, text
    assert "pruning below 0.4" in text and "connectivity" in text and "not pruned" in text
    summary = json.loads((out / "summary.json").read_text())
    pruned, dense = summary["runs"]
    assert pruned["pruning"] and not dense["pruning"]
    assert dense["overall_connectivity"] == 1.0 > pruned["overall_connectivity"]
    assert (out / "network" / "ttfs.json").is_file()
    assert (out / "learning.png").stat().st_size > 1000


def test_stdp_cli_without_pruning(cli):
    code, text, _ = cli("stdp", "--channels", "4,8", "--epochs", "0.1", "--prune-threshold",
                        "0", "--no-progress")
    assert code == 0 and "no pruning" in text


@pytest.mark.parametrize("argv, message", [
    (["--prune-threshold", "1.5"], "pruning threshold must be in [0, 1)"),
    (["--channels", "4,8,8"], "one value per conv layer"),
])
def test_stdp_cli_rejects_bad_settings(cli, argv, message):
    code, _, err = cli("stdp", "--no-progress", *argv)
    assert code == 2 and message in err


@pytest.mark.lava
def test_stdp_cli_checks_the_network_on_lava(cli):
    code, text, _ = cli("stdp", "--channels", "4,8", "--epochs", "0.1", "--lava-samples", "2",
                        "--no-progress")
    assert code == 0 and "Lava agrees with torch exactly" in text
