"""Pythia 8 settings for every physics process of the dataset (14 TeV pp).

The settings are the ones measured in ../shared/notes/physics-data-feasibility.md. Pythia 8.3
has no non-resonant SM HH production, so both HH -> 4b samples are heavy-scalar proxies
(H2 -> h h with h -> b b-bar); see `HH_PROXY_NOTE`.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON_SETTINGS: tuple[str, ...] = (
    "Beams:idA = 2212",
    "Beams:idB = 2212",
    "Beams:eCM = 14000.",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Print:quiet = on",
    "PartonLevel:MPI = on",
    "HadronLevel:all = on",
)

HH_PROXY_NOTE = (
    "Pythia 8.3 has no non-resonant SM HH production: HH -> bbbb is modelled by a heavy CP-even "
    "scalar H2 (PDG 35) decaying to h h with h -> b b-bar. ggF uses a broad H2 (m0 400 GeV, width "
    "150 GeV, 260-1000 GeV) so m_hh resembles the SM spectrum; VBF uses a narrow 300 GeV H2. The "
    "cross sections of these samples are not physical HH normalisations."
)

_H_TO_BB = ("25:onMode = off", "25:onIfMatch = 5 -5")
_H2_TO_HH = ("35:onMode = off", "35:onIfMatch = 25 25")


@dataclass(frozen=True)
class Process:
    """One generated sample: its role in the dataset and the Pythia settings that make it."""

    name: str
    code: int          # stable number used in global event ids; never reuse a retired code
    role: str          # "signal", "background" or "pileup"
    description: str
    settings: tuple[str, ...]
    weighted: bool = False
    note: str = ""

    def pythia_settings(self, seed: int | str) -> list[str]:
        """Every line passed to `Pythia.readString` for a generator seeded with `seed`."""
        return [*COMMON_SETTINGS, "Random:setSeed = on", f"Random:seed = {seed}", *self.settings]


PROCESSES: dict[str, Process] = {p.name: p for p in (
    Process("ggHH_4b", 1, "signal", "ggF HH -> bbbb (broad heavy-scalar proxy)",
            ("Higgs:useBSM = on", "HiggsBSM:gg2H2 = on", "35:m0 = 400.", "35:mWidth = 150.",
             "35:doForceWidth = on", "35:mMin = 260.", "35:mMax = 1000.", *_H2_TO_HH, *_H_TO_BB),
            note=HH_PROXY_NOTE),
    Process("vbfHH_4b", 2, "signal", "VBF HH -> bbbb (300 GeV heavy-scalar proxy)",
            ("Higgs:useBSM = on", "HiggsBSM:ff2H2ff(t:WW) = on", "HiggsBSM:ff2H2ff(t:ZZ) = on",
             "35:m0 = 300.", *_H2_TO_HH, *_H_TO_BB),
            note=HH_PROXY_NOTE),
    Process("ttbar_had", 3, "signal", "ttbar -> bbqqqq (all-hadronic)",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5")),
    Process("ZH_nnbb", 4, "signal", "ZH -> nu nu b b-bar",
            ("HiggsSM:ffbar2HZ = on", "23:onMode = off", "23:onIfAny = 12 14 16", *_H_TO_BB)),
    Process("qcd", 5, "background", "QCD multijet, pT-hat > 20 GeV, bias-weighted by (pT-hat/20 GeV)^4",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 20.", "PhaseSpace:bias2Selection = on",
             "PhaseSpace:bias2SelectionPow = 4.", "PhaseSpace:bias2SelectionRef = 20."),
            weighted=True,
            note="Events are oversampled at high pT-hat so the trigger region (leading jet 50-300 GeV) is "
                 "populated; every event carries the generator weight that undoes the bias."),
    Process("qcd_dijet", 7, "background", "di-jet QCD, pT-hat > 20 GeV, unweighted (the paper's background)",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 20."),
            note="Unweighted 2 -> 2 QCD as in the paper's Table 3: every event has weight 1, so the FPR is "
                 "the fraction of these events; the pT-hat minimum equals the truth-jet pT minimum."),
    Process("minbias", 6, "pileup", "soft QCD, inelastic (pile-up pool)", ("SoftQCD:inelastic = on",)),
)}

HARD_PROCESSES: tuple[str, ...] = tuple(n for n, p in PROCESSES.items() if p.role != "pileup")
SIGNAL_PROCESSES: tuple[str, ...] = tuple(n for n, p in PROCESSES.items() if p.role == "signal")
PILEUP_PROCESS = "minbias"

