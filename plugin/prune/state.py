"""Snapshots of state dicts: torch's ``state_dict()`` hands out the live tensors, so a
checkpoint kept in memory would follow the training it was meant to freeze (and one loaded
would share its tensors with the next run). Pruning's optimisers and schedules copy instead."""

from __future__ import annotations

import torch


def snapshot(value):
    """A deep copy of nested dicts, lists and tuples, every tensor cloned (detached)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(snapshot(v) for v in value)
    return value
