"""Every run of a session, kept until the learner clears it, and labels saying how runs differ.

    RunHistory   the runs of one page in one session (it lives in st.session_state, never in a
                 module global): add, find by what defines the experiment, get by number, clear;
                 with a ``limit``, only the newest runs are kept
    differing    which facts differ between some runs
    labels       each run labelled by what differs from the others ("ReLU, 10 layers")
    versus       the same as one title ("ReLU, 10 layers vs sigmoid, 5 layers")

A run's ``facts`` are its defining settings in words, by name ({"activation": "ReLU", "layers":
"10 layers"}), written by the page; its ``settings`` are whatever the page needs to restore it.
Pages other than Weight init can keep their runs here too: nothing in it knows what a run is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Iterator, Mapping, Sequence


@dataclass
class Run:
    """One finished run: its number in the session (1, 2, ...), what it was made with, and what
    it gave."""

    number: int
    key: Hashable                 # what makes two runs the same experiment
    settings: Any                 # what the page needs to restore the run's settings
    facts: dict[str, str]         # the defining settings in words, by name
    result: Any                   # curves, final figures...
    seconds: float = 0.0


@dataclass
class RunHistory:
    """The runs of one page in one session, oldest first."""

    runs: list[Run] = field(default_factory=list)
    _next: int = 1
    limit: int | None = None      # keep at most this many runs (the newest); None: all

    def add(self, key: Hashable, settings: Any, facts: Mapping[str, str], result: Any,
            seconds: float = 0.0) -> Run:
        """Keep a new run (one with the same key is replaced: the same experiment, run again; beyond
        ``limit`` runs, the oldest is forgotten)."""
        self.runs = [r for r in self.runs if r.key != key]
        run = Run(self._next, key, settings, dict(facts), result, seconds)
        self._next += 1
        self.runs.append(run)
        if self.limit is not None and len(self.runs) > self.limit:
            del self.runs[:len(self.runs) - self.limit]
        return run

    def find(self, key: Hashable) -> Run | None:
        return next((r for r in self.runs if r.key == key), None)

    def get(self, number: int) -> Run | None:
        return next((r for r in self.runs if r.number == number), None)

    def clear(self) -> None:
        """Forget every run (numbering starts again at 1)."""
        self.runs.clear()
        self._next = 1

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)


def differing(runs: Sequence[Run]) -> list[str]:
    """The names of the facts whose words are not the same in all ``runs`` (in the order of the
    first run's facts; a fact a run lacks counts as different)."""
    names = list(dict.fromkeys(name for r in runs for name in r.facts))
    return [n for n in names if len({r.facts.get(n, "") for r in runs}) > 1]


def labels(runs: Sequence[Run]) -> dict[int, str]:
    """Run number -> what sets it apart from the other ``runs`` ("ReLU, 10 layers"); "" for a run
    shown alone, "run 3" when nothing tells them apart."""
    if len(runs) < 2:
        return {r.number: "" for r in runs}
    names = differing(runs)
    return {r.number: ", ".join(r.facts.get(n, "") for n in names if r.facts.get(n)) or f"run {r.number}"
            for r in runs}


def versus(runs: Sequence[Run]) -> str:
    """The runs' labels as one phrase: "ReLU vs sigmoid"; "" for fewer than two runs."""
    return " vs ".join(labels(runs).values()) if len(runs) > 1 else ""
