"""Safe files (t2i_course.files): atomic writes, folders the library may write, checksums, the run lock, size bounds.

Run against the installed package: `pytest tests/test_files.py -q`.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from t2i_course import files
from t2i_course.core import InputError
from t2i_course.files import (LOCK_FILE, RunLock, atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, check_digests,
                              check_finite, check_memory, check_model_size, claim_folder, claim_png, count_parameters, discard_damaged,
                              file_digests, folder_kind)


def _checkpoint_marker(folder):
    (folder / "state.json").write_text(json.dumps({"format": "t2i-course-checkpoint"}))


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_round_trips(tmp_path):
    p = tmp_path / "f.bin"
    assert atomic_write_bytes(p, b"\x00\x01abc") == p and p.read_bytes() == b"\x00\x01abc"
    atomic_write_text(tmp_path / "t.txt", "中文 text")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "中文 text"
    atomic_write_json(tmp_path / "j.json", {"词": [1, 2], "x": None})
    assert json.loads((tmp_path / "j.json").read_text(encoding="utf-8")) == {"词": [1, 2], "x": None}
    assert "词" in (tmp_path / "j.json").read_text(encoding="utf-8")  # readable UTF-8, not \\u escapes
    assert sorted(q.name for q in tmp_path.iterdir()) == ["f.bin", "j.json", "t.txt"]


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    p = tmp_path / "model.bin"
    p.write_bytes(b"old content")

    def boom(*a, **k): raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(p, b"new content that never lands")
    monkeypatch.undo()
    assert p.read_bytes() == b"old content"
    assert [q.name for q in tmp_path.iterdir()] == ["model.bin"]  # no temporary file left


def test_atomic_dir_swaps_in_a_complete_folder(tmp_path):
    target = tmp_path / "step-0000001"
    with atomic_dir(target, "checkpoint") as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path and tmp != target and not target.exists()
        (tmp / "weights.safetensors").write_text("1"); _checkpoint_marker(tmp)
    assert sorted(p.name for p in target.iterdir()) == ["state.json", "weights.safetensors"]
    with atomic_dir(target, "checkpoint") as tmp:              # replaces a folder of its own kind entirely
        (tmp / "state.safetensors").write_text("2"); _checkpoint_marker(tmp)
        assert (target / "weights.safetensors").read_text() == "1"   # the old folder is intact until the end
    assert sorted(p.name for p in target.iterdir()) == ["state.json", "state.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000001"]


def test_atomic_dir_keeps_the_old_folder_on_error(tmp_path):
    target = tmp_path / "step-0000001"
    target.mkdir(); (target / "weights.safetensors").write_text("keep"); _checkpoint_marker(target)
    with pytest.raises(KeyError):
        with atomic_dir(target, "checkpoint") as tmp:
            (tmp / "state.safetensors").write_text("half")
            raise KeyError("boom")
    assert (target / "weights.safetensors").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000001"]
    with pytest.raises(ValueError):
        with atomic_dir(tmp_path / "new" / "deep", "checkpoint"): raise ValueError
    assert not (tmp_path / "new" / "deep").exists() and list((tmp_path / "new").iterdir()) == []


def test_atomic_dir_fills_an_empty_folder_in_place_with_the_marker_last(tmp_path, monkeypatch):
    target = tmp_path / "ds"
    target.mkdir()
    inode = target.stat().st_ino
    moved, real = [], os.replace
    monkeypatch.setattr(files.os, "replace", lambda a, b: (moved.append(os.path.basename(b)), real(a, b)))
    with atomic_dir(target, "dataset") as tmp:
        for name in ("manifest.json", "captions.jsonl", "images.npy"): (tmp / name).write_text("{\"format\": \"t2i-course-dataset\"}")
    assert target.stat().st_ino == inode                      # the same folder (it may be someone's working folder)
    assert moved[-1] == "manifest.json" and sorted(moved) == ["captions.jsonl", "images.npy", "manifest.json"]


def test_a_failed_swap_restores_the_old_folder_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    target = tmp_path / "step-0000001"
    target.mkdir(); (target / "weights.safetensors").write_text("old"); _checkpoint_marker(target)
    real, calls = os.replace, []

    def second_fails(a, b):
        calls.append(a)
        if len(calls) == 2: raise OSError(28, "No space left on device")   # the new folder cannot be put in place
        return real(a, b)
    monkeypatch.setattr(files.os, "replace", second_fails)
    with pytest.raises(OSError):
        with atomic_dir(target, "checkpoint") as tmp:
            (tmp / "weights.safetensors").write_text("new"); _checkpoint_marker(tmp)
    monkeypatch.undo()
    assert (target / "weights.safetensors").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000001"]      # no .tmp, no .old


def test_atomic_dir_flushes_every_file_before_the_folder_is_renamed(tmp_path, monkeypatch):
    events, real_fsync, real_replace = [], os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b)))
    target = tmp_path / "step-0000001"
    with atomic_dir(target, "checkpoint") as tmp:
        for name in ("weights.safetensors", "state.safetensors"): (tmp / name).write_bytes(b"x")
        _checkpoint_marker(tmp)
    rename = events.index(("replace", str(target)))
    flushed = {os.path.basename(p) for kind, p in events[:rename] if kind == "fsync"}
    assert {"weights.safetensors", "state.safetensors", "state.json"} <= flushed


# ---------------------------------------------------------------- folders that are ours

def test_claim_folder_allows_missing_empty_and_its_own_kind(tmp_path):
    assert claim_folder(tmp_path / "new", "dataset") == ((tmp_path / "new").resolve(), "missing")
    (tmp_path / "empty").mkdir(); (tmp_path / "empty" / LOCK_FILE).write_text("")   # our lock file alone: still empty
    assert claim_folder(tmp_path / "empty", "run")[1] == "empty"
    (tmp_path / "ds").mkdir(); (tmp_path / "ds" / "manifest.json").write_text(json.dumps({"format": "t2i-course-dataset"}))
    assert folder_kind(tmp_path / "ds") == "dataset" and claim_folder(tmp_path / "ds", "dataset", replace=True)[1] == "ours"


@pytest.mark.parametrize("setup, kind, replace, message", [
    ({"thesis.txt": "precious"}, "dataset", True, "is not empty (it holds thesis.txt)"),
    ({"config.json": json.dumps({"format": "t2i-course-run"})}, "dataset", True, "holds a training run (config.json)"),
    ({"manifest.json": json.dumps({"format": "t2i-course-dataset"}), "notes.txt": "mine"}, "dataset", True, "also notes.txt"),
    ({"manifest.json": "not json"}, "dataset", True, "is not empty"),
    ({"metrics.json": json.dumps(["not", "an", "object"])}, "eval", False, "is not empty"),
    ({"report.md": "my own report"}, "eval", False, "is not empty (it holds report.md)"),
])
def test_claim_folder_refuses_what_is_not_ours(tmp_path, setup, kind, replace, message):
    for name, text in setup.items(): (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        claim_folder(tmp_path, kind, replace=replace)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"): claim_folder(tmp_path / "a_file", kind)


def test_claim_png_overwrites_only_pictures_the_library_wrote(tmp_path):
    from PIL import Image
    from t2i_course.core import show_images
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.png")
    (tmp_path / "notes.png").write_text("not even a picture")
    for name in ("photo.png", "notes.png"):
        with pytest.raises(InputError, match="was not written by t2i-course"): claim_png(tmp_path / name)
    show_images(torch.zeros(1, 3, 8, 8), path=tmp_path / "grid.png", show=False)
    assert claim_png(tmp_path / "grid.png") == tmp_path / "grid.png" and claim_png(tmp_path / "new.png") == tmp_path / "new.png"
    with pytest.raises(InputError, match="is a folder"): claim_png(tmp_path)


def test_discard_damaged_removes_only_a_broken_copy_of_its_own_kind(tmp_path):
    ck = tmp_path / "step-0000002"
    ck.mkdir(); (ck / "weights.safetensors").write_bytes(b"x"); (ck / "state.json").write_text("{trunc")
    assert discard_damaged(ck, "checkpoint") and not ck.exists()
    ck.mkdir(); (ck / "weights.safetensors").write_bytes(b"x"); _checkpoint_marker(ck)
    assert not discard_damaged(ck, "checkpoint") and ck.is_dir()           # readable: kept (atomic_dir replaces it)
    (ck / "state.json").write_text("{trunc"); (ck / "mine.txt").write_text("a user's file")
    assert not discard_damaged(ck, "checkpoint") and (ck / "mine.txt").is_file()


# ---------------------------------------------------------------- checksums, finite values, sizes

def test_check_digests_finds_a_changed_missing_or_foreign_file(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"weights")
    sums = file_digests(tmp_path, ["w.bin"])
    check_digests(tmp_path, sums, "run")
    (tmp_path / "w.bin").write_bytes(b"weightz")
    with pytest.raises(InputError, match="w.bin does not match its checksum"): check_digests(tmp_path, sums, "run")
    with pytest.raises(InputError, match="x.bin is missing"): check_digests(tmp_path, {"x.bin": "0" * 64}, "run")
    with pytest.raises(InputError, match="bad file name"): check_digests(tmp_path, {"../w.bin": "0" * 64}, "run")
    with pytest.raises(InputError, match="checksums entry is damaged"): check_digests(tmp_path, ["w.bin"], "run")


def test_check_finite_names_the_tensor():
    check_finite({"a": torch.ones(3), "ids": torch.tensor([1, 2])}, "m")
    with pytest.raises(InputError, match=r"m: b holds 2 non-finite"): check_finite({"a": torch.ones(1), "b": torch.tensor([float("inf"), float("nan")])}, "m")


def test_sizes_are_counted_before_anything_is_allocated():
    assert count_parameters(lambda: torch.nn.Linear(10, 10)) == 110
    with pytest.raises(InputError, match="4,096,000,000 parameters"):
        check_model_size(lambda: torch.nn.Embedding(10**6, 4096), "config.json")    # 16 GB if it were allocated
    with pytest.raises(InputError, match="would need about"): check_memory(10**15, "a dataset")
    check_memory(1000, "a dataset")


# ---------------------------------------------------------------- the run lock

def test_run_lock_refuses_a_second_writer_and_names_the_holder(tmp_path):
    with RunLock(tmp_path / "run") as lock:
        assert lock.taken_over is None
        with pytest.raises(InputError, match=f"being written by another process \\(PID {os.getpid()} on"): RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run") as again: assert again.taken_over is None      # let go cleanly


def test_run_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = (f"import os, sys; from t2i_course.files import RunLock; RunLock({str(tmp_path / 'run')!r}).acquire(); "
            "print(os.getpid(), flush=True); os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    pid = int(r.stdout.split()[0])
    with RunLock(tmp_path / "run") as lock:
        assert lock.taken_over.startswith(f"PID {pid} on")
