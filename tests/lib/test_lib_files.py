"""nnlib._files: the one atomic writer every file of the package goes through."""

import os

import pytest

from nnlib._files import atomic_path, write_text


def test_write_text_replaces_the_file_in_one_step(tmp_path):
    path = tmp_path / "table.csv"
    write_text(path, "a,b\r\n1,2\r\n", "test")
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"  # newlines as given
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    write_text(path, "{}\n", "test", mode=0o640)
    assert path.read_text() == "{}\n" and path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(path, "test") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"test: cannot write .*nowhere"):
        write_text(tmp_path / "nowhere" / "x.txt", "", "test")
