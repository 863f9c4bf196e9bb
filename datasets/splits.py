"""The sequences of one experiment: training, test and unlabelled, with the protocol they follow.

A :class:`Splits` is what every dataset (Human3.6M, a VideoPose3D-format
archive, the synthetic data, a user's loader function) comes down to. The
joint layouts are read from the sequences themselves (all sequences of the
2D input share one layout, all 3D another), so a model built from a Splits
always fits its data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from poselift.core.errors import InputError
from poselift.core.sequence import PoseSequence
from poselift.datasets.protocols import CUSTOM, Protocol

__all__ = ["Splits"]


@dataclass
class Splits:
    """Sequences of one experiment.

    Attributes:
        train: labelled training sequences (with 3D).
        test: evaluation sequences (with 3D).
        unlabelled: sequences for back-projection (2D and cameras; their 3D, if any, is never used).
        dataset: what the data is, for tables (``"h36m"``, ``"synthetic"``, ``"npz:<file>"``, ``"loader:<fn>"``).
        protocol: the :class:`~poselift.datasets.protocols.Protocol` the splits follow.
        notes: statements every results table must carry (e.g. missing data).
        report: what this copy of the data lacks against the protocol's reference counts
            (``{"train": {...}, "test": {...}}``; empty when unknown).
    """

    train: list[PoseSequence]
    test: list[PoseSequence]
    unlabelled: list[PoseSequence] = field(default_factory=list)
    dataset: str = ""
    protocol: Protocol = CUSTOM
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("train", "test", "unlabelled"):
            seqs = getattr(self, name)
            if not isinstance(seqs, (list, tuple)) or any(not isinstance(s, PoseSequence) for s in seqs):
                raise InputError(f"Splits.{name} must be a list of PoseSequence")
            setattr(self, name, list(seqs))
        self._layouts()  # fail early on mixed layouts

    def _layouts(self) -> tuple[str, str]:
        ins = {s.layout.name for s in [*self.train, *self.test, *self.unlabelled]}
        outs = {s.layout3d.name for s in [*self.train, *self.test] if s.poses3d is not None}
        if len(ins) > 1:
            by = {n: [f"{s.subject}/{s.action}" for s in [*self.train, *self.test, *self.unlabelled]
                      if s.layout.name == n][:2] for n in sorted(ins)}
            raise InputError(f"the sequences' 2D come in several joint layouts {by}; convert them to one "
                             "(PoseSequence.converted) before training")
        if len(outs) > 1:
            raise InputError(f"the sequences' 3D come in several joint layouts {sorted(outs)}")
        if not ins:
            raise InputError("no sequences at all")
        return ins.pop(), (outs.pop() if outs else "")

    @property
    def layout_in(self) -> str:
        """Joint layout of the 2D input, read from the sequences."""
        return self._layouts()[0]

    @property
    def layout_out(self) -> str:
        """Joint layout of the 3D, read from the sequences."""
        return self._layouts()[1]

    @classmethod
    def from_value(cls, value: Any, where: str) -> "Splits":
        """A :class:`Splits` from a loader function's return value: a Splits, or a mapping with ``train``,
        ``test`` and optionally ``unlabelled``, ``notes``, ``dataset``."""
        if isinstance(value, Splits):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"train", "test", "unlabelled", "notes", "dataset"}
            if unknown or not {"train", "test"} <= set(value):
                raise InputError(f"{where} returned a mapping with keys {sorted(value)}; expected a Splits or a "
                                 "mapping with 'train' and 'test' (lists of PoseSequence), optionally "
                                 "'unlabelled', 'notes', 'dataset'")
            return cls(list(value["train"]), list(value["test"]), list(value.get("unlabelled", [])),
                       str(value.get("dataset", "")), notes=list(value.get("notes", [])))
        raise InputError(f"{where} returned a {type(value).__name__}; expected a Splits (poselift.datasets.splits) "
                         "or a mapping with 'train' and 'test'")

    def summary(self) -> str:
        frames = lambda seqs: sum(len(s) for s in seqs)  # noqa: E731
        return (f"{self.dataset or 'data'} ({self.protocol.name}): {len(self.train)} training sequences "
                f"({frames(self.train):,} frames), {len(self.test)} test ({frames(self.test):,} frames), "
                f"{len(self.unlabelled)} unlabelled; 2D {self.layout_in} -> 3D {self.layout_out}")


def count_frames(seqs: Sequence[PoseSequence]) -> int:
    return int(sum(len(s) for s in seqs))
