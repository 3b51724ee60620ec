import dataclasses
import inspect

import pytest

from leanspike.adapters.snntorch import pruning
from leanspike.errors import ConfigError
from leanspike.prune import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    METHODS,
    REWIRING,
    SCHEDULES,
    PruneRecipe,
    RewiringSchedule,
)


def test_prune_keywords_and_the_recipe_share_their_defaults():
    # the CLI reads prune()'s keyword defaults; the recipe is what runs: they must agree
    keywords = inspect.signature(pruning.prune).parameters
    fields = dataclasses.fields(PruneRecipe)
    for f in fields:
        assert keywords[f.name].default == f.default, f.name
    assert PruneRecipe().epochs == DEFAULT_EPOCHS == keywords["epochs"].default == 200
    assert (pruning.METHODS, pruning.REWIRING, pruning.DEFAULT_LR, pruning.DEFAULT_EPOCHS) == \
        (METHODS, REWIRING, DEFAULT_LR, DEFAULT_EPOCHS)


def test_every_method_has_a_schedule_and_a_default_learning_rate():
    assert set(SCHEDULES) == set(METHODS) == set(DEFAULT_LR)
    assert {m for m in METHODS if issubclass(SCHEDULES[m], RewiringSchedule)} == set(REWIRING)
    for method in METHODS:
        assert PruneRecipe(method=method).rewiring == (method in REWIRING)


def test_learning_rates_resolve_to_the_methods_default_and_the_registry_records_them():
    recipe = PruneRecipe(method="stds")
    assert recipe.lr is None and recipe.resolved_lr == DEFAULT_LR["stds"]
    assert recipe.resolved_finetune_lr == recipe.resolved_lr
    tuned = dataclasses.replace(recipe, lr=3e-3, finetune_lr=1e-4)
    assert (tuned.resolved_lr, tuned.resolved_finetune_lr) == (3e-3, 1e-4)
    params = tuned.params()
    assert params == {"method": "stds", "target_sparsity": 0.95, "epochs": 200, "lr": 3e-3,
                      "finetune_lr": 1e-4, "allocation": "balanced", "alpha": "auto",
                      "scope": "global", "schedule": "iterative", "finetune_fraction": 0.5,
                      "distill": 0.7, "distill_temperature": 4.0, "cosine": True, "seed": 0}


@pytest.mark.parametrize("settings, message", [
    ({"method": "lottery"}, "unknown pruning method 'lottery'"),
    ({"finetune_fraction": 1.0}, r"finetune_fraction must be in \[0, 1\)"),
    ({"schedule": "linear"}, "schedule must be 'iterative' or 'oneshot'"),
    ({"distill": 1.5}, r"distill must be in \[0, 1\]"),
    ({"distill_temperature": 0.0}, "distill_temperature must be > 0"),
    ({"target_sparsity": 1.0}, r"target sparsity must be in \[0, 1\)"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"allocation": "erk"}, "unknown allocation 'erk'"),
    ({"scope": "channel"}, "scope must be 'global' or 'layer'"),
])
def test_bad_settings_fail_on_construction(settings, message):
    with pytest.raises(ConfigError, match=message):
        PruneRecipe(**settings)


def test_no_temperature_is_needed_without_distillation():
    assert PruneRecipe(distill=0.0, distill_temperature=0.0).distill == 0.0
