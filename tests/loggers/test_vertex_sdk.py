"""bounded_calls: timeouts and no SDK retries inside the scope, the SDK unchanged outside."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from zeta_rmt.loggers.vertex.sdk import Target, TransientError, VertexRun, bounded_calls, classify


def test_bounded_calls_only_inside_the_scope(fake_vertex):
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud import aiplatform

    url = f"{fake_vertex.endpoint}/v1/projects/p/locations/l/metadataStores/default"
    session = AuthorizedSession(AnonymousCredentials())
    with bounded_calls(0.3):
        fake_vertex.hang_next(1, seconds=1.0, apply=True)
        t0 = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(url, timeout=None)
        assert time.monotonic() - t0 < 0.9
    fake_vertex.hang_next(1, seconds=0.5, apply=True)  # outside: the caller's (absent) timeout stands
    assert session.get(url, timeout=None).status_code == 200

    # other threads are not affected by a scope entered here
    seen = {}
    with bounded_calls(0.3):
        fake_vertex.hang_next(1, seconds=0.5, apply=True)
        th = threading.Thread(target=lambda: seen.setdefault("status", session.get(url, timeout=None).status_code))
        th.start()
        th.join(5)
    assert seen == {"status": 200}

    # the SDK's own GET retries: kept outside the scope, off inside
    aiplatform.init(project="p", location="europe-west4", api_endpoint=fake_vertex.endpoint, api_transport="rest",
                    credentials=AnonymousCredentials())
    fake_vertex.fail_next(1, status=503)
    aiplatform.Experiment.get_or_create("outside")  # retried by the SDK, succeeds
    run = VertexRun(Target("p", "europe-west4", "inside", "r", api_endpoint=fake_vertex.endpoint))
    fake_vertex.fail_next(1, status=503)
    with bounded_calls(1.0), pytest.raises(TransientError, match="503"):
        run.connect()
    with bounded_calls(1.0):
        run.connect()
    assert run.connected and not run.has_tensorboard


def test_errors_are_classified():
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    t = Target("p", "europe-west4", "e", "r")
    assert isinstance(classify(gexc.ServiceUnavailable("x"), t), TransientError)
    assert isinstance(classify(gexc.TooManyRequests("x"), t), TransientError)
    assert isinstance(classify(requests.exceptions.ConnectTimeout("x"), t), TransientError)
    assert "europe-west4-aiplatform.googleapis.com" in str(classify(requests.exceptions.ConnectionError("x"), t))
    denied = classify(gexc.PermissionDenied("nope"), t)
    assert not isinstance(denied, TransientError)
    assert "aiplatform.googleapis.com" in str(denied) and "roles/aiplatform.user" in str(denied)
    assert "gcloud auth application-default login" in str(classify(auth_exc.DefaultCredentialsError("x"), t))
    assert not isinstance(classify(gexc.InvalidArgument("bad"), t), TransientError)
