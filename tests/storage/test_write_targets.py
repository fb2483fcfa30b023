"""The atomic writer replaces only a regular file or a new name (issue 25 item 1)."""
from __future__ import annotations

import os
import stat

import pytest

from sdlscape.errors import InputError
from sdlscape.storage import target_problem, write_json, write_text


def _fifo(tmp_path):
    p = tmp_path / "fifo"
    os.mkfifo(p)
    return p


def _symlink(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    p = tmp_path / "link.json"
    p.symlink_to(tmp_path / "real.json")
    return p


def _dangling(tmp_path):
    p = tmp_path / "dangling.json"
    p.symlink_to(tmp_path / "nowhere")
    return p


def _folder(tmp_path):
    p = tmp_path / "folder"
    p.mkdir()
    return p


@pytest.mark.parametrize("make", [_fifo, _symlink, _dangling, _folder])
def test_writer_refuses_what_is_not_a_regular_file(make, tmp_path):
    p = make(tmp_path)
    before = os.lstat(p)
    with pytest.raises(InputError, match="refusing to write") as info:
        write_json(p, {"a": 1})
    assert str(p) in str(info.value)
    after = os.lstat(p)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(q.name for q in tmp_path.iterdir() if q.name.endswith(".tmp")) == []


def test_device_nodes_are_classified_without_writing():
    """/dev/null itself is only inspected (lstat), never opened for writing."""
    assert "device node" in target_problem("/dev/null")


def test_device_node_copy_refused(tmp_path):
    p = tmp_path / "null"
    try:
        os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:             # not root: the classification is checked on /dev/null above
        p = _fifo(tmp_path)
    with pytest.raises(InputError):
        write_text(p, "x")
    assert not stat.S_ISREG(os.lstat(p).st_mode)


def test_regular_file_and_new_name_written(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("[]")
    write_json(old, {"a": 1})
    write_json(tmp_path / "sub" / "new.json", [1])
    assert old.read_text().strip().startswith("{")
    assert (tmp_path / "sub" / "new.json").exists()


def test_over_long_name_refused_before_writing(tmp_path):
    with pytest.raises(InputError, match="300 bytes"):
        write_text(tmp_path / ("x" * 300), "y")
    assert list(tmp_path.iterdir()) == []
    write_text(tmp_path / ("x" * 250), "y")          # a long but legal name: the temp file's name is cut
    assert (tmp_path / ("x" * 250)).read_text() == "y"


def test_over_long_path_refused_before_writing(tmp_path):
    deep = tmp_path.joinpath(*(["d" * 200] * 25)) / "r.json"        # each name legal, the whole path not
    with pytest.raises(InputError, match="bytes long"):
        write_text(deep, "y")
    assert list(tmp_path.iterdir()) == []
