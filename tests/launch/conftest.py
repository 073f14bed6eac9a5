"""Fixtures for the Vertex AI launch tests: the fake Vertex AI REST server and the GCS emulator
(both shared fixtures of tests/fixtures), and fixed cloud settings."""
from __future__ import annotations

import pytest

from tests.fixtures.fake_vertex import FakeVertex, fake_vertex  # noqa: F401  (fixture)
from tests.fixtures.gcs_emulator import gcs_emulator  # noqa: F401  (fixture)

PROJECT, LOCATION = "zeta-proj", "europe-west4"
IMAGE = "europe-west4-docker.pkg.dev/zeta-proj/zeta-rmt/train:test"
BUCKET = "gs://zeta-bucket/runs"
SA = "zeta-rmt-trainer@zeta-proj.iam.gserviceaccount.com"
CLOUD = [f"cloud.project={PROJECT}", f"cloud.location={LOCATION}", f"cloud.base_output_dir={BUCKET}",
         f"cloud.image_uri={IMAGE}", f"cloud.service_account={SA}"]


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch):
    """Environment defaults of configs/cloud/default.yaml must not leak in from the machine."""
    for var in ("GOOGLE_CLOUD_PROJECT", "ZETA_RMT_BASE_OUTPUT_DIR", "ZETA_RMT_IMAGE_URI", "AIP_MODEL_DIR",
                "CLOUD_ML_TRIAL_ID", "CLOUD_ML_HP_METRIC_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _reset_hydra_globals():
    """Tests here run Hydra apps in-process; leave no Hydra job config behind for later tests
    (code that names runs after the current Hydra job would see it)."""
    yield
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None


def cloud_for(server: FakeVertex) -> list[str]:
    return CLOUD + [f"cloud.api_endpoint={server.endpoint}", "cloud.poll_interval_s=0.05"]
