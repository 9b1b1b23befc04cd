"""Where every cell and output field sits on the board's links: derived from the spec, consistent with the RTL ports.

A frame is one clock cycle of the spec's clock; a link carries one 64-bit word per frame (EMP and
APx board data). The chain's input beat (`codesign.rtl.stream`: P pixels x layers x bits per cell)
is spread over ceil(beat bits / 64) links in one frame, link k holding bits [64k, 64k + 64); so is
the one-beat decision record of an event on the output side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from codesign.derived import DerivedParams, rtl_latency_model
from codesign.rtl.stream import beats_image, image_beats, split_fields
from codesign.spec import Spec
from emulation.jsoncheck import check, get

WORD_BITS = 64  # payload bits of a link per frame (EMP and APx)
OUTPUTS = ("pass_pt1", "pass_pt4", "pt1", "pt4", "sorted_pt")  # decision record fields, from bit 0 up


@dataclass(frozen=True)
class LinkMap:
    """Pixels -> (link, frame, bit) on the input links, decision fields -> bits on the output links."""

    lanes: int
    layers: tuple[str, ...]
    code_width: int
    eta_bins: int
    phi_bins: int
    n_clusters: int
    calib_width: int
    latency: int  # frames from an event's first input frame to its output frame (the RTL's chain latency)
    clock_mhz: float
    bx_mhz: float
    link_tbps: float

    @classmethod
    def of(cls, spec: Spec, derived: DerivedParams) -> "LinkMap":
        """The map of a spec: P, bits per cell and the output widths from its derived parameters."""
        d = derived
        _, chain = rtl_latency_model(d.eta_bins, d.phi_bins, d.pixel_parallelism, d.window, d.n_clusters,
                                     d.cnn_extra_stages, d.trigger_extra_stages)
        return cls(lanes=d.pixel_parallelism, layers=tuple(spec.detector.layers), code_width=d.bits_per_cell,
                   eta_bins=d.eta_bins, phi_bins=d.phi_bins, n_clusters=d.n_clusters,
                   calib_width=d.formats["pt_calib"].width, latency=chain, clock_mhz=d.clock_mhz,
                   bx_mhz=spec.detector.bunch_crossing_mhz, link_tbps=spec.bandwidth_tbps)

    @classmethod
    def from_json(cls, obj: Any, where: str) -> "LinkMap":
        """The map of `to_json`'s output, every field checked (one `InputError` naming `where` and the key)."""
        m = get(obj, "map", "dict", where)
        w = f"{where}.map"
        kw: dict[str, Any] = {f.name: get(m, f.name, "number" if f.type == "float" else "count", w, lo=1)
                              for f in fields(cls) if f.name != "layers"}
        layers = get(m, "layers", "list", w)
        kw["layers"] = tuple(check(v, "str", f"{w}.layers[{i}]") for i, v in enumerate(layers[:16]))
        return cls(**kw)

    @property
    def groups(self) -> int:
        return self.phi_bins // self.lanes

    @property
    def beats_per_event(self) -> int:
        return self.eta_bins * self.groups

    @property
    def in_width(self) -> int:
        return self.lanes * len(self.layers) * self.code_width

    @property
    def in_links(self) -> int:
        return -(-self.in_width // WORD_BITS)

    def out_fields(self) -> list[tuple[str, int, int]]:
        """(name, first bit, width) of the decision record; sorted_pt holds slot i at bits i*W of its field."""
        widths = {"pass_pt1": 1, "pass_pt4": 1, "pt1": self.calib_width, "pt4": self.calib_width,
                  "sorted_pt": self.n_clusters * self.calib_width}
        out, lo = [], 0
        for name in OUTPUTS:
            out.append((name, lo, widths[name]))
            lo += widths[name]
        return out

    @property
    def out_width(self) -> int:
        return sum(w for _, _, w in self.out_fields())

    @property
    def out_links(self) -> int:
        return -(-self.out_width // WORD_BITS)

    def frames(self, n_events: int) -> int:
        """Frames of a pattern file of n back-to-back events: through the last event's output frame."""
        return (n_events - 1) * self.beats_per_event + self.latency + 1

    def cell(self, layer: int, eta: int, phi: int) -> tuple[int, int, int]:
        """(link, frame within the event, bit within the link word) of one cell's code."""
        bit = ((phi % self.lanes) * len(self.layers) + layer) * self.code_width
        return bit // WORD_BITS, eta * self.groups + phi // self.lanes, bit % WORD_BITS

    def input_beats(self, codes: np.ndarray) -> np.ndarray:
        """Codes (N, layers, eta, phi) -> beat payloads (N, beats) as Python ints (the chain's i_code)."""
        return image_beats(codes, self.lanes, 0, self.code_width)

    def codes(self, beats: np.ndarray) -> np.ndarray:
        """Inverse of `input_beats`."""
        return beats_image(beats, self.lanes, 0, self.code_width, len(self.layers), self.eta_bins)

    def output_records(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The emulator's decision arrays -> one record per event (Python ints)."""
        n = len(outputs["pt1"])
        rec = np.zeros(n, dtype=object)
        for name, lo, width in self.out_fields():
            vals = np.asarray(outputs[name]).astype(np.int64).reshape(n, -1)
            step = width // vals.shape[1]
            for i in range(vals.shape[1]):
                rec += vals[:, i].astype(object) << (lo + i * step)
        return rec

    def outputs(self, records: np.ndarray) -> dict[str, np.ndarray]:
        """Inverse of `output_records`: int64 arrays as the emulator's, sorted_pt (N, n_clusters)."""
        recs = np.asarray(records, dtype=object)
        return {name: split_fields(recs >> lo, self.calib_width, self.n_clusters) if name == "sorted_pt"
                else split_fields(recs >> lo, width, 1)[..., 0] for name, lo, width in self.out_fields()}

    def to_json(self) -> dict[str, Any]:
        """The map itself and what it implies for the links (rates, link count at the full bunch-crossing rate)."""
        link_gbps = WORD_BITS * self.clock_mhz / 1000
        frames_per_bx = self.clock_mhz / self.bx_mhz
        fields = [{"link": k, "bits": [b, b + self.code_width - 1], "lane": lane, "layer": self.layers[c]}
                  for lane in range(self.lanes) for c in range(len(self.layers))
                  for k, _, b in [self.cell(c, 0, lane)]]
        return {
            "map": {**asdict(self), "layers": list(self.layers)},
            "word_bits": WORD_BITS,
            "input": {"links": self.in_links, "beat_bits": self.in_width, "frames_per_event": self.beats_per_event,
                      "frame_of_cell": f"eta * {self.groups} + phi // {self.lanes}", "fields": fields},
            "output": {"links": self.out_links, "record_bits": self.out_width, "frames_per_event": 1,
                       "frame": f"first input frame of the event + {self.latency}",
                       "fields": [{"name": n, "bits": [lo, lo + w - 1]} for n, lo, w in self.out_fields()]},
            "link_payload_gbps": link_gbps,
            "frames_per_bx": frames_per_bx,
            "bx_per_event": math.ceil(self.beats_per_event / frames_per_bx),
            "links_for_full_rate": math.ceil(self.link_tbps * 1000 / link_gbps),
        }
