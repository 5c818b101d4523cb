"""``onnpu eval --ray`` on a real local Ray cluster of several processes (a head and a worker node, one CPU
each, on this machine: ``ray.cluster_utils.Cluster``), with the labelled set of tests/test_eval.py: the same
result as the single-machine run, also when an actor process is killed in the middle of the run; and the
shipping of models and compiled NPU contexts to a node that has neither."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from onnpu import get_target, progress
from onnpu.evaluation.ray_job import bundle, install
from onnpu.evaluation.run import evaluate, plan_rows
from onnpu.evaluation.worker import EvalSpec, Evaluator
from test_eval import _comparable, labelled  # noqa: F401  (the module-scoped labelled set)
from test_eval_detection import scenes  # noqa: F401  (the module-scoped annotated scenes)

ray = pytest.importorskip("ray", reason="Ray is part of the test environment (make: the ray extra)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ray.cluster_utils import Cluster

    os.environ["ONNPU_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "onnpu-cache")  # the nodes inherit it
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    try:
        yield nodes.address
    finally:
        ray.shutdown()
        nodes.shutdown()


def _actor_processes() -> list[psutil.Process]:
    """The Ray Data actors of this test's cluster (its processes descend from this one)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "MapWorker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


class KillOneActor(progress.Reporter):
    """Kills one actor process the first time results arrive while images are still to come."""

    def __init__(self) -> None:
        self.killed: tuple[int, int, int] | None = None  # pid, images done, total

    def advance(self, stage: str, done: int, total: int | None) -> None:
        if self.killed is None and total and done < total:
            actors = _actor_processes()
            if actors:
                actors[0].send_signal(signal.SIGKILL)
                self.killed = (actors[0].pid, done, total)


def test_ray_gives_the_single_machine_result_even_when_an_actor_dies(labelled: dict[str, object],  # noqa: F811
                                                                     cluster: str) -> None:
    args = ([labelled["float"], labelled["quant"]], labelled["root"], [get_target("cpu")])
    here = evaluate(*args, labels=labelled["labels"], workers=1)  # type: ignore[arg-type]
    on_ray = evaluate(*args, labels=labelled["labels"], ray=cluster)  # type: ignore[arg-type]
    assert on_ray.engine["engine"] == "ray" and len(on_ray.engine["nodes"]) == 2 and on_ray.engine["cpus"] == 2
    assert _comparable(on_ray.to_dict()) == _comparable(here.to_dict())

    killer = KillOneActor()
    with progress.reporting(killer):
        again = evaluate(*args, labels=labelled["labels"], ray=cluster)  # type: ignore[arg-type]
    assert killer.killed is not None, "no actor process was found to kill"
    pid, done, total = killer.killed
    assert done < total
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert _comparable(again.to_dict()) == _comparable(here.to_dict())  # nothing lost, nothing counted twice
    assert sum(again.engine["images_per_worker"].values()) == again.engine["records_received"]


@pytest.mark.npu
def test_models_and_contexts_are_shipped_to_a_node_that_has_neither(labelled: dict[str, object],  # noqa: F811
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """What a node with an empty cache and without the model files gets: the model installed in its cache, the
    NPU context the driver compiled installed as it is, and a session that loads it (no compile on the node)."""
    import shutil

    models = tmp_path / "driver"
    models.mkdir()
    model = Path(shutil.copy(labelled["quant"], models / "quant.onnx"))  # type: ignore[arg-type]
    rows, _ = plan_rows([model], [get_target("npu", soc="qcs8550")])
    spec = EvalSpec(tuple(rows))
    Evaluator(spec)  # the driver: compiles the context into its cache
    shipped = bundle(spec)
    assert list(shipped["models"]) == [str(model)] and len(shipped["contexts"]) == 1
    monkeypatch.setenv("ONNPU_CACHE_DIR", str(tmp_path / "node-cache"))  # another node: an empty cache
    shutil.rmtree(models)  # ... and no model files
    local = install(spec, shipped)
    [(given, on_node)] = local.models_on_node
    assert given == str(model) and Path(on_node).is_file() and Path(on_node).parent.parent.name == "eval-models"
    [key] = shipped["contexts"]
    context = tmp_path / "node-cache" / "contexts" / key
    before = {p.name: p.stat().st_mtime_ns for p in context.iterdir()}
    node = Evaluator(local)
    assert "npu" in node.rows[0].spec.label
    assert {p.name: p.stat().st_mtime_ns for p in context.iterdir()} == before  # loaded, not compiled again
    assert install(spec, shipped) == local  # a second actor on the node finds everything installed


def test_detection_on_ray_gives_the_single_machine_result(scenes: dict[str, Path], cluster: str,  # noqa: F811
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`eval --annotations --ray`: the detections come from actors on both nodes; the mAP rows, intervals and
    changed images equal the single-machine run's, and the JSON records the cluster."""
    from onnpu import jsonio
    from onnpu.cli import main

    argv = ["eval", str(scenes["float"]), str(scenes["qdq"]), "--data", str(scenes["folder"]), "--annotations",
            str(scenes["gt"]), "--json"]
    assert main(argv) == 0
    here = jsonio.loads(capsys.readouterr().out)
    assert main([*argv, "--ray", cluster]) == 0
    on_ray = jsonio.loads(capsys.readouterr().out)
    engine = on_ray.pop("engine")
    assert engine["engine"] == "ray" and len(engine["nodes"]) == 2 and engine["records_received"] >= here["images"]
    here.pop("engine")
    for doc in (here, on_ray):
        doc.pop("seconds")
    assert on_ray == here
