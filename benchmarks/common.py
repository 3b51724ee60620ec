"""What every benchmark records beside its figures: the machine, the date, the command."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def write_result(path: str | os.PathLike, name: str, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def median(values):
    return statistics.median(values)


def add_common_arguments(parser, out_name: str, *, ann_epochs_flag: str = "--epochs") -> None:
    """The options every benchmark shares: where to write, what data and model, how many
    seeds, which device."""
    parser.add_argument("--out", default=str(RESULTS / out_name))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--arch", default="small_cnn")
    parser.add_argument("--model-args", default="{}", help="JSON builder arguments")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(ann_epochs_flag, type=int, default=40, dest="ann_epochs",
                        help="ANN training epochs")
    parser.add_argument("--device", default="auto")


def seed_splits(args):
    """The dataset for one seed's run (CIFAR gets crop-and-flip augmentation)."""
    from leanspike.data import load_dataset

    return load_dataset(args.dataset, args.data_dir, augment=args.dataset != "digits")


def trained_ann(args, splits, seed: int, *, activation: str = "relu",
                activation_args: dict | None = None, lr: float | None = None):
    """(model on the CPU in eval mode, test accuracy) of the zoo ANN trained for one seed."""
    import json

    from leanspike.training import TrainConfig, resolve_device, set_seed, train_ann
    from leanspike.zoo import create_model

    set_seed(seed)
    model = create_model(args.arch, num_classes=splits.info.num_classes,
                         input_shape=splits.info.input_shape, activation=activation,
                         activation_args=activation_args, **json.loads(args.model_args))
    config = TrainConfig(epochs=args.ann_epochs, seed=seed,
                         device=str(resolve_device(args.device)))
    if lr is not None:
        config.lr = lr
    result = train_ann(model, splits, config, progress=False)
    return model.cpu().eval(), result.test_accuracy
