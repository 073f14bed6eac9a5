"""The private Vertex AI SDK attributes the logger still needs are listed in one place and
checked on the installed SDK: an SDK update that removes one fails loudly, naming it."""
from __future__ import annotations

import pytest

from zeta_rmt.loggers.vertex import sdk


def test_private_attributes_are_listed_once_and_present_on_the_installed_sdk():
    assert sdk.PRIVATE_SDK_ATTRIBUTES, "the list of private SDK attributes is empty"
    for entry in sdk.PRIVATE_SDK_ATTRIBUTES:
        assert len(entry) == 3 and entry[1].startswith("_") and entry[2], entry
    sdk.check_sdk_compat()  # passes on the SDK this was tested with
    from google.cloud import aiplatform

    major_minor = ".".join(aiplatform.__version__.split(".")[:2])
    assert major_minor in sdk.TESTED_SDK_VERSIONS


@pytest.mark.parametrize("index", range(len(sdk.PRIVATE_SDK_ATTRIBUTES)))
def test_a_removed_private_attribute_fails_loudly_naming_it(monkeypatch, index):
    path, attr, _ = sdk.PRIVATE_SDK_ATTRIBUTES[index]
    owner = sdk._resolve(path)
    if hasattr(owner, attr):  # a module or class attribute: remove it
        monkeypatch.delattr(owner, attr)
    else:  # an instance attribute: the class's code no longer sets it
        source_of = sdk._source_of
        monkeypatch.setattr(sdk, "_source_of", lambda obj: source_of(obj).replace(f".{attr}", ".renamed"))
    with pytest.raises(sdk.SDKCompatError) as err:
        sdk.check_sdk_compat(force=True)
    msg = str(err.value)
    assert f"{path}.{attr}" in msg and "google-cloud-aiplatform" in msg
    assert any(v in msg for v in sdk.TESTED_SDK_VERSIONS)


def test_the_logger_checks_when_it_connects(fake_vertex, make_logger, monkeypatch):
    from google.cloud.aiplatform import base as aip_base

    monkeypatch.delattr(aip_base, "_DEFAULT_RETRY")
    monkeypatch.setattr(sdk, "_COMPAT_CHECKED", False)
    lg = make_logger(fake_vertex)
    lg.log_metrics({"loss": 1.0}, step=0)
    assert lg.flush(20.0) is False
    assert "_DEFAULT_RETRY" in (lg.experiment.status.disabled or "")
