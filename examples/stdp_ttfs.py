"""Learn a time-to-first-spike network with STDP on digits, pruning connections while it
learns, save it, and run it on Lava.

    python examples/stdp_ttfs.py [--out runs/stdp_ttfs] [--lava-samples 10]

No labels are used until the readout: the conv layers learn with unsupervised STDP, one
after the other, and synapses whose weight falls below the pruning threshold are removed for
good as they learn, so the rest of learning and every inference skip them. A linear SVM reads
the last layer's first spikes. Lava (lava-nc 0.10, Python 3.10) then runs the saved network
and must fire every neuron at the step torch does.
"""

from __future__ import annotations

import argparse
import dataclasses

from leanspike.stdp import Pruning, STDPConfig, encode, load_ttfs, run_stdp
from leanspike.stdp.workflow import load_images


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/stdp_ttfs")
    parser.add_argument("--prune-threshold", type=float, default=Pruning().threshold)
    parser.add_argument("--channels", default="16,64", help="feature maps per conv layer")
    parser.add_argument("--epochs", type=float, help="at most this many passes per layer")
    parser.add_argument("--lava-samples", type=int, default=10, help="0: skip Lava")
    args = parser.parse_args(argv)

    config = STDPConfig(channels=tuple(int(c) for c in args.channels.split(",")),
                        pruning=Pruning(threshold=args.prune_threshold))
    if args.epochs:
        config = dataclasses.replace(config, max_epochs=(args.epochs,) * len(config.channels))
    data = load_images("digits")                      # intensities in [0, 1], offline
    result = run_stdp(config, seed=0, data=data)      # encode, learn, read out, measure
    for c, layer in zip(result.connectivity, result.learning.layers):
        print(f"{c.name}: {c.alive}/{c.total} weights alive ({c.connectivity:.1%}) after "
              f"{layer.samples} samples, {layer.updates:,} synaptic updates")
    print(f"readout accuracy {result.accuracy:.4f}; {result.inference_events:.0f} synaptic "
          f"events per test sample; learned in {result.learning.seconds:.1f} s")

    path = result.network.save(args.out)             # ttfs.json + weights.safetensors
    network = load_ttfs(path)
    if args.lava_samples:
        from leanspike.adapters.lava.ttfs import verify_ttfs

        report = verify_ttfs(network, encode(data[2][:args.lava_samples], config))
        print(f"Lava: {report}")
    return result


if __name__ == "__main__":
    main()
