"""The training image, without a Docker engine: the Dockerfile parses, its base image is a build
argument, its entry point is the training module, it installs the package with the gcp extra,
.dockerignore keeps what the image needs, and the build-and-push script builds the right commands."""
from __future__ import annotations

import configparser
import fnmatch
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: comments dropped, '\\' continuations joined."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        assert word.upper() in INSTRUCTIONS and word == word.upper(), f"not a Dockerfile instruction: {buf!r}"
        out.append((word, rest.strip()))
        buf = ""
    assert not buf, "dangling line continuation at the end"
    return out


def test_dockerfile_parses_with_build_arg_base_and_training_entrypoint():
    steps = parse_dockerfile((ROOT / "docker" / "Dockerfile").read_text())
    words = [w for w, _ in steps]
    first_from = words.index("FROM")
    pre_args = dict(a.split("=", 1) for w, a in steps[:first_from] if w == "ARG")
    assert "BASE_IMAGE" in pre_args and steps[first_from][1] == "${BASE_IMAGE}"
    assert pre_args["BASE_IMAGE"] == "python:3.11-slim"  # the Python CI tests (see the torch pin test)
    assert words.count("FROM") == 1 and words[-1] == "ENTRYPOINT"
    entry = json.loads(steps[-1][1])
    assert entry == ["python", "-m", "zeta_rmt.train"]
    spec = importlib.util.find_spec(entry[2])
    assert spec is not None and Path(spec.origin).resolve() == ROOT / "zeta_rmt" / "train.py"
    assert "__main__" in (ROOT / "zeta_rmt" / "train.py").read_text()


def test_install_line_names_the_package_extras():
    steps = parse_dockerfile((ROOT / "docker" / "Dockerfile").read_text())
    args = dict(a.split("=", 1) for w, a in steps if w == "ARG" and "=" in a)
    extras = args["EXTRAS"].split(",")
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    declared = set(setup["options.extras_require"])
    assert "gcp" in extras and set(extras) <= declared
    runs = " ".join(a for w, a in steps if w == "RUN")
    assert re.search(r"pip install -c constraints-gpu\.txt -e \"\.\[\$\{EXTRAS\}\]\"", runs)
    assert "torch_geometric" in runs  # PyG is checked to import in the image
    install = setup["options"]["install_requires"]
    assert "torch_geometric" in install and "fsspec" in install


def _pin(path: Path) -> str:
    [line] = [ln.strip() for ln in path.read_text().splitlines() if ln.strip().startswith("torch==")]
    return line.split("==", 1)[1]


def test_the_image_installs_the_torch_ci_tests():
    """The image's torch (constraints-gpu.txt) is the release CI installs (constraints-cpu.txt, +cpu build)
    and the one running these tests, and setup.cfg's range admits exactly that minor version."""
    import torch
    from packaging.specifiers import SpecifierSet

    gpu, cpu = _pin(ROOT / "constraints-gpu.txt"), _pin(ROOT / "constraints-cpu.txt")
    assert cpu == gpu + "+cpu" and torch.__version__.split("+")[0] == gpu
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    [req] = [r.strip() for r in setup["options"]["install_requires"].splitlines() if r.strip().startswith("torch>")]
    spec = SpecifierSet(req[len("torch"):])
    major, minor = map(int, gpu.split(".")[:2])
    assert gpu in spec and f"{major}.{minor + 1}.0" not in spec and f"{major}.{minor - 1}.0" not in spec
    steps = parse_dockerfile((ROOT / "docker" / "Dockerfile").read_text())
    runs = " ".join(a for w, a in steps if w == "RUN")
    assert f"== '{gpu}'" in runs and "(3, 11)" in runs  # the build itself refuses other versions


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore semantics for the patterns used here (no '!' exceptions)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pat in patterns:
        pat = pat.rstrip("/")
        for p in prefixes:
            if fnmatch.fnmatchcase(p, pat) or (pat.startswith("**/") and fnmatch.fnmatchcase(p.split("/")[-1], pat[3:])):
                return True
    return False


def test_dockerignore_keeps_what_the_image_needs():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)
    for needed in ("zeta_rmt/train.py", "zeta_rmt/launch/runtime.py", "configs/train.yaml", "configs/cloud/default.yaml",
                   "hydra_plugins/zeta_rmt_vertex_launcher/vertex_launcher.py", "setup.cfg", "pyproject.toml",
                   "README.md", "docker/Dockerfile", "constraints-gpu.txt"):
        assert (ROOT / needed).exists() and not ignored(needed, patterns), needed
    for dropped in (".git/HEAD", "tests/test_train.py", "outputs/x/metrics.json", "zeta_rmt/__pycache__/train.cpython-311.pyc",
                    "multirun/a/b", "zeta_rmt.egg-info/PKG-INFO"):
        assert ignored(dropped, patterns), dropped


def test_build_and_push_script_commands(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "gcloud").write_text("#!/bin/sh\nexit 0\n")  # no configured project
    (fake_bin / "gcloud").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "DRY_RUN": "1"}
    script = str(ROOT / "scripts" / "build_and_push.sh")
    p = subprocess.run(["bash", script, "v1"], env={**env, "PROJECT": "zeta-proj"}, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    uri = "europe-west4-docker.pkg.dev/zeta-proj/zeta-rmt/train:v1"
    lines = p.stdout.strip().splitlines()
    assert lines == ["+ gcloud auth configure-docker europe-west4-docker.pkg.dev --quiet",
                     f"+ docker build -f docker/Dockerfile -t {uri} .",
                     f"+ docker push {uri}",
                     f"cloud.image_uri={uri}"]
    p = subprocess.run(["bash", script, "v2"], env={**env, "PROJECT": "zeta-proj", "USE_CLOUD_BUILD": "1",
                                                    "BASE_IMAGE": "my/base:1", "REGION": "us-central1"},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert '"--build-arg", "BASE_IMAGE=my/base:1"' in p.stdout and "+ gcloud builds submit --project zeta-proj" in p.stdout
    assert p.stdout.strip().endswith("cloud.image_uri=us-central1-docker.pkg.dev/zeta-proj/zeta-rmt/train:v2")
    p = subprocess.run(["bash", script], env={**env, "PROJECT": ""}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "set PROJECT=" in p.stderr
