"""Runs that share a folder or lose their reader (issue 25 item 7): a lock per output folder, a quiet exit on a
closed stdout, figures from a JSON that holds no figure data, reproduce's `only`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdlscape.cli import EXIT_BROKEN_PIPE, main
from sdlscape.errors import InputError
from sdlscape.storage import LOCK_NAME, FolderLock

ROOT = Path(__file__).resolve().parents[2]
INST = {"W_p": [[1.0, 0.0], [0.0, 1.0]], "activation": "relu", "n_latents": 2}


def test_second_reproduce_into_a_locked_folder_refused(tmp_path, capsys):
    out = tmp_path / "rep"
    with FolderLock(out, "reproduce"):                 # the first run, still going
        assert main(["reproduce", "--out", str(out), "--only", "verify", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "in use by another sdlscape reproduce" in err and f"pid {os.getpid()}" in err
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]     # the refused run wrote nothing


def test_folder_lock_released_on_close_and_exclusive(tmp_path):
    a = FolderLock(tmp_path, "run")
    with pytest.raises(InputError):
        FolderLock(tmp_path, "run")
    a.close()
    FolderLock(tmp_path, "run").close()


def test_folder_lock_released_when_its_holder_is_killed(tmp_path):
    code = ("import sys, time; from sdlscape.storage import FolderLock; l = FolderLock(sys.argv[1]); "
            "print('held', flush=True); time.sleep(300)")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(InputError):
            FolderLock(tmp_path)
        p.kill()
        p.wait()
        FolderLock(tmp_path).close()                    # the kernel dropped the dead holder's lock
    finally:
        p.kill()


def test_reproduce_only_names_stages(tmp_path):
    from sdlscape.pipeline.reproduce import reproduce

    with pytest.raises(InputError, match="bogus"):
        reproduce(tmp_path / "r", only=("bogus",))
    with pytest.raises(InputError):
        reproduce(tmp_path / "r", only="verify")        # a string, not a tuple of names
    assert not (tmp_path / "r").exists()


def test_closed_stdout_ends_quietly(tmp_path):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps(INST))
    r, w = os.pipe()
    os.close(r)                                          # the reader is gone before the first line
    try:
        proc = subprocess.run([sys.executable, "-m", "sdlscape.cli", "realizable", str(inst), "--pattern",
                               "[[0],[1]]"], stdout=w, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    finally:
        os.close(w)
    assert proc.returncode == EXIT_BROKEN_PIPE
    assert proc.stderr == ""


@pytest.mark.parametrize("body", ['{"a": 1}', "[1, 2]", '{"landscapes": {}, "fig4": null}'])
def test_figures_from_a_json_without_figure_data_refused(body, tmp_path, capsys):
    src = tmp_path / "x.json"
    src.write_text(body)
    assert main(["figures", "--from", str(src), "--out", str(tmp_path / "figs")]) == 2
    assert "no figure would be drawn" in capsys.readouterr().err
    assert not (tmp_path / "figs").exists()
