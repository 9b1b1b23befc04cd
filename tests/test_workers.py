"""Worker processes die with their parent (SIGKILL) and leave Ctrl-C to it (one line, no worker tracebacks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT

PARENT = """
import os, sys, time
from codesign.workers import run_all

def task(i):
    time.sleep(600)

if __name__ == "__main__":
    try:
        for _ in run_all(task, list(range(4)), 2):
            pass
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
"""


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(tmp_path: Path, argv: list[str] | None = None) -> tuple[subprocess.Popen, list[int]]:
    """Start the parent (PARENT, or `argv`) in its own session; returns it and its two workers once they run."""
    if argv is None:
        script = tmp_path / "parent.py"
        script.write_text(PARENT)
        argv = [sys.executable, str(script)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # SIGINT back to its default: a shell running the tests in the background starts them with it ignored
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline:
        # the spawn pool has a resource tracker too: wait for the two workers (children running the task)
        kids = [k for k in _children(proc.pid) if "resource_tracker" not in Path(f"/proc/{k}/cmdline").read_text()]
        if len(kids) >= 2:
            return proc, kids
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the pool did not start two workers within 60 s")


def _gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_parent_leaves_no_worker(tmp_path):
    proc, workers = _start(tmp_path)
    time.sleep(1.0)  # let the workers reach their task
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        assert _gone(workers), f"workers {workers} outlived their parent"
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_gives_one_line_and_stops_the_workers(tmp_path):
    proc, workers = _start(tmp_path)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted"], err
    assert _gone(workers, 5.0)


# `codesign data generate --workers 2` itself: the tiny preset keeps two workers busy for several seconds
GENERATE = [sys.executable, "-c", "from codesign.cli import main; main()", "data", "generate", "--preset", "tiny",
            "--workers", "2", "--out", "d"]


def _kill_leftovers(pids: list[int]) -> None:
    for w in pids:
        if _alive(w):
            os.kill(w, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_data_generate_leaves_no_worker_writing_shards(tmp_path):
    proc, workers = _start(tmp_path, GENERATE)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        assert _gone(workers), f"workers {workers} of data generate outlived it"
        shards = sorted((tmp_path / "d").glob("*.h5*"))
        time.sleep(1.0)
        assert sorted((tmp_path / "d").glob("*.h5*")) == shards, "shards were written after the kill"
    finally:
        _kill_leftovers(workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_of_data_generate_gives_one_line(tmp_path):
    proc, workers = _start(tmp_path, GENERATE)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        lines = [ln.strip() for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
        assert lines[-1] == "interrupted", err  # before it, only the progress bar
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert _gone(workers, 5.0)
    finally:
        _kill_leftovers(workers)
