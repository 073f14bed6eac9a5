"""rmt and baselines are pure science: importing them must not pull in training frameworks."""
import subprocess
import sys


def test_rmt_and_baselines_import_no_training_stack():
    code = (
        "import sys, zeta_rmt.rmt, zeta_rmt.baselines\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytorch_lightning', 'lightning', 'hydra', 'omegaconf', 'torch_geometric'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
