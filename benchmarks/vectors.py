"""Benchmark: how fast the conformance vectors run, on memory and on SQLite.

Loads every vector under ``vectors/`` once, then runs them all ``--rounds`` times on the
in-memory reference and once on SQLite files, and prints vectors and steps per second. A
port's team can compare its runner's speed with this one; the project keeps the whole set
fast enough to run on every test run (a few seconds).

Run: ``python benchmarks/vectors.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from marketplace_core.adapters.sqlite import SqliteStorage
from marketplace_core.conformance import load_vector, run_vector, vector_files

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs on memory (default 3)")
    rounds = parser.parse_args().rounds
    vectors = [load_vector(path) for path in vector_files(VECTORS)]
    steps = sum(len(v.setup) + len(v.steps) for v in vectors)
    print(f"{len(vectors)} vectors, {steps} steps (setup included)")

    started = time.perf_counter()
    for _ in range(rounds):
        assert all(run_vector(v).passed for v in vectors)
    elapsed = (time.perf_counter() - started) / rounds
    print(
        f"memory: {elapsed:.2f} s per run, {len(vectors) / elapsed:,.0f} vectors/s, "
        f"{steps / elapsed:,.0f} steps/s"
    )

    with tempfile.TemporaryDirectory() as directory:
        names = itertools.count()

        def storage() -> SqliteStorage:
            return SqliteStorage(Path(directory) / f"{next(names)}.db")

        started = time.perf_counter()
        assert all(run_vector(v, storage).passed for v in vectors)
        elapsed = time.perf_counter() - started
    print(
        f"sqlite: {elapsed:.2f} s per run, {len(vectors) / elapsed:,.0f} vectors/s, "
        f"{steps / elapsed:,.0f} steps/s"
    )


if __name__ == "__main__":
    main()
