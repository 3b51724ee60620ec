"""The command line offers what the library does: choices are the library's constants and the
defaults it shows are the defaults of the functions it calls."""

import inspect

import pytest

from leanspike.adapters.snntorch import convert, prune, retrain
from leanspike.adapters.snntorch.pruning import DEFAULT_LR, METHODS
from leanspike.app.cli import build_parser
from leanspike.loihi.backends import LAVA_BACKENDS, NETX


def _subparser(command: str):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command]


def _option(command: str, flag: str):
    return next(a for a in _subparser(command)._actions if flag in a.option_strings)


def _default(function, name):
    return inspect.signature(function).parameters[name].default


def test_every_pruning_method_is_offered_and_stds_parses():
    assert set(_option("prune", "--method").choices) == set(METHODS) >= {"gradr", "stds",
                                                                         "magnitude"}
    args = build_parser().parse_args(["prune", "--snn", "x", "--method", "stds"])
    assert args.method == "stds"


@pytest.mark.parametrize(("command", "flag", "function", "parameter"), [
    ("prune", "--epochs", prune, "epochs"),
    ("prune", "--sparsity", prune, "target_sparsity"),
    ("prune", "--method", prune, "method"),
    ("retrain", "--epochs-per-stage", retrain, "epochs_per_stage"),
    ("retrain", "--lr", retrain, "lr"),
    ("retrain", "--surrogate", retrain, "surrogate"),
    ("convert", "--method", convert, "method"),
    ("convert", "--timesteps", convert, "timesteps"),
    ("convert", "--surrogate", convert, "surrogate"),
])
def test_defaults_are_the_library_defaults(command, flag, function, parameter):
    option = _option(command, flag)
    assert option.default == _default(function, parameter)
    assert f"default {option.default}" in option.help.replace("%(default)s",
                                                               str(option.default))


def test_prune_help_states_each_methods_learning_rate():
    text = _option("prune", "--lr").help
    for method, lr in DEFAULT_LR.items():
        assert f"{lr:g} for {method}" in text


def test_retrain_schedule_default_is_retrains():
    assert _option("retrain", "--schedule").default == ",".join(
        map(str, _default(retrain, "schedule")))


def test_lava_backends_come_from_the_core_table():
    assert set(_option("run-lava", "--backend").choices) == {*LAVA_BACKENDS, NETX}
    assert "lava-fixed" in _option("deploy", "--backend").choices


def test_building_the_parser_imports_no_lava():
    import subprocess
    import sys

    code = ("import sys; from leanspike.app.cli import build_parser; build_parser(); "
            "print(any(m == 'lava' or m.startswith('lava.') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
