"""The model zoo: conversion-friendly architectures by name, BN folding, pickle-free files."""

from leanspike.zoo import models as _models  # noqa: F401  (registers the builders)
from leanspike.zoo.batchnorm import fold_batch_norm
from leanspike.zoo.builders import create_model, list_models, model_entry, register_model
from leanspike.zoo.checkpoint import load_model, save_model

__all__ = [
    "create_model",
    "fold_batch_norm",
    "list_models",
    "load_model",
    "model_entry",
    "register_model",
    "save_model",
]
