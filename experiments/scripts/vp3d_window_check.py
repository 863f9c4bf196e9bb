"""poselift's training windows against VideoPose3D's ``ChunkedGenerator``, window by window.

    python experiments/scripts/vp3d_window_check.py                       # Human3.6M S1, 10 % (gt 2D, rf 27)
    python experiments/scripts/vp3d_window_check.py --subjects S1,S5 --fraction 0.043 --rf 27 --causal

VideoPose3D's training rule is written here again from its maths (not from its code), for the strided model
it trains (``chunk_length`` 1):

* the labelled subset (``--subset f``): each sequence of ``T`` frames is cut to ``n = round(T f)`` frames from
  ``start = floor(u / (2**32 - 1) * (T - n + 1))``, ``u`` the first four bytes of SHA-256 of the decimal ``T``
  read little-endian; the 2D and the 3D are cut alike, so 2D context ends at the cut;
* one *pair* per frame ``f`` of each cut sequence, ``(sequence, f, f + 1, flip)``: first every frame plain,
  then (with ``--data-augmentation``) every frame again mirrored, sequence after sequence;
* the window of pair ``(s, f, f + 1)`` is the 2D frames ``[f - pad - shift, f + 1 + pad - shift)`` (``pad =
  (rf - 1) / 2``; ``shift`` = ``pad`` when causal, else 0), the part outside the sequence filled by repeating
  its first / last frame (``numpy.pad`` mode ``edge``); its target is the 3D of frame ``f``;
* a mirrored pair negates x of the 2D and 3D and swaps left and right joints;
* each epoch is one ``numpy.random.RandomState(1234).permutation`` of the pair list (the same generator,
  continued from epoch to epoch; the seed is fixed, not a command-line option), cut into batches.

poselift's side is what ``poselift train`` builds: :func:`~poselift.experiments.data.labelled_subset`, the
:class:`~poselift.training.window_bank.WindowBank` of :mod:`poselift.experiments.train_eval` and the
:class:`~poselift.training.trainer.Trainer`'s sample space and epoch order. The report: the labelled chunks,
the set of (sequence, frame, mirrored) samples, every window's 2D and 3D (edge padding included), the mirrored
twins, and the order (which differs by design: another generator; its statistics are compared).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field

import numpy as np

# ----------------------------------------------------------------------------- VideoPose3D's rule, from its maths


def vp3d_chunk(frames: int, fraction: float) -> tuple[int, int]:
    """``(start, n)`` of the labelled chunk VideoPose3D cuts from a sequence of ``frames`` frames."""
    if fraction >= 1:
        return 0, frames
    n = int(round(frames * fraction))
    u = int.from_bytes(hashlib.sha256(str(frames).encode()).digest()[:4], "little")
    return int(u / (2**32 - 1) * (frames - n + 1)), n


def vp3d_pairs(lengths, augment: bool = True) -> np.ndarray:
    """``(P, 4)`` int64 rows ``(sequence, start, end, flip)`` in VideoPose3D's list order (chunk length 1)."""
    rows = []
    for i, t in enumerate(lengths):
        f = np.arange(t)
        rows.append(np.stack([np.full(t, i), f, f + 1, np.zeros(t, np.int64)], 1))
        if augment:
            rows.append(np.stack([np.full(t, i), f, f + 1, np.ones(t, np.int64)], 1))
    return np.concatenate(rows).astype(np.int64)


def vp3d_window(seq: np.ndarray, start: int, end: int, pad: int, shift: int) -> np.ndarray:
    """Frames ``[start - pad - shift, end + pad - shift)`` of ``seq`` ``(T, ...)``, edge-filled outside it."""
    lo, hi = start - pad - shift, end + pad - shift
    a, b = max(lo, 0), min(hi, len(seq))
    part = seq[a:b]
    if a - lo or hi - b:
        part = np.pad(part, [(a - lo, hi - b)] + [(0, 0)] * (seq.ndim - 1), mode="edge")
    return part


def mirror(x: np.ndarray, left, right) -> np.ndarray:
    """x negated, left and right joints swapped: ``(..., J, C)``."""
    out = x.copy()
    out[..., 0] *= -1
    out[..., list(left) + list(right), :] = out[..., list(right) + list(left), :]
    return out


def vp3d_normalise(keypoints: np.ndarray, w: int, h: int) -> np.ndarray:
    """VideoPose3D's screen normalisation of pixel keypoints ``(..., 2)`` (x in [-1, 1], y scaled alike), in its
    number types: float32 pixels (its npz files) divided by ``w`` and doubled in float32, the offset
    ``(1, h / w)`` subtracted in float64, the result stored back into the float32 array."""
    kp = np.asarray(keypoints[..., :2], np.float32)
    return (kp / w * 2 - np.array([1, h / w])).astype(np.float32)


def vp3d_orders(n_pairs: int, epochs: int, seed: int = 1234) -> list[np.ndarray]:
    """The pair-list permutation of each epoch (one RandomState, continued across epochs)."""
    rng = np.random.RandomState(seed)
    return [rng.permutation(n_pairs) for _ in range(epochs)]


# ----------------------------------------------------------------------------- the comparison


@dataclass
class Report:
    """What differs (empty lists: nothing)."""

    sequences: int = 0
    windows: int = 0
    samples_vp3d: int = 0
    samples_poselift: int = 0
    chunk_differences: list = field(default_factory=list)
    only_vp3d: int = 0
    only_poselift: int = 0
    input_differences: list = field(default_factory=list)
    target_differences: list = field(default_factory=list)
    edge_windows: int = 0
    mirrored_twins_checked: int = 0
    mirrored_twin_differences: int = 0
    max_abs_input: float = 0.0
    max_abs_target: float = 0.0
    order: dict = field(default_factory=dict)

    @property
    def same_windows(self) -> bool:
        return not (self.chunk_differences or self.only_vp3d or self.only_poselift or self.input_differences
                    or self.target_differences or self.mirrored_twin_differences)


def order_statistics(order_pairs: np.ndarray, batch: int) -> dict:
    """Statistics of one epoch's order: rows ``(sequence, frame, flip)`` in the order fed, cut into batches."""
    n = len(order_pairs)
    starts = range(0, n, batch)
    twin_same_batch, flip_share, seqs_per_batch = 0, [], []
    for s in starts:
        b = order_pairs[s:s + batch]
        keys = b[:, 0] * 10**7 + b[:, 1]
        _, counts = np.unique(keys, return_counts=True)
        twin_same_batch += int((counts == 2).sum())
        flip_share.append(b[:, 2].mean())
        seqs_per_batch.append(len(np.unique(b[:, 0])))
    return {"batches": len(starts), "last_batch": n - (len(starts) - 1) * batch,
            "twins_in_one_batch": twin_same_batch, "mirrored_share_sd": float(np.std(flip_share)),
            "sequences_per_batch": float(np.mean(seqs_per_batch))}


def compare(inputs, targets, rf: int, causal: bool, left_in, right_in, left_out, right_out, bank, samples,
            orders=None, batch: int = 1024, chunks=None, check_every: int = 1) -> Report:
    """Compare VideoPose3D's windows of the (already cut) sequences with poselift's.

    Args:
        inputs, targets: per sequence ``(T_i, J_in, 2)`` 2D and ``(T_i, J_out, 3)`` root-relative 3D, cut as
            poselift cut them.
        bank: the poselift :class:`WindowBank` of those sequences.
        samples: ``(table, read)`` from :func:`poselift_samples`: ``(S, 3)`` rows ``(sequence, frame, mirrored)``
            of poselift's sample space and ``read(ks) -> (x, y)``, poselift's 2D windows ``(K, rf, J_in, 2)`` and
            3D targets ``(K, J_out, 3)`` of samples ``ks``, mirrored where the sample is.
        orders: ``{"vp3d": [perm...], "poselift": [perm...]}`` epoch orders (indices into each side's own
            sample list), for the order statistics.
        chunks: optional ``(full lengths, (start, n) per sequence as poselift cut them, fraction)`` to check the
            labelled chunks against VideoPose3D's rule.
        check_every: compare the contents of every ``check_every``-th VideoPose3D pair (1: all).
    """
    table, read = samples
    rep = Report(sequences=len(inputs), windows=int(bank.num_windows))
    if chunks is not None:
        full, cut, fraction = chunks
        for i, (t, c) in enumerate(zip(full, cut)):
            ref = vp3d_chunk(t, fraction)
            if tuple(ref) != tuple(c):
                rep.chunk_differences.append((i, t, tuple(ref), tuple(c)))
    pairs = vp3d_pairs([len(x) for x in inputs], augment=True)
    rep.samples_vp3d, rep.samples_poselift = len(pairs), len(table)
    key = lambda r: (r[:, 0] * 10**7 + r[:, 1]) * 2 + r[:, 2]  # noqa: E731
    k_v, k_p = key(pairs[:, [0, 1, 3]]), key(table)
    rep.only_vp3d = int(len(np.setdiff1d(k_v, k_p)))
    rep.only_poselift = int(len(np.setdiff1d(k_p, k_v)))
    pos_of = {int(k): j for j, k in enumerate(k_p)}
    pad = (rf - 1) // 2
    shift = pad if causal else 0
    check = np.arange(0, len(pairs), check_every)
    for s in range(0, len(check), 4096):
        rows = pairs[check[s:s + 4096]]
        ks = np.array([pos_of.get(int(k), -1) for k in key(rows[:, [0, 1, 3]])])
        ok = ks >= 0
        x_p, y_p = read(ks[ok])
        for (seq, a, b, flip), xp, yp in zip(rows[ok], x_p, y_p):
            x = vp3d_window(inputs[seq], a, b, pad, shift)
            y = vp3d_window(targets[seq], a, b, 0, 0)[0]
            rep.edge_windows += int(a - pad - shift < 0 or b + pad - shift > len(inputs[seq])) and not flip
            if flip:
                x, y = mirror(x, left_in, right_in), mirror(y, left_out, right_out)
                rep.mirrored_twins_checked += 1
            dx, dy = float(np.abs(x - xp).max()), float(np.abs(y - yp).max())
            rep.max_abs_input, rep.max_abs_target = max(rep.max_abs_input, dx), max(rep.max_abs_target, dy)
            if dx > 0:
                (rep.input_differences if len(rep.input_differences) < 20 else []).append((int(seq), int(a), int(flip), dx))
                if flip:
                    rep.mirrored_twin_differences += 1
            if dy > 0:
                (rep.target_differences if len(rep.target_differences) < 20 else []).append((int(seq), int(a), int(flip), dy))
    if orders:
        for name, perms in orders.items():
            src = pairs[:, [0, 1, 3]] if name == "vp3d" else table
            rep.order[name] = [order_statistics(src[p], batch) for p in perms]
        if "vp3d" in orders and "poselift" in orders:
            same = [bool(np.array_equal(k_v[a], k_p[b])) for a, b in zip(orders["vp3d"], orders["poselift"])]
            rep.order["identical_sequence_of_samples"] = same
    return rep


# ----------------------------------------------------------------------------- poselift's side


def poselift_samples(bank, trainer, perm_in, perm_out, epochs: int):
    """poselift's sample space (``duplicate`` flip mode) as rows ``(sequence, frame, mirrored)``, a reader of
    samples ``ks -> (2D windows, 3D targets)`` (mirrored as the trainer mirrors them) and ``epochs`` epoch orders
    from the trainer."""
    import torch

    from poselift.core.mirror import flip_rows_

    space, n = trainer._sample_space(bank), bank.num_windows
    k = np.arange(space)
    table = np.stack([bank.seq.numpy()[k % n], bank.frame.numpy()[k % n], (k >= n).astype(np.int64)], 1)
    orders = []
    for e in range(epochs):
        trainer.epoch = e
        orders.append(torch.cat(list(trainer._epoch_order(space, space))).numpy())
    trainer.epoch = 0

    def read(ks):
        idx = torch.as_tensor(ks % n)
        rows = torch.as_tensor(np.nonzero(ks >= n)[0])
        x, y = bank.windows(idx).clone(), bank.targets[idx].clone()
        flip_rows_(x, rows, perm_in)
        flip_rows_(y, rows, perm_out)
        return x.numpy(), y.numpy()

    return table, read, orders


def poselift_side(cfg, epochs: int = 2):
    """What ``poselift train`` builds for ``cfg``: the cut sequences, the bank, its samples and epoch orders."""
    from poselift.core.layouts import get_layout
    from poselift.experiments.data import labelled_subset, load_splits
    from poselift.experiments.train_eval import _bank, build_models
    from poselift.training.trainer import Trainer

    splits = load_splits(cfg, progress=False)
    protocol = splits.protocol
    model, _ = build_models(cfg, splits.layout_in, splits.layout_out)
    cut, ranges = labelled_subset(splits.train, cfg.data.labelled_fraction, protocol, cfg.seed)
    if ranges is not None:
        raise SystemExit(f"protocol {protocol.name} keeps whole sequences as context (subset rule "
                         f"{protocol.subset_rule!r}); this check compares VideoPose3D's cut sequences")
    bank = _bank(cut, cfg, model, "cpu", labelled=True)
    # the settings as poselift train makes them (the epoch definition and order are the protocol's)
    settings = dataclasses.replace(cfg.train, seed=cfg.seed, progress=False, flip_mode=protocol.flip_mode,
                                   window_order=protocol.window_order)
    trainer = Trainer(model, bank, settings, splits.layout_in, splits.layout_out, device="cpu")
    mode = settings.effective_flip_mode
    if mode != "duplicate":
        raise SystemExit(f"flip_mode {mode!r}: the epoch is not VideoPose3D's (every window plain and mirrored)")
    table, read, orders = poselift_samples(bank, trainer, get_layout(splits.layout_in).flip_permutation,
                                           get_layout(splits.layout_out).flip_permutation, epochs)
    inputs = [s.inputs(cfg.data.features, cfg.data.normalization) for s in cut]
    # VideoPose3D's input normalisation, from the pixels
    norm = max(float(np.abs(x - vp3d_normalise(s.keypoints, *s.image_size)).max()) for x, s in zip(inputs, cut))
    targets = [s.root_relative_3d() for s in cut]
    full = [len(s) for s in splits.train]
    return dict(inputs=inputs, targets=targets, bank=bank, samples=(table, read), orders=orders, full=full,
                cut=cut, splits=splits, layouts=(get_layout(splits.layout_in), get_layout(splits.layout_out)),
                model=model, batch=settings.batch_size, trainer=trainer, normalisation_max_abs=norm)


def _sides(layout):
    """Left and right joint indices of a layout (from its flip permutation: each joint's mirror image)."""
    perm = list(layout.flip_permutation)
    left = [j for j, m in enumerate(perm) if m != j and j < m]
    return left, [perm[j] for j in left]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/h36m", help="Human3.6M folder")
    ap.add_argument("--subjects", default="S1", help="training subjects (comma-separated)")
    ap.add_argument("--fraction", type=float, default=0.1, help="labelled fraction (VideoPose3D's --subset)")
    ap.add_argument("--rf", type=int, default=27, choices=[1, 27, 81, 243], help="receptive field")
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=2, help="epoch orders to compare")
    ap.add_argument("--seed", type=int, default=0, help="poselift's seed")
    ap.add_argument("--window-order", choices=["seeded", "vp3d"], default="seeded",
                    help="poselift's train.window_order (vp3d: VideoPose3D's fixed-seed order)")
    ap.add_argument("--check-every", type=int, default=1, help="compare every n-th window's contents")
    ap.add_argument("--json", help="write the report here")
    args = ap.parse_args(argv)

    from poselift.core.windows import widths_for
    from poselift.experiments.config import ExperimentConfig

    cfg = ExperimentConfig(name="vp3d_window_check")
    cfg.seed = args.seed
    cfg.data.dataset, cfg.data.path, cfg.data.keypoints = "h36m", args.data, "gt"
    cfg.data.train_subjects = args.subjects.split(",")
    cfg.data.labelled_fraction = args.fraction
    cfg.model.widths, cfg.model.channels, cfg.model.causal = list(widths_for(args.rf)), 16, args.causal
    cfg.train.batch_size = args.batch
    cfg.train.window_order = args.window_order
    side = poselift_side(cfg, args.epochs)
    lay_in, lay_out = side["layouts"]
    l_in, r_in = _sides(lay_in)
    l_out, r_out = _sides(lay_out)
    # the chunk poselift cut from each sequence: (first frame, frames)
    cut = [(part.start_frame - whole.start_frame, len(part)) for whole, part in zip(side["splits"].train, side["cut"])]
    vp_orders = vp3d_orders(2 * sum(len(x) for x in side["inputs"]), args.epochs)
    rep = compare(side["inputs"], side["targets"], args.rf, args.causal, l_in, r_in, l_out, r_out, side["bank"],
                  side["samples"], orders={"vp3d": vp_orders, "poselift": side["orders"]}, batch=args.batch,
                  chunks=(side["full"], cut, args.fraction), check_every=args.check_every)
    out = {k: v for k, v in rep.__dict__.items()}
    out["same_windows"] = rep.same_windows
    out["input_normalisation_max_abs"] = side["normalisation_max_abs"]  # poselift's inputs vs VideoPose3D's rule
    text = json.dumps(out, indent=1, default=str)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    return 0 if rep.same_windows else 1


if __name__ == "__main__":
    sys.exit(main())
