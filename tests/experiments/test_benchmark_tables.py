"""``run_bench`` turns measurements into tables and JSON: with the measurements replaced by known numbers
(timings are noisy, so nothing here times anything), every derived column is checked against the same
arithmetic done here, the sections chosen are the sections run, and the JSON file holds the returned dict."""
from __future__ import annotations

import json

import pytest
import torch

import poselift.experiments.benchmark as B


@pytest.fixture
def fake(monkeypatch):
    """Known numbers in place of every measurement; records which benchmarks ran."""
    calls = []
    monkeypatch.setattr(B, "matmul_ceiling", lambda dev, dtype=None, reps=10, tf32=False: 1000.0)
    monkeypatch.setattr(B, "memory_bandwidth", lambda dev: 50.0)

    def inference(rf, ch, dev, frames, nseq):
        calls.append(("inference", rf, ch, frames, nseq))
        return dict(rf=rf, channels=ch, mflop_per_frame=1.0, fps=400.0, fps_plain=100.0, gflops=250.0)

    def streaming(rf, ch, dev, frames):
        calls.append(("streaming", rf, ch, frames))
        return dict(rf=rf, channels=ch, weight_mib=4.0, stream_median_ms=0.1, stream_p99_ms=0.2,
                    recompute_median_ms=1.0, speedup=10.0, gflops=2.0)

    def training(rf, ch, dev, w, amp=False, variant="matrix products"):
        calls.append(("training", rf, ch, w, variant))
        speed = 1000.0 if variant == "0.1 step (baseline)" else 1500.0
        return dict(rf=rf, channels=ch, variant=variant, amp=amp, windows_per_s=speed, gflops=100.0,
                    h36m_epoch_s=90.0, schedule_h=1.5, epochs=60)

    def onnx(rf, ch, frames, steps):
        calls.append(("onnx", rf, ch, frames, steps))
        return dict(rf=rf, channels=ch, torch_fps=10.0, ort_fps=20.0, torch_step_median_ms=0.5)

    for name, fn in (("bench_inference", inference), ("bench_streaming", streaming),
                     ("bench_training", training), ("bench_onnx", onnx)):
        monkeypatch.setattr(B, name, fn)
    return calls


def test_tables_and_json_from_known_measurements(fake, tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = B.run_bench("cpu", quick=True, channels=(256,), out=str(out))
    text = capsys.readouterr().out
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["ceilings"] == {"fp32": 1000.0, "bandwidth": 50.0}
    assert [c[0] for c in fake] == ["inference"] * 3 + ["streaming"] * 3 + ["training"] * 9 + ["onnx"]
    assert {c[1] for c in fake if c[0] == "inference"} == {27, 81, 243}
    # inference: speed-up 400/100 and 250 GFLOP/s of a 1000 GFLOP/s ceiling
    assert "| 27 | 256 | 1.0 | 400 | 100 | 4.00x | 250 | 25% |" in text
    # streaming: 4 MiB read at 50 GB/s is the floor; 0.1 ms achieved
    floor = 4.0 * 2**20 / 50e9 * 1e3
    assert result["streaming"][0]["floor_ms"] == pytest.approx(floor)
    assert f"| {floor:.3f} | {floor / 0.1:.0%} |" in text
    # training: every variant against the baseline step of the same (rf, channels)
    threads = torch.get_num_threads()
    assert f"| 243 | 256 | matrix products | fp32 | 1,500 | {1500 / threads:,.0f} | 1.50x | 100 | 10% | 1.5 min |" \
        in text
    assert "| 243 | 256 | 0.1 step (baseline) | fp32 | 1,000 |" in text
    assert "| 243 | 256 | 10 | 20 | 0.500 | nan |" in text  # ONNX: no ONNX Runtime step time -> nan


def test_sections_choose_what_runs(fake, capsys):
    result = B.run_bench("cpu", quick=True, sections=("streaming",), channels=(64, 1024))
    assert set(result) == {"machine", "threads", "torch", "quick", "ceilings", "streaming"}
    assert [(c[0], c[2]) for c in fake] == [("streaming", 64)] * 3 + [("streaming", 1024)] * 3
    assert "### Training" not in capsys.readouterr().out
