"""What the snnTorch adapter's tests share."""

import pytest


@pytest.fixture
def lava_agrees():
    """check(spec, splits, n): every spike of ``n`` test samples equal between snnTorch and
    Lava, in float and in Loihi fixed point (calibrated on 200 training samples)."""
    from leanspike.adapters.lava import verify

    def check(spec, splits, n: int = 10) -> None:
        x = splits.test.tensors[0][:n]
        for backend in ("lava-float", "lava-fixed"):
            report = verify(spec, x, backend=backend,
                            calibration=splits.train.tensors[0][:200])
            assert report.agree, f"{backend}: {report}"

    return check
