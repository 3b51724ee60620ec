"""The whole leanspike flow through the Python API: a trained DNN to a lean network on Lava.

    python examples/quickstart.py --registry runs/registry [--quick]

Trains the zoo's small CNN on the offline digits data with Datta & Beerel's clipped ReLU,
converts it at T=2, retrains it down to T=1 (IIR), prunes it with Grad R, moves it onto the
Loihi 2 fixed-point grid and runs it on Lava, checking it against its snnTorch twin. Every stage
is registered with its parent; running the script again reuses them.
"""

from __future__ import annotations

import argparse

from leanspike.app.pipeline import load_config, run_pipeline
from leanspike.app.pipeline.report import summary_table
from leanspike.registry import Registry


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default="runs/registry")
    parser.add_argument("--quick", action="store_true", help="a tiny run: seconds, not minutes")
    args = parser.parse_args(argv)

    # Every setting has a default; a TOML file or a dict of overrides changes any of them.
    config = load_config(quick=args.quick, overrides={"prune": {"target_sparsity": 0.9}})
    registry = Registry(args.registry)
    result = run_pipeline(config, registry, progress=False)
    print(summary_table(result))

    deployed = result.stages[-1]
    print(f"deployed {deployed.entry}: accuracy {deployed.accuracy:.4f} on Lava at "
          f"T={deployed.T}, {1 - deployed.sparsity:.1%} of the synapses, "
          f"{deployed.lava_agreement:.2%} agreement with its snnTorch twin")
    # The lineage of the deployed network, down to the ANN it came from:
    print(" <- ".join(f"{e.ref}@{e.stage}" for e in registry.lineage(deployed.entry)))
    return result


if __name__ == "__main__":
    main()
