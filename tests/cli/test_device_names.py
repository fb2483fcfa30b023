"""--device of crosscheck and bench: a bad name, or a CUDA device this machine cannot have, is refused in one
line with exit 2 before torch is imported."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdlscape.commands import _common
from sdlscape.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fake driver listing of `gpus` NVIDIA GPUs (and, optionally, other device nodes)."""
    def make(gpus: int, nodes=()):
        proc, dev = tmp_path / f"proc{gpus}", tmp_path / f"dev{gpus}"
        proc.mkdir()
        dev.mkdir()
        for i in range(gpus):
            (proc / f"0000:{i:02x}:00.0").mkdir()
        for n in nodes:
            (dev / n).touch()
        monkeypatch.setattr(_common, "NVIDIA_GPUS", proc)
        monkeypatch.setattr(_common, "DEV", dev)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return make


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "CUDA", "cuda:-1", "cpu:0", "", "cuda:0,1"])
def test_bad_names(machine, name):
    machine(2)
    with pytest.raises(InputError, match="must be cpu, cuda or cuda:i"):
        _common.check_device_early(name)


def test_no_gpu(machine):
    machine(0)
    assert _common.check_device_early("cpu") == "cpu"
    for name in ("cuda", "cuda:0", "cuda:9"):
        with pytest.raises(InputError, match="no CUDA device"):
            _common.check_device_early(name)


def test_index_bound_by_the_gpus_and_cuda_visible_devices(machine, monkeypatch):
    machine(2)
    assert _common.cuda_devices_at_most() == 2
    assert _common.check_device_early("cuda:1") == "cuda:1"
    with pytest.raises(InputError, match="at most 2 CUDA"):
        _common.check_device_early("cuda:2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert _common.check_device_early("cuda") == "cuda"
    with pytest.raises(InputError, match="at most 1 CUDA"):
        _common.check_device_early("cuda:1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,-1,1")       # CUDA stops at the first invalid entry
    assert _common.cuda_devices_at_most() == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(InputError, match="no CUDA device visible"):
        _common.check_device_early("cuda:0")


def test_dev_nodes_count_and_unknown_machines_are_left_to_torch(machine):
    machine(0, nodes=("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm"))
    assert _common.cuda_devices_at_most() == 3


def test_rocm_node_defers_to_torch(machine):
    machine(0, nodes=("kfd",))
    assert _common.cuda_devices_at_most() is None
    assert _common.check_device_early("cuda:7") == "cuda:7"


PROBE = ("import sys; from sdlscape.cli import main; rc = main(sys.argv[1:]); "
         "print('TORCH', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)")


@pytest.mark.parametrize("device", ["gpu", "cuda:9"])
@pytest.mark.parametrize("command", ["crosscheck", "bench"])
def test_cli_refuses_before_torch(tmp_path, command, device):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"W_p": [[1.0, 0.0], [0.0, 1.0]], "M": [1.0, 1.0], "activation": "relu",
                                "n_latents": 2}))
    out = tmp_path / "out.json"
    argv = (["crosscheck", str(inst), "--starts", "2"] if command == "crosscheck" else ["bench", "table1"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", PROBE, *argv, "--device", device, "--json", str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if not ln.startswith("TORCH")]
    assert len(lines) == 1 and device in lines[0] and "Traceback" not in p.stderr
    assert "TORCH False" in p.stderr or "TORCH" not in p.stderr     # argparse exits before the probe prints
    assert not out.exists()
