"""Multi-node Vertex AI jobs: each process's place from CLUSTER_SPEC (zeta_rmt.launch.cluster_env).

The processes of a 2-node job with 2 devices per node are simulated with the variables Vertex AI
sets on each node, plus (for local rank 1) those Lightning's launcher adds for the child it
starts; real Trainers built from the real configs must give global ranks 0..3 once each. A real
2-node x 2-process gloo rendezvous through ``python -m zeta_rmt.train`` on 127.0.0.1 closes it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import hydra
import pytest
from lightning_fabric.utilities.rank_zero import rank_zero_only

from zeta_rmt.launch.cluster_env import (ClusterSpecError, VertexEnvironment, node_from_cluster_spec, resolve_node,
                                         trainer_plugins)
from zeta_rmt.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
VERTEX_VARS = ("CLUSTER_SPEC", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "NODE_RANK",
               "GROUP_RANK")
CHIEF = "cmle-training-workerpool0-7f3a-0"


def cluster_spec(node: int, workers: int = 1, host: str = CHIEF, port: int = 2222, **task_extra) -> str:
    """CLUSTER_SPEC of node ``node`` in a job of 1 chief + ``workers`` workers (Vertex AI's shape)."""
    task = {"type": "workerpool0", "index": 0} if node == 0 else {"type": "workerpool1", "index": node - 1}
    task.update(task_extra)
    return json.dumps({
        "cluster": {"workerpool0": [f"{host}:{port}"],
                    "workerpool1": [f"cmle-training-workerpool1-7f3a-{i}:{port}" for i in range(workers)]},
        "environment": "cloud", "task": task, "job": {"worker_pool_specs": []}})


def vertex_env(node: int, nodes: int, master_port: str | None = "3333") -> dict[str, str]:
    """What Vertex AI sets in the container of node ``node`` (RANK/WORLD_SIZE: node index/count)."""
    env = {"CLUSTER_SPEC": cluster_spec(node, workers=nodes - 1), "RANK": str(node), "WORLD_SIZE": str(nodes),
           "MASTER_ADDR": CHIEF}
    if master_port:
        env["MASTER_PORT"] = master_port
    return env


def process_env(node: int, local: int, nodes: int = 2, devices: int = 2) -> dict[str, str]:
    """Process ``local`` of node ``node``: local 0 is the one Vertex AI started; local > 0 a child of
    Lightning's launcher, which copies the environment and sets these (subprocess_script.py)."""
    env = vertex_env(node, nodes)
    if local > 0:
        env.update({"LOCAL_RANK": str(local), "NODE_RANK": str(node), "WORLD_SIZE": str(nodes * devices),
                    "MASTER_ADDR": CHIEF, "MASTER_PORT": env["MASTER_PORT"]})
    return env


@pytest.fixture
def environ(monkeypatch):
    """Set exactly the given Vertex/Lightning variables in os.environ; restore them and
    Lightning's rank_zero_only.rank afterwards."""
    monkeypatch.setattr(rank_zero_only, "rank", rank_zero_only.rank)

    def _set(values: dict[str, str]):
        for k in VERTEX_VARS:
            monkeypatch.delenv(k, raising=False)
        for k, v in values.items():
            monkeypatch.setenv(k, v)

    return _set


def test_two_nodes_two_devices_give_global_ranks_0_to_3(environ, make_cfg):
    """Each of the 4 processes, with a real Trainer instantiated from the real configs exactly as
    train.py does (trainer_plugins + hydra instantiate of cfg.trainer)."""
    seen = []
    for node in (0, 1):
        for local in (0, 1):
            environ(process_env(node, local))
            cfg = make_cfg("hardware=cpu", "hardware.replica_count=2", "hardware.devices=2")
            assert cfg.trainer.num_nodes == 2 and cfg.trainer.devices == 2
            plugins = trainer_plugins(cfg)
            assert len(plugins) == 1 and isinstance(plugins[0], VertexEnvironment)
            trainer = hydra.utils.instantiate(cfg.trainer, plugins=plugins, logger=False, callbacks=[])
            env = trainer.strategy.cluster_environment
            assert env is plugins[0]
            assert (trainer.node_rank, trainer.local_rank) == (node, local)
            assert trainer.world_size == 4 and trainer.num_nodes == 2
            assert trainer.global_rank == node * 2 + local == rank_zero_only.rank
            assert env.main_address == CHIEF and env.main_port == 3333  # MASTER_PORT over the spec's 2222
            assert env.creates_processes_externally is (local > 0)  # Lightning starts local 1 on each node
            seen.append(trainer.global_rank)
    assert sorted(seen) == [0, 1, 2, 3] and len(set(seen)) == 4


def test_rank_before_the_trainer_is_the_global_rank_not_vertex_rank(environ):
    """Lightning guesses rank_zero_only.rank at import from RANK (the node index on Vertex AI): the
    child on the chief would be 'rank 0'. The environment fixes it when built with devices."""
    environ(process_env(0, 1))
    rank_zero_only.rank = 0  # what a fresh child process on the chief guessed from RANK=0
    env = VertexEnvironment(devices=2, num_nodes=2)
    assert env.global_rank() == 1 == rank_zero_only.rank and env.world_size() == 4
    with pytest.raises(RuntimeError, match="before the Trainer set it"):
        VertexEnvironment().global_rank()


def test_node_ranks_of_a_four_node_job_and_the_port_from_the_spec():
    ranks = []
    for node in range(4):
        n = node_from_cluster_spec(cluster_spec(node, workers=3, port=2222), environ={})
        assert n.num_nodes == 4 and n.main_address == CHIEF and n.main_port == 2222 and n.source == "CLUSTER_SPEC"
        ranks.append(n.node_rank)
    assert ranks == [0, 1, 2, 3]
    assert node_from_cluster_spec(cluster_spec(2, workers=3), {"MASTER_PORT": "29500"}).main_port == 29500
    v6 = json.dumps({"cluster": {"workerpool0": ["[fd00::1]:2222"]}, "task": {"type": "workerpool0", "index": 0}})
    n = node_from_cluster_spec(v6, {})
    assert (n.main_address, n.main_port, n.num_nodes, n.node_rank) == ("fd00::1", 2222, 1, 0)


def _bad(**change):
    spec = json.loads(cluster_spec(1, workers=2))
    for path, value in change.items():
        *parents, leaf = path.split("__")
        node = spec
        for p in parents:
            node = node[p]
        node[leaf] = value
    return json.dumps(spec)


@pytest.mark.parametrize("text, message", [
    ("{not json", r"CLUSTER_SPEC is not JSON"),
    (json.dumps({"cluster": {"workerpool0": ["h:1"]}}),
     r"CLUSTER_SPEC must be a JSON object with 'cluster' and 'task'"),
    (_bad(cluster__workerpool0=["a:1", "b:1"]), r"cluster.workerpool0 must be a list of one host:port \(the chief\)"),
    (_bad(cluster__workerpool1="h:1"), r"cluster.workerpool1 must be a list of host:port strings"),
    (_bad(task__index=5), r"task \{type: 'workerpool1', index: 5\} is not a replica of the cluster "
                          r"\(workerpool0: 1, workerpool1: 2 replicas\)"),
    (_bad(task__index="one"), r"CLUSTER_SPEC task.index must be an integer, got 'one'"),
    (_bad(task__type="workerpool2"), r"task.type=workerpool2: this replica is a parameter/reduction server"),
    (_bad(cluster__workerpool0=["chief-host"]), r"no main port: MASTER_PORT is not set"),
    (_bad(cluster__workerpool0=["chief:99999"]), r"port of CLUSTER_SPEC cluster.workerpool0\[0\] must be a TCP port"),
])
def test_malformed_cluster_spec_is_one_clear_line(environ, text, message):
    environ({"CLUSTER_SPEC": text})
    with pytest.raises(ClusterSpecError, match=message) as info:
        resolve_node()
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("cannot place this process in the Vertex AI cluster: ")
    assert "fallback variables: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE not set" in msg
    assert isinstance(info.value, ConfigError)  # train.py: one line, exit status 2


def test_without_a_usable_spec_the_node_comes_from_vertex_variables(environ, capsys):
    environ({"CLUSTER_SPEC": "{broken", "RANK": "2", "WORLD_SIZE": "4", "MASTER_ADDR": "10.0.0.2",
             "MASTER_PORT": "3333"})
    n = resolve_node()
    assert (n.node_rank, n.num_nodes, n.main_address, n.main_port, n.source) == (2, 4, "10.0.0.2", 3333, "environment")
    assert "CLUSTER_SPEC is not JSON" in capsys.readouterr().out  # the fallback says why
    # a child of Lightning's launcher: WORLD_SIZE is now the process count, the node is NODE_RANK
    environ({"CLUSTER_SPEC": "{broken", "RANK": "2", "WORLD_SIZE": "8", "MASTER_ADDR": "10.0.0.2",
             "MASTER_PORT": "3333", "LOCAL_RANK": "1", "NODE_RANK": "2"})
    env = VertexEnvironment(devices=2, num_nodes=4)
    assert (env.node_rank(), env.local_rank(), env.global_rank()) == (2, 1, 5)
    environ({"RANK": "4", "WORLD_SIZE": "4", "MASTER_ADDR": "h", "MASTER_PORT": "1"})
    with pytest.raises(ClusterSpecError, match=r"CLUSTER_SPEC is not set; .* RANK=4 is not a node of WORLD_SIZE=4"):
        resolve_node()


def test_spec_and_vertex_variables_that_disagree_are_refused(environ):
    environ({**vertex_env(1, 2), "RANK": "0"})
    with pytest.raises(ClusterSpecError, match=r"places this process on node 1 of 2, but RANK=0 \(expected 1\)"):
        resolve_node()
    environ({**vertex_env(1, 2), "WORLD_SIZE": "3"})
    with pytest.raises(ClusterSpecError, match=r"but WORLD_SIZE=3 \(expected 2\)"):
        resolve_node()
    environ({**process_env(1, 1), "NODE_RANK": "0"})
    with pytest.raises(ClusterSpecError, match=r"but NODE_RANK=0 \(expected 1\)"):
        resolve_node()


def test_node_count_must_match_the_trainer(environ, make_cfg):
    """hardware=l4 (1 node) in a 4-replica job: refused before any data is loaded, through train.py."""
    from zeta_rmt.train import train

    environ(vertex_env(2, 4))
    with pytest.raises(ConfigError, match=r"trainer.num_nodes=1 but this Vertex AI job has 4 nodes \(CLUSTER_SPEC\)"):
        train(make_cfg("debug=fast", "hardware=cpu"))
    env = VertexEnvironment()
    env.validate_settings(num_devices=1, num_nodes=4)  # what Lightning's launcher calls
    with pytest.raises(ClusterSpecError, match="devices per node changed from 1 to 2"):
        env.validate_settings(num_devices=2, num_nodes=4)
    with pytest.raises(ClusterSpecError, match=r"trainer.num_nodes=2 but this Vertex AI job has 4 nodes"):
        env.validate_settings(num_devices=1, num_nodes=2)
    environ({**vertex_env(2, 4), "LOCAL_RANK": "2", "NODE_RANK": "2"})
    with pytest.raises(ClusterSpecError, match=r"LOCAL_RANK=2 is not one of the 2 devices"):
        VertexEnvironment(devices=2, num_nodes=4)


def test_local_and_single_node_runs_are_unchanged(environ, make_cfg):
    environ({})
    assert trainer_plugins(make_cfg("hardware=cpu")) == []  # no CLUSTER_SPEC: Lightning's own environment
    environ({"CLUSTER_SPEC": json.dumps({"cluster": {"workerpool0": [f"{CHIEF}:2222"]},
                                         "task": {"type": "workerpool0", "index": 0, "trial": "3"}})})
    cfg = make_cfg("hardware=cpu")  # a single-replica job (a Vizier trial, say)
    plugins = trainer_plugins(cfg)
    trainer = hydra.utils.instantiate(cfg.trainer, plugins=plugins, logger=False, callbacks=[])
    assert (trainer.global_rank, trainer.world_size, trainer.num_nodes) == (0, 1, 1)
    assert VertexEnvironment.detect() is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_two_node_gloo_rendezvous_through_train(tmp_path):
    """Two 'nodes' on 127.0.0.1, each started as Vertex AI starts a replica (CLUSTER_SPEC, RANK,
    WORLD_SIZE, MASTER_ADDR, MASTER_PORT), one process each: 2 processes join one gloo group through
    VertexEnvironment. Each records its rank and the ranks all-gathered. (Two devices per node, where
    Lightning's launcher adds the children, are covered by the simulated 2 x 2 job above; run for real
    it took 51-92 s here, twice this test.)"""
    port = _free_port()
    probe = tmp_path / "probe"
    procs = []
    t0 = time.monotonic()
    for node in (0, 1):
        env = {k: v for k, v in os.environ.items() if k not in VERTEX_VARS}
        env.update({"CLUSTER_SPEC": cluster_spec(node, host="127.0.0.1", port=2222), "RANK": str(node),
                    "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
        out = tmp_path / f"node{node}"
        cmd = [sys.executable, "-m", "zeta_rmt.train", "debug=fast", "hardware=cpu", "hardware.replica_count=2",
               "hardware.devices=1", "trainer.max_epochs=1", "print_summary=false", f"paths.output_dir={out}",
               f"hydra.run.dir={out}", "+callbacks.rank_probe._target_=tests.launch.rank_probe.RankProbe",
               f"+callbacks.rank_probe.directory={probe}"]
        # own session: on failure the node and the child Lightning started for it go together
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True))
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # leftovers only: a finished node's group is empty
            except ProcessLookupError:
                pass
    wall = time.monotonic() - t0
    for node, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"node {node} failed:\n{out[-3000:]}"
    records = {int(f.stem[4:]): json.loads(f.read_text()) for f in probe.glob("rank*.json")}
    assert sorted(records) == [0, 1], records
    for g, r in records.items():
        assert r["environment"] == "VertexEnvironment" and r["world_size"] == 2
        assert r["global_rank"] == g == r["node_rank"] and r["local_rank"] == 0
        assert (r["main_address"], r["main_port"]) == ("127.0.0.1", port)
        assert r["all_gathered"] == [0, 1]  # one process group of 2, no duplicate rank
    assert len({r["pid"] for r in records.values()}) == 2
    print(f"2 nodes x 1 process, gloo on 127.0.0.1: {wall:.1f} s")
