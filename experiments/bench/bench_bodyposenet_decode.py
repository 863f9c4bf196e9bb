"""BodyPoseNet decoding (peaks + PAF grouping) time per frame on one CPU core.

Synthesises ideal heatmaps/PAFs (:func:`poselift.detectors.standins.synthesize_maps`)
for 1, 5 and 20 people on a 368x368 input (46x46 heatmap grid, stride 8;
PAFs at the heatmap grid and at stride 2, 184x184, as TAO's deployable
model outputs them) and times :func:`poselift.detectors.bodyposenet.decode_people`.
Also checks that every person and joint is recovered within 1 px.

    python experiments/bench/bench_bodyposenet_decode.py [--repeats 200] [--cpu 0]

Prints a Markdown table and the machine.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402


def crowd(n: int, size: int = 368, seed: int = 0) -> list[np.ndarray]:
    """``n`` people on a grid over a ``size`` x ``size`` image, heights filling their cell, small jitter."""
    from poselift.detectors.standins import person_template

    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    cw, ch = size / cols, size / rows
    people = []
    for i in range(n):
        r, c = divmod(i, cols)
        h = ch * 0.82  # eyes and feet stay clear of the border heatmap cells (not refined sub-cell)
        p = person_template((c + 0.5) * cw, r * ch + 0.08 * ch, h)
        p += rng.normal(0, 0.01 * h, p.shape)
        people.append(p)
    return people


def recovered(found, people, tol: float = 1.0) -> tuple[int, int]:
    """(people matched with every joint within ``tol`` px, true people)."""
    ok = 0
    for t in people:
        if len(found) == 0:
            break
        err = np.nanmax(np.abs(found.keypoints - t[None]), axis=(1, 2))
        ok += int(np.nanmin(err) < tol)
    return ok, len(people)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--cpu", type=int, default=0, help="pin to this core (Linux)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    import torch

    torch.set_num_threads(1)
    from poselift.core.device import machine_description
    from poselift.detectors.bodyposenet import DecodeSettings, decode_people, find_peaks
    from poselift.detectors.standins import synthesize_maps

    size = 368
    settings = DecodeSettings()
    rows = []
    for n in (1, 5, 20):
        people = crowd(n, size)
        for paf_stride in (8, 2):
            hm, paf = synthesize_maps(people, input_size=(size, size), paf_stride=paf_stride, sigma=1.0, paf_width=1.0
                                      if paf_stride == 8 else 1.5)
            cell = (size / hm.shape[1], size / hm.shape[0])
            found = decode_people(hm, paf, settings, cell, size)  # warm-up
            ok, total = recovered(found, people)
            reps = args.repeats if n < 20 else max(args.repeats // 2, 1)
            t_all, t_peaks = [], []
            hm_j = np.ascontiguousarray(np.moveaxis(hm[..., :18], -1, 0))
            for _ in range(reps):
                t0 = time.perf_counter()
                decode_people(hm, paf, settings, cell, size)
                t1 = time.perf_counter()
                find_peaks(hm_j, settings.heatmap_threshold, 0.0, True, settings.max_peaks)
                t2 = time.perf_counter()
                t_all.append(t1 - t0)
                t_peaks.append(t2 - t1)
            rows.append((n, f"{hm.shape[0]}x{hm.shape[1]}", f"{paf.shape[0]}x{paf.shape[1]}",
                         1e3 * np.median(t_all), 1e3 * np.percentile(t_all, 90), 1e3 * np.median(t_peaks),
                         f"{ok}/{total}"))
    print(f"Machine: {machine_description()}; pinned to 1 core (cpu {args.cpu}), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch threads {torch.get_num_threads()}\n")
    print("| people | heatmap grid | PAF grid | decode median (ms) | decode p90 (ms) | of which peaks (ms) "
          "| people recovered (all joints < 1 px) |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for n, g, pg, med, p90, pk, rec in rows:
        print(f"| {n} | {g} | {pg} | {med:.2f} | {p90:.2f} | {pk:.2f} | {rec} |")


if __name__ == "__main__":
    main()
