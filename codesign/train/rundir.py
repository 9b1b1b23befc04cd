"""The run directory of `codesign train`: its settings, spec copy, checkpoints, logs and results.

RUN/run.json      settings, spec name/hash, dataset hash, codesign version, status
RUN/spec.yaml     the spec text the run was trained under (export reads it, not the original path)
RUN/ckpt/last     checkpoint of every epoch (weights, optimisers, stage, epoch, best loss): resume point
RUN/ckpt/best     best-validation weights of the current stage
RUN/model         final weights (the best of the last stage)
RUN/history.json  per-epoch losses (deterministic);  RUN/train.log  progress lines with timings
RUN/tensorboard   TensorBoard scalars;  RUN/bundle, RUN/metrics.json, RUN/plots after training
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign import __version__
from codesign.derived import DerivedParams, derive
from codesign.errors import InputError
from codesign.spec import Spec, load_spec
from codesign.train.config import TrainConfig

RUN_FORMAT = "codesign-train-run/1"


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file, then rename): a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def spec_copy(self) -> Path:
        return self.root / "spec.yaml"

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def read(self) -> dict[str, Any]:
        """run.json of a training run; one-line error when `root` is not one."""
        try:
            doc = json.loads(self.run_json.read_text())
        except FileNotFoundError:
            raise InputError(f"run {str(self.root)!r}: run.json is missing (not a codesign train run directory)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"run {str(self.root)!r}: run.json is malformed ({exc.__class__.__name__})") from None
        if not isinstance(doc, dict) or doc.get("format") != RUN_FORMAT:
            raise InputError(f"run {str(self.root)!r}: run.json is not a {RUN_FORMAT} document")
        return doc

    def config(self) -> TrainConfig:
        try:
            return TrainConfig.from_json(self.read()["config"])
        except (KeyError, TypeError) as exc:
            raise InputError(f"run {str(self.root)!r}: run.json has a malformed config ({exc})") from None

    def spec(self) -> tuple[Spec, DerivedParams]:
        """The spec the run was trained under (its copy), checked against the recorded hash."""
        spec = load_spec(self.spec_copy)
        want = self.read().get("spec_hash")
        if spec.spec_hash() != want:
            raise InputError(f"run {str(self.root)!r}: spec.yaml has hash {spec.spec_hash()[:12]}, run.json records "
                             f"{str(want)[:12]}: the run directory was edited")
        return spec, derive(spec)

    def start(self, config: TrainConfig, spec: Spec, spec_text: str, dataset_hash: str) -> None:
        """Create the run directory, or check that an existing one was started with the same settings."""
        doc = {"format": RUN_FORMAT, "config": config.to_json(), "spec_name": spec.name,
               "spec_hash": spec.spec_hash(), "dataset_hash": dataset_hash, "codesign_version": __version__}
        if self.run_json.exists():
            old = self.read()
            if old.get("spec_hash") != doc["spec_hash"]:
                raise InputError(f"run {str(self.root)!r} was trained under spec {old.get('spec_name')!r} "
                                 f"(hash {str(old.get('spec_hash'))[:12]}), not {spec.name!r} "
                                 f"(hash {spec.spec_hash()[:12]}): use another --out")
            if old.get("dataset_hash") != dataset_hash:
                raise InputError(f"run {str(self.root)!r} was trained on dataset {str(old.get('dataset_hash'))[:12]}, "
                                 f"not {dataset_hash[:12]}: use another --out")
            for key, value in doc["config"].items():
                if key not in ("spec", "data") and old["config"].get(key) != value:
                    raise InputError(f"run {str(self.root)!r} was started with {key} = {old['config'].get(key)!r}, "
                                     f"not {value!r}: rerun with the same settings to resume, or use another --out")
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {str(self.root)!r}: cannot create the run directory ({exc.strerror})") from None
        tmp = self.spec_copy.with_name(".spec.yaml.tmp")
        tmp.write_text(spec_text)
        os.replace(tmp, self.spec_copy)
        write_json(self.run_json, dict(doc, status="started"))

    def set_status(self, status: str) -> None:
        write_json(self.run_json, dict(self.read(), status=status))
