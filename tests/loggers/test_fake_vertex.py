"""The fake Vertex AI server itself: generic resources, custom methods, faults, restarts."""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.fixtures.fake_vertex import FakeVertex

LOC = "projects/p/locations/europe-west4"


def call(server: FakeVertex, method: str, path: str, body=None, timeout: float = 5.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{server.endpoint}/v1/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_generic_create_get_list_patch_delete(fake_vertex):
    st, job = call(fake_vertex, "POST", f"{LOC}/customJobs", {"displayName": "j", "jobSpec": {"workerPoolSpecs": []}})
    assert st == 200 and job["name"].startswith(f"{LOC}/customJobs/") and job["state"] == "JOB_STATE_PENDING"
    fake_vertex.set_state(job["name"], "JOB_STATE_SUCCEEDED")
    assert call(fake_vertex, "GET", job["name"])[1]["state"] == "JOB_STATE_SUCCEEDED"

    st, ctx = call(fake_vertex, "POST", f"{LOC}/metadataStores/default/contexts?contextId=c1", {"displayName": "c"})
    assert st == 200 and ctx["name"] == f"{LOC}/metadataStores/default/contexts/c1"
    assert call(fake_vertex, "POST", f"{LOC}/metadataStores/default/contexts?contextId=c1", {})[0] == 409
    st, patched = call(fake_vertex, "PATCH", ctx["name"], {"metadata": {"a": 1}, "displayName": "c2"})
    assert patched["metadata"] == {"a": 1} and patched["displayName"] == "c2"
    st, listed = call(fake_vertex, "GET", f"{LOC}/metadataStores/default/contexts?filter=display_name%3D%22c2%22")
    assert [c["name"] for c in listed["contexts"]] == [ctx["name"]]
    assert call(fake_vertex, "GET", f"{LOC}/metadataStores/default/contexts?filter=display_name%3D%22x%22")[1] == {"contexts": []}
    assert call(fake_vertex, "DELETE", ctx["name"])[0] == 200
    st, err = call(fake_vertex, "GET", ctx["name"])
    assert st == 404 and err["error"]["status"] == "NOT_FOUND"
    # the default metadata store always exists; unknown custom methods say so
    assert call(fake_vertex, "GET", f"{LOC}/metadataStores/default")[0] == 200
    assert call(fake_vertex, "POST", f"{job['name']}:frobnicate", {})[0] == 501
    assert [r.method for r in fake_vertex.requests][:2] == ["POST", "GET"]


def test_time_series_write_counts_rewrites(fake_vertex):
    run = f"{LOC}/tensorboards/tb/experiments/e/runs/r"
    fake_vertex.put(f"{LOC}/tensorboards/tb")
    fake_vertex.put(f"{LOC}/tensorboards/tb/experiments/e")
    fake_vertex.put(run)
    st, ts = call(fake_vertex, "POST", f"{run}/timeSeries", {"displayName": "loss", "valueType": 1})
    tsid = ts["name"].rsplit("/", 1)[1]
    pts = [{"step": str(s), "scalar": {"value": s / 10}} for s in range(3)]
    assert call(fake_vertex, "POST", f"{run}:write", {"timeSeriesData": [{"tensorboardTimeSeriesId": tsid, "values": pts}]})[0] == 200
    call(fake_vertex, "POST", f"{run}:write", {"timeSeriesData": [{"tensorboardTimeSeriesId": tsid, "values": pts[2:]}]})
    assert fake_vertex.time_series(run) == {"loss": {0: 0.0, 1: 0.1, 2: 0.2}}
    assert fake_vertex.write_counts(run) == {"loss": {0: 1, 1: 1, 2: 2}}
    st, page = call(fake_vertex, "POST", f"{ts['name']}:exportTensorboardTimeSeries", {"pageSize": 2})
    assert [p["step"] for p in page["timeSeriesDataPoints"]] == ["0", "1"] and page["nextPageToken"] == "2"


def test_faults_status_hang_and_restart(fake_vertex):
    fake_vertex.fail_next(2, status=503, match=r"customJobs")
    assert call(fake_vertex, "POST", f"{LOC}/customJobs", {})[0] == 503
    assert call(fake_vertex, "GET", f"{LOC}/metadataStores/default")[0] == 200  # does not match
    assert call(fake_vertex, "POST", f"{LOC}/customJobs", {})[0] == 503
    assert call(fake_vertex, "POST", f"{LOC}/customJobs", {})[0] == 200
    assert len(fake_vertex.children(f"{LOC}/customJobs")) == 1

    # a hang that applies the request but loses the answer
    fake_vertex.hang_next(1, seconds=2.0, apply=True)
    t0 = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        call(fake_vertex, "POST", f"{LOC}/customJobs", {}, timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert len(fake_vertex.children(f"{LOC}/customJobs")) == 2
    # a hang that drops the request
    fake_vertex.hang_next(1, seconds=0.2, apply=False)
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        call(fake_vertex, "POST", f"{LOC}/customJobs", {})
    assert len(fake_vertex.children(f"{LOC}/customJobs")) == 2

    port = fake_vertex.port
    fake_vertex.stop()
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        call(fake_vertex, "GET", f"{LOC}/metadataStores/default", timeout=1)
    fake_vertex.start()
    assert fake_vertex.port == port
    assert len(fake_vertex.children(f"{LOC}/customJobs")) == 2  # state survives a restart


def test_sdk_custom_job_submit_and_poll(fake_vertex):
    """The reuse case: the SDK submits a CustomJob and polls it while a test moves its state."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    aiplatform.init(project="p", location="europe-west4", api_endpoint=fake_vertex.endpoint, api_transport="rest",
                    credentials=AnonymousCredentials(), staging_bucket="gs://bucket")
    job = aiplatform.CustomJob(display_name="j", worker_pool_specs=[{
        "machine_spec": {"machine_type": "g2-standard-8", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1},
        "replica_count": 1, "container_spec": {"image_uri": "image", "args": ["data=cluster"]}}])
    job.submit()
    assert job.state == aiplatform.gapic.JobState.JOB_STATE_PENDING
    fake_vertex.set_state(job.resource_name, "JOB_STATE_SUCCEEDED")
    job.wait()
    assert job.state == aiplatform.gapic.JobState.JOB_STATE_SUCCEEDED
    [submit] = fake_vertex.requests_matching("POST", r"customJobs$")
    assert submit.body["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"] == 11  # NVIDIA_L4, as an int
