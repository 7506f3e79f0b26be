"""Persistent change on the simulated scene: scheduled visitors (some leaving a parcel, the next taking it), with
lighting drift, noise and optionally rain; prints false and missed "left" / "taken" and the cost per check.

Usage: python bench/persist.py [--visits 12] [--fps 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.sim.camera_scene import SceneOptions  # noqa: E402
from devices.vision.persist_replay import replay  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=12)
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    seconds = 10 + 60 * 1.5 * args.visits
    print(f"{'seed':>4} {'rain':>4} {'parcel_every':>12} {'visits':>6} {'parcels':>7} {'left':>4} {'taken':>5} "
          f"{'false left':>10} {'missed':>6} {'s':>6}")
    for seed, rain, every in ((1, 0, 0), (2, 300, 0), (3, 0, 2), (4, 300, 3)):
        started = time.perf_counter()
        got = replay(SceneOptions(seed=seed, rain=rain, visitor_every=60, first_visit=10, parcel_every=every),
                     seconds, fps=args.fps)
        # a "left" within 60 s after a parcel was put down is right; any other is false
        right = [t for t in got.left if any(0 <= t - down <= 60 for down, _ in got.parcels)]
        missed = sum(1 for down, _ in got.parcels if not any(0 <= t - down <= 60 for t in got.left))
        print(f"{seed:>4} {rain:>4} {every:>12} {got.visits:>6} {len(got.parcels):>7} {len(got.left):>4} "
              f"{len(got.taken):>5} {len(got.left) - len(right):>10} {missed:>6} {time.perf_counter() - started:>6.1f}")


if __name__ == "__main__":
    main()
