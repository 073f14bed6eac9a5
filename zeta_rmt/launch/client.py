"""Submitting and polling Vertex AI jobs with the ``google-cloud-aiplatform`` SDK's v1 client
(``aiplatform_v1.JobServiceClient``, REST transport), imported lazily.

The proto sent is exactly the one ``--dry-run`` prints. ``cloud.api_endpoint`` points the
client elsewhere (a local fake in tests: ``http://127.0.0.1:PORT``, anonymous credentials);
by default it talks to ``https://<location>-aiplatform.googleapis.com`` with Application
Default Credentials.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from omegaconf import DictConfig

from zeta_rmt.launch.spec import LaunchError, require_sdk

__all__ = ["JobRef", "TERMINAL_STATES", "make_client", "submit", "get_state", "wait"]

TERMINAL_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
                   "JOB_STATE_PARTIALLY_SUCCEEDED"}
REQUEST_TIMEOUT_S = 60.0


@dataclass
class JobRef:
    name: str   # projects/P/locations/L/customJobs/ID (or hyperparameterTuningJobs/ID)
    kind: str   # "custom" | "hpt"
    output_dir: str

    @property
    def console_url(self) -> str:
        parts = self.name.split("/")
        project, location, job = parts[1], parts[3], parts[-1]
        path = "training/custom-jobs" if self.kind == "custom" else "training/hyperparameter-tuning-jobs"
        return f"https://console.cloud.google.com/vertex-ai/locations/{location}/{path}/{job}?project={project}"


def _credentials(cloud: DictConfig, endpoint: str | None):
    mode = str(cloud.get("credentials") or "auto").lower()
    if mode not in ("auto", "adc", "anonymous"):
        raise LaunchError(f"cloud.credentials={mode!r}: expected auto, adc or anonymous")
    if mode == "anonymous" or (mode == "auto" and endpoint and endpoint.startswith("http://")):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError as exc:
        raise LaunchError("no Google Cloud credentials: run `gcloud auth application-default login` (or set "
                          f"GOOGLE_APPLICATION_CREDENTIALS to a service-account key file). ({exc})") from exc
    return creds


def make_client(cloud: DictConfig):
    """A ``JobServiceClient`` for ``cloud.location`` (or ``cloud.api_endpoint``), REST transport."""
    v1 = require_sdk()
    from google.api_core.client_options import ClientOptions

    endpoint = cloud.get("api_endpoint") or f"{cloud.location}-aiplatform.googleapis.com"
    return v1.JobServiceClient(credentials=_credentials(cloud, cloud.get("api_endpoint")), transport="rest",
                               client_options=ClientOptions(api_endpoint=str(endpoint)))


def _call(what: str, endpoint: str, fn: Callable, *args, **kwargs):
    from google.api_core import exceptions as gexc

    try:
        return fn(*args, timeout=REQUEST_TIMEOUT_S, **kwargs)
    except (gexc.PermissionDenied, gexc.Forbidden, gexc.Unauthorized) as exc:
        raise LaunchError(f"{what}: permission denied by Vertex AI ({exc.message}). The caller needs "
                          f"roles/aiplatform.user (and roles/iam.serviceAccountUser on cloud.service_account).") from exc
    except gexc.NotFound as exc:
        raise LaunchError(f"{what}: not found ({exc.message}); check cloud.project and cloud.location, and that the "
                          f"Vertex AI API is enabled (gcloud services enable aiplatform.googleapis.com)") from exc
    except gexc.GoogleAPICallError as exc:
        raise LaunchError(f"{what}: Vertex AI answered {exc.code} {exc.message}") from exc
    except gexc.RetryError as exc:
        raise LaunchError(f"{what}: Vertex AI at {endpoint} did not answer ({exc.cause or exc})") from exc
    except Exception as exc:  # requests' ConnectionError, timeouts, TLS failures
        if type(exc).__module__.startswith(("requests", "urllib3", "google.auth")) or isinstance(exc, OSError):
            raise LaunchError(f"{what}: cannot reach Vertex AI at {endpoint} ({type(exc).__name__}: {exc})") from exc
        raise


def _parent(cloud: DictConfig) -> str:
    return f"projects/{cloud.project}/locations/{cloud.location}"


def submit(cloud: DictConfig, job, client=None) -> JobRef:
    """Create the job (one POST); returns its resource name."""
    v1 = require_sdk()
    client = client or make_client(cloud)
    endpoint = str(cloud.get("api_endpoint") or f"{cloud.location}-aiplatform.googleapis.com")
    if isinstance(job, v1.HyperparameterTuningJob):
        created = _call("creating the hyperparameter tuning job", endpoint, client.create_hyperparameter_tuning_job,
                        parent=_parent(cloud), hyperparameter_tuning_job=job)
        out = job.trial_job_spec.base_output_directory.output_uri_prefix
        return JobRef(created.name, "hpt", out)
    created = _call("creating the custom job", endpoint, client.create_custom_job, parent=_parent(cloud), custom_job=job)
    return JobRef(created.name, "custom", job.job_spec.base_output_directory.output_uri_prefix)


def get_state(cloud: DictConfig, ref: JobRef, client=None) -> tuple[str, str]:
    """``(state name, error message)`` of a submitted job."""
    client = client or make_client(cloud)
    endpoint = str(cloud.get("api_endpoint") or f"{cloud.location}-aiplatform.googleapis.com")
    get = client.get_custom_job if ref.kind == "custom" else client.get_hyperparameter_tuning_job
    job = _call(f"reading {ref.name}", endpoint, get, name=ref.name)
    return job.state.name, (job.error.message if job.error and job.error.message else "")


def wait(cloud: DictConfig, refs: list[JobRef], poll_interval_s: float | None = None, timeout_s: float | None = None,
         client=None, echo: Callable[[str], None] = print) -> dict[str, tuple[str, str]]:
    """Poll until every job is in a terminal state; returns ``{name: (state, error)}``. Prints
    each state change."""
    client = client or make_client(cloud)
    interval = float(poll_interval_s if poll_interval_s is not None else cloud.get("poll_interval_s", 30))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    done: dict[str, tuple[str, str]] = {}
    while True:
        for ref in refs:
            if ref.name in done:
                continue
            state, error = get_state(cloud, ref, client)
            if seen.get(ref.name) != state:
                echo(f"[zeta_rmt.launch] {ref.name}: {state}" + (f" ({error})" if error else ""))
                seen[ref.name] = state
            if state in TERMINAL_STATES:
                done[ref.name] = (state, error)
        if len(done) == len(refs):
            return done
        if deadline is not None and time.monotonic() > deadline:
            raise LaunchError(f"timed out after {timeout_s} s waiting for {len(refs) - len(done)} job(s): "
                              + ", ".join(f"{n} {s}" for n, s in seen.items() if n not in done))
        time.sleep(interval)
