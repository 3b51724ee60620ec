"""GPU check: VGG16 training throughput (leanspike, SpikingJelly, snnTorch), the pipeline on CUDA.

    python benchmarks/gpu_check.py                       # on a GPU, about 5 minutes
    python benchmarks/gpu_check.py --device cpu --tiny   # the same script, seconds (tests)

1. Training throughput at CIFAR shape (3x32x32, random tensors, 10 classes) of the zoo's VGG16
   at T = 1, 2, 4, as ``train_speed.py`` measures it (same network in every framework,
   interleaved rounds, median samples/s): leanspike, its step loop, snnTorch and SpikingJelly.
2. ``leanspike pipeline --quick --device cuda`` on digits in a fresh registry: the ANN,
   conversion, retraining and pruning on the GPU; fixed point and Lava stay on the CPU (Lava
   has no GPU back-end): the run must end with rc 0 and a deployed stage.

Writes JSON (``--out``, default benchmarks/results/gpu_check.json) and prints a summary.
``--tiny``: VGG16 at width 1/16, batch 4, T = 1, 2, one short round each, and the pipeline with
one epoch per stage on 10 deployed samples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
import torch  # noqa: E402
import train_speed  # noqa: E402

TINY_PIPELINE = """\
[ann]
epochs = 1
[convert]
finetune_epochs = 1
[retrain]
epochs_per_stage = 1
[prune]
epochs = 1
sweep = []
[deploy]
limit = 10
"""


def throughput(args, device) -> list[dict]:
    ns = SimpleNamespace(batch=args.batch, repeats=args.repeats, min_seconds=args.min_seconds,
                         model_args=json.dumps({"width": 1 / 16, "hidden": [256]})
                         if args.tiny else "{}")
    frameworks = tuple(args.frameworks.split(","))
    return [train_speed.measure_row("vgg16", int(t), ns, device, frameworks)
            for t in args.timesteps.split(",")]


def pipeline(args, workdir: Path) -> dict:
    """``leanspike pipeline --quick`` in a subprocess on ``args.device``; rc, seconds, what it
    printed last and which stages it registered."""
    command = [sys.executable, "-c", "from leanspike.app.cli import main; "
               "raise SystemExit(main())", "pipeline", "--quick", "--device", args.device,
               "--registry", str(workdir / "registry"), "--out", str(workdir / "run"),
               "--no-progress"]
    if args.tiny:
        config = workdir / "tiny.toml"
        config.write_text(TINY_PIPELINE)
        command += ["--config", str(config)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=args.pipeline_timeout)
        rc, out = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        parts = (exc.stdout, exc.stderr)
        rc = 124
        out = "".join(p.decode(errors="replace") if isinstance(p, bytes) else (p or "")
                      for p in parts) + "\n(timed out)"
    seconds = time.perf_counter() - start
    run_dir = workdir / "run"
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()) \
        if run_dir.exists() else []
    stages = []
    if (run_dir / "summary.json").exists():  # each stage's scalar figures
        doc = json.loads((run_dir / "summary.json").read_text())
        stages = [{k: v for k, v in st.items() if isinstance(v, (str, int, float, type(None)))}
                  for st in doc.get("stages", [])]
    # the last stage runs the deployed fixed-point network on Lava (on the CPU)
    deployed = any("lava" in str(v).lower() for st in stages[-1:] for v in st.values())
    shown = " ".join(command[3:])
    return {"command": f"leanspike {shown}", "rc": rc, "seconds": seconds,
            "deployed": deployed, "ok": rc == 0 and deployed, "stages": stages,
            "run_files": files[:50],
            "output_tail": out[-3000:]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(common.RESULTS / "gpu_check.json"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true",
                        help="VGG16 at width 1/16, batch 4, T=1,2; a 1-epoch pipeline")
    parser.add_argument("--timesteps")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--min-seconds", type=float)
    parser.add_argument("--frameworks", default="leanspike,leanspike_step,snntorch,spikingjelly")
    parser.add_argument("--pipeline-timeout", type=float, default=300)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    tiny = {"timesteps": "1,2", "batch": 4, "repeats": 1, "min_seconds": 0.05}
    full = {"timesteps": "1,2,4", "batch": 64, "repeats": 3, "min_seconds": 2.0}
    for k, v in (tiny if args.tiny else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --device cpu --tiny for the CPU check")
        torch.backends.cudnn.benchmark = True
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    records = throughput(args, device)
    with tempfile.TemporaryDirectory() as tmp:
        result = None if args.skip_pipeline else pipeline(args, Path(tmp))
    from importlib.metadata import PackageNotFoundError, version
    try:
        sj = version("spikingjelly")
    except PackageNotFoundError:
        sj = None
    payload = {"device": str(device), "tiny": args.tiny, "repeats": args.repeats,
               "min_seconds": args.min_seconds, "frameworks": args.frameworks.split(","),
               "threads": torch.get_num_threads(), "spikingjelly": sj,
               "gpu_memory_gib": (torch.cuda.get_device_properties(device).total_memory / 2**30
                                  if device.type == "cuda" else None),
               "max_memory_allocated_gib": (torch.cuda.max_memory_allocated(device) / 2**30
                                            if device.type == "cuda" else None),
               "records": records, "pipeline": result, "seconds": time.perf_counter() - start,
               "load_average": {"start": load_start, "end": os.getloadavg()[0]}}
    path = common.write_result(args.out, "gpu_check", payload)
    print(f"\nGPU check on {device} ({common.machine()['gpu'] or 'no GPU'}), "
          f"{'tiny' if args.tiny else 'full'}:")
    for r in records:
        print(f"  vgg16 T={r['T']} batch {r['batch']}: " + ", ".join(
            f"{f} {v:.1f}" for f, v in r["median"].items()) + " samples/s")
    if result is not None:
        print(f"  pipeline: rc {result['rc']}, {result['seconds']:.0f} s, "
              f"{'ok' if result['ok'] else 'FAILED'}")
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
