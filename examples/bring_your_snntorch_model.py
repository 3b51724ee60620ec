"""Your snnTorch model, as you wrote it, retrained to T=1, pruned and run on Lava.

    python examples/bring_your_snntorch_model.py --shape tutorial-class [--epochs 4]

Models written the way snnTorch's tutorials write them, trained the snnTorch way (Adam,
``snntorch.functional.ce_rate_loss``, ``utils.reset`` between batches):

- ``avg-pool``: ``nn.Sequential(Conv2d, AvgPool2d, Leaky(init_hidden=True), ...)``
- ``max-pool``: the convolutional tutorial's ``Conv2d -> MaxPool2d -> Leaky``
- ``batch-norm``: ``Conv2d -> BatchNorm2d -> Leaky`` with Dropout
- ``tutorial-class``: ``class Net(nn.Module)`` with ``fc1, lif1, fc2, lif2`` and a
  ``for step in range(num_steps)`` loop keeping ``mem = lif.init_leaky()``
- ``synaptic-class``: the same class with current-based ``snn.Synaptic`` neurons, keeping
  ``syn, mem = lif.reset_mem()`` and ``spk, syn, mem = lif(cur, syn, mem)``
- ``lapicque``: ``Conv2d -> Lapicque(R, C) -> AvgPool2d``, ``Linear -> Lapicque(beta)``

leanspike reads each model's computation (not its container), retrains it from the user's T
down to T=1 with IIR, prunes 90% of its synapses with Grad R, and runs the result on Lava in
Loihi 2 fixed point, checking every spike against snnTorch. None of the models is rewritten.
"""

from __future__ import annotations

import argparse
import warnings

import snntorch as snn
import snntorch.functional as SF
import torch
from snntorch import utils
from torch import nn
from torch.utils.data import DataLoader

from leanspike.adapters.snntorch import adopt, evaluate_snn, prune, retrain
from leanspike.data import load_dataset

num_steps = 4  # the users' own T
beta = 0.9


def leaky(**kwargs) -> snn.Leaky:
    return snn.Leaky(beta=beta, init_hidden=True, spike_grad=snn.surrogate.fast_sigmoid(),
                     **kwargs)


def avg_pool_model() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.AvgPool2d(2), leaky(),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10), leaky(output=True))


def max_pool_model() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), leaky(),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10), leaky(output=True))


def batch_norm_model() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), leaky(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.1),
                         nn.Linear(8 * 4 * 4, 10), leaky(output=True))


class Net(nn.Module):
    """snnTorch tutorial 5's network, for 8x8 digits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(64, 10)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for _step in range(num_steps):
            cur1 = self.fc1(x.view(x.size(0), -1))
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


class SynapticNet(nn.Module):
    """Tutorial 5's network with snnTorch's current-based neuron (tutorial 2's snn.Synaptic)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.lif1 = snn.Synaptic(alpha=0.8, beta=beta)
        self.fc2 = nn.Linear(64, 10)
        self.lif2 = snn.Synaptic(alpha=0.8, beta=beta)

    def forward(self, x):
        syn1, mem1 = self.lif1.reset_mem()
        syn2, mem2 = self.lif2.reset_mem()
        spk2_rec, mem2_rec = [], []
        for _step in range(num_steps):
            spk1, syn1, mem1 = self.lif1(self.fc1(x.view(x.size(0), -1)), syn1, mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


def lapicque_model() -> nn.Sequential:
    grad = snn.surrogate.fast_sigmoid()
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        snn.Lapicque(R=5.0, C=2.0, time_step=1.0, init_hidden=True, spike_grad=grad),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10),
        snn.Lapicque(beta=beta, init_hidden=True, output=True, spike_grad=grad))


SHAPES = {"avg-pool": avg_pool_model, "max-pool": max_pool_model,
          "batch-norm": batch_norm_model, "tutorial-class": Net,
          "synaptic-class": SynapticNet, "lapicque": lapicque_model}


def output_spikes(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[T, B, classes], the way each model's user runs it."""
    if isinstance(model, (Net, SynapticNet)):
        return model(x)[0]
    utils.reset(model)  # init_hidden neurons keep their state between calls
    return torch.stack([model(x)[0] for _ in range(num_steps)])


def train_the_snntorch_way(model: nn.Module, splits, epochs: int) -> float:
    """What the user already did; returns their test accuracy (spike counts)."""
    loss_fn = SF.ce_rate_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    loader = DataLoader(splits.train, batch_size=64, shuffle=True)
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            loss = loss_fn(output_spikes(model, x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    x, y = splits.test.tensors
    with torch.no_grad():
        return float((output_spikes(model, x).sum(0).argmax(1) == y).float().mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=SHAPES, default="tutorial-class")
    parser.add_argument("--epochs", type=int, default=10, help="the user's training epochs")
    parser.add_argument("--retrain-epochs", type=int, default=10, help="per IIR stage")
    parser.add_argument("--prune-epochs", type=int, default=30)
    parser.add_argument("--lava-samples", type=int, default=50)
    args = parser.parse_args(argv)

    splits = load_dataset("digits")
    torch.manual_seed(0)
    model = SHAPES[args.shape]()
    users = train_the_snntorch_way(model, splits, args.epochs)
    print(f"{args.shape}: the user's accuracy at T={num_steps} (spike counts): {users:.4f}")

    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", RuntimeWarning)
        adopted = adopt(model, (1, 8, 8), num_steps)
        retrained = retrain(model, splits.train, splits.test, schedule=(num_steps, 2, 1),
                            epochs_per_stage=args.retrain_epochs, progress=False)
    for note in {str(n.message) for n in notes}:
        print(f"note: {note}")
    print(f"adopted at T={num_steps}: {evaluate_snn(adopted, splits.test).accuracy:.4f}; "
          + ", ".join(f"T={s.timesteps} {s.accuracy:.4f}" for s in retrained.stages))
    pruned = prune(retrained.network, splits.train, splits.test, target_sparsity=0.9,
                   epochs=args.prune_epochs, progress=False)
    print(f"pruned: {pruned.sparsity:.1%} of synapses removed, accuracy {pruned.accuracy:.4f}")

    from leanspike.adapters.lava import run, verify  # the lava extra, Python 3.10

    x, y = splits.test.tensors[0][:args.lava_samples], splits.test.tensors[1][:args.lava_samples]
    calibration = splits.train.tensors[0]
    report = verify(pruned.spec, x, backend="lava-fixed", calibration=calibration)
    print(report)
    on_lava = run(pruned.spec, x, "lava-fixed", calibration=calibration)
    accuracy = float((on_lava.predictions == y).float().mean())
    print(f"on Lava (Loihi 2 fixed point): accuracy {accuracy:.4f} on {len(x)} test samples")
    return users, retrained, pruned, report


if __name__ == "__main__":
    main()
