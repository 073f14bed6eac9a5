"""Training reads its zeros from every kind of source (issue: zeros at any scale)."""
import numpy as np
import pytest

from tests.conftest import compose_config
from tests.fixtures.gcs_emulator import gcs_emulator, gcs_filesystem, make_bucket  # noqa: F401  (fixture)
from zeta_rmt.train import train
from zeta_rmt.zeros import load_zeros
from zeta_rmt.zeros.sharded import generate_dataset

FAST = ("debug=fast", "trainer.max_epochs=1", "print_summary=false", "model.baselines=[smooth]")


def _reference_run(tmp_path):
    """The same run on Odlyzko's table, in its own folder (a shared folder would auto-resume)."""
    return train(compose_config(FAST, output_dir=tmp_path / "reference"))


def test_training_on_a_generated_sharded_dataset(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "shards"
    generate_dataset(str(out), 1, 450, 200, progress=False)
    np.testing.assert_allclose(load_zeros(str(out), 1, 420), load_zeros("odlyzko", 1, 420), atol=1e-8)
    r = train(make_cfg(*FAST, f"data.source={out}"))
    ref = _reference_run(tmp_path)
    assert ref["epochs"] == r["epochs"] == 1
    # same zeros (to 1e-8) and same seed: the same training result as the table gives
    assert r["final"]["extrap/baseline/smooth/mae"] == pytest.approx(ref["final"]["extrap/baseline/smooth/mae"], rel=1e-6)
    assert r["final"]["extrap/mse"] == pytest.approx(ref["final"]["extrap/mse"], rel=1e-3)
    assert r["data"]["source"] == str(out)


def test_training_on_a_gcs_text_file(make_cfg, gcs_emulator):  # noqa: F811
    bucket = make_bucket("zeros-bucket")
    fs = gcs_filesystem()
    with fs.open(f"{bucket}/zeta_zeros_10k.txt", "w") as f:
        f.write("\n".join(f"{g:.9f}" for g in load_zeros("odlyzko", 1, 500)) + "\n")
    r = train(make_cfg(*FAST, f"data.source={bucket}/zeta_zeros_10k.txt"))
    assert r["status"] == "completed" and r["data"]["source"].startswith("gs://")


def test_source_too_short_names_the_keys(make_cfg, tmp_path):
    path = tmp_path / "few.txt"
    path.write_text("\n".join(f"{g:.9f}" for g in load_zeros("odlyzko", 1, 100)) + "\n")
    with pytest.raises(Exception, match=r"data.source=.*few.txt' holds zeros 1\.\.100, but data.num_zeros=400 "):
        train(make_cfg(*FAST, f"data.source={path}"))
