"""hardware.matmul_precision: TF32 on the GPU profiles only where it keeps the spacings."""
import pytest
import torch

from tests.conftest import compose_config
from zeta_rmt.train import apply_matmul_precision
from zeta_rmt.utils.errors import ConfigError


@pytest.fixture(autouse=True)
def _restore():
    before = torch.get_float32_matmul_precision()
    yield
    torch.set_float32_matmul_precision(before)


@pytest.mark.parametrize("overrides,want", [
    (["hardware=a100"], "highest"),                        # raw gamma: TF32's 2^-11 rounding is ~500 at 1e6
    (["hardware=a100", "data.target=residual"], "high"),   # O(1) outputs: TF32 tensor cores
    (["hardware=l4", "data=cluster", "data.target=spacing"], "high"),
    (["hardware=cpu"], "highest"),
    (["hardware=a100", "data.target=residual", "hardware.matmul_precision=highest"], "highest"),
])
def test_auto_matmul_precision(tmp_path, overrides, want):
    cfg = compose_config(overrides, output_dir=tmp_path)
    assert apply_matmul_precision(cfg) == want
    assert torch.get_float32_matmul_precision() == want


def test_bad_matmul_precision(tmp_path):
    cfg = compose_config(["hardware=a100", "hardware.matmul_precision=tf32"], output_dir=tmp_path)
    with pytest.raises(ConfigError, match="hardware.matmul_precision"):
        apply_matmul_precision(cfg)
