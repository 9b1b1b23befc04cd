"""The run directory of `codesign train`: its settings, spec copy, checkpoints, logs and results.

RUN/run.json      settings, spec name/hash, dataset hash, codesign version, status
RUN/spec.yaml     the spec text the run was trained under (export reads it, not the original path)
RUN/ckpt/last     checkpoint of every epoch (weights, optimisers, stage, epoch, best loss): resume point
RUN/ckpt/best     best-validation weights of the current stage
RUN/model         final weights (the best of the last stage)
RUN/history.json  per-epoch losses (deterministic);  RUN/train.log  progress lines with timings
RUN/tensorboard   TensorBoard scalars;  RUN/bundle, RUN/metrics.json, RUN/plots after training
RUN/pileup_draws  the emulator's outputs under each pile-up draw of `codesign evaluate --pileup-draws`
"""

from __future__ import annotations

import dataclasses
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
from emulation.jsoncheck import get, read_json, shown

RUN_FORMAT = "codesign-train-run/1"
# run.json's config: the jsoncheck kind of each TrainConfig field type, and whether null is allowed
_FIELD_KINDS = {"str": ("str", False), "int": ("int", False), "int | None": ("int", True),
                "float": ("number", False), "bool": ("bool", False)}


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
        """run.json of a training run, checked key by key; one-line error when `root` is not one."""
        if not self.root.is_dir():
            raise InputError(f"run {str(self.root)!r}: not a directory (expected a codesign train run directory)")
        if not self.run_json.exists() and not self.run_json.is_symlink():
            raise InputError(f"run {str(self.root)!r}: run.json is missing (not a codesign train run directory)")
        doc = read_json(self.run_json, f"run {str(self.root)!r}")
        where = f"run {self.run_json}"
        if not isinstance(doc, dict) or doc.get("format") != RUN_FORMAT:
            found = shown(doc.get("format") if isinstance(doc, dict) else doc)
            raise InputError(f"{where}: format = {found}; expected a {RUN_FORMAT} document")
        get(doc, "config", "dict", where)
        for key, kind in (("spec_name", "str"), ("spec_hash", "hex"), ("dataset_hash", "hex"), ("status", "str")):
            get(doc, key, kind, where)
        return doc

    def config(self) -> TrainConfig:
        """The run's TrainConfig from run.json, every field checked against its type."""
        where = f"run {self.run_json}: config"
        obj = self.read()["config"]
        fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
        for key in obj:
            if key not in fields:
                raise InputError(f"{where}.{str(key)[:40]}: unknown key; expected one of {', '.join(fields)}")
        for name, f in fields.items():
            kind, optional = _FIELD_KINDS.get(str(f.type), (None, False))
            if name not in obj and f.default is dataclasses.MISSING:
                raise InputError(f"{where}.{name}: missing")
            if kind is not None and name in obj:
                get(obj, name, kind, where, optional=optional)
        try:
            return TrainConfig.from_json(obj)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def check_resume(self) -> None:
        """The resume state of an existing run (history.json, ckpt/last, ckpt/best) is readable and well-formed."""
        history = self.path("history.json")
        if history.exists() or history.is_symlink():
            entries = read_json(history, f"run {str(self.root)!r}")
            where = f"run {history}"
            if not isinstance(entries, list):
                raise InputError(f"{where} = {shown(entries)}: expected a list of epochs")
            for i, entry in enumerate(entries):
                get(entry, "stage_index", "count", f"{where}[{i}]")
                get(entry, "epoch", "count", f"{where}[{i}]")
        for name in ("last", "best"):
            folder = self.path("ckpt", name)
            if not folder.exists() and not folder.is_symlink():
                continue
            if not folder.is_dir():
                raise InputError(f"run {str(self.root)!r}: ckpt/{name} is not a directory; expected a checkpoint "
                                 f"directory of codesign train (delete {self.path('ckpt')} to start the run over)")
            import tensorflow as tf

            try:
                prefix = tf.train.latest_checkpoint(str(folder))
            except (ValueError, TypeError, OSError, tf.errors.OpError):
                prefix = None
            if prefix is None:
                if not any(folder.iterdir()):
                    continue
                raise InputError(f"run {str(self.root)!r}: ckpt/{name} has no readable checkpoint (its "
                                 f"'checkpoint' file is missing, damaged or names missing files); delete "
                                 f"{self.path('ckpt')} to start the run over")
            self._check_checkpoint(Path(prefix), f"ckpt/{name}", f"delete {self.path('ckpt')} to start the run over")

    def check_model(self) -> None:
        """A finished run's final weights (RUN/model/weights) are there and every tensor reads back."""
        if self.read()["status"] != "trained":
            return  # load_trained says the run has not finished
        model = self.path("model")
        if not model.is_dir() or not self.path("model", "weights.index").is_file():
            raise InputError(f"run {str(self.root)!r}: model/weights.index is missing; expected the final weights "
                             f"of a finished run (rerun codesign train with the same settings)")
        self._check_checkpoint(self.path("model", "weights"), "model/weights",
                               "rerun codesign train with the same settings into another --out")

    def _check_checkpoint(self, prefix: Path, what: str, remedy: str) -> None:
        """Read every tensor of the TensorFlow checkpoint at `prefix` (index, data files, checksums)."""
        import tensorflow as tf

        try:
            reader = tf.train.load_checkpoint(str(prefix))
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
        except (ValueError, TypeError, IndexError, OSError, tf.errors.OpError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise InputError(f"run {str(self.root)!r}: {what} is damaged ({first}); expected a checkpoint "
                             f"written by codesign train: {remedy}") from None

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
        if self.run_json.exists() or self.run_json.is_symlink():
            old = self.read()
            self.config()
            self.check_resume()
            if old.get("spec_hash") != doc["spec_hash"]:
                raise InputError(f"run {str(self.root)!r} was trained under spec {old.get('spec_name')!r} "
                                 f"(hash {str(old.get('spec_hash'))[:12]}), not {spec.name!r} "
                                 f"(hash {spec.spec_hash()[:12]}): use another --out")
            if old.get("dataset_hash") != dataset_hash:
                raise InputError(f"run {str(self.root)!r} was trained on dataset {str(old.get('dataset_hash'))[:12]}, "
                                 f"not {dataset_hash[:12]}: use another --out")
            defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
            for key, value in doc["config"].items():
                was = old["config"].get(key, defaults.get(key))  # a setting added later: its default
                if key not in ("spec", "data") and was != value:
                    raise InputError(f"run {str(self.root)!r} was started with {key} = {was!r}, "
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
