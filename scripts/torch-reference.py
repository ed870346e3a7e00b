#!/usr/bin/env python3
"""Side-by-side reference figures from PyTorch on the same GPU as golem's
bundle run (scripts/gpu-run.sh), so that golem's numbers can be given as
ratios measured in one run: copy bandwidth, bf16 GEMM, and scaled dot-product
attention (SDPA) at the shapes of golem's attention benchmark and of the
CUDA fast-path targets. Usage: python3 torch-reference.py OUT.json

FLOPs and bytes are counted as golem's bench counts them (bench/doc.go):
attention FLOPs = 2*B*Hq*(D+Dv)*P, P the (query, key) pairs scored per head
(Sq*Skv, or Sq*(Skv-Sq) + Sq*(Sq+1)/2 when causal); decode bytes = K and V
read once plus Q read and O written.
"""
import json
import statistics
import sys

import torch
import torch.nn.functional as F


def timed(fn, reps=20, warmup=3):
    """Median seconds of fn over reps runs, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return statistics.median(times)


def pairs(sq, skv, causal):
    if not causal:
        return sq * skv
    return sq * (skv - sq) + sq * (sq + 1) // 2


def sdpa_rows(dev, dtype):
    rows = []
    cases = [
        # (name, B, Hq, Hkv, D, Sq, Skv, causal)
        ("prefill:b1,h32,kv32,d128,s4096,causal", 1, 32, 32, 128, 4096, 4096, True),
        ("prefill:b1,h32,kv8,d128,s2048,causal", 1, 32, 8, 128, 2048, 2048, True),
        ("decode:b1,h32,kv8,d128,kv32768", 1, 32, 8, 128, 1, 32768, False),
        ("decode:b16,h32,kv8,d128,kv4096", 16, 32, 8, 128, 1, 4096, False),
    ]
    backends = {
        "flash": torch.nn.attention.SDPBackend.FLASH_ATTENTION,
        "efficient": torch.nn.attention.SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": torch.nn.attention.SDPBackend.CUDNN_ATTENTION,
        "math": torch.nn.attention.SDPBackend.MATH,
    }
    for name, b, hq, hkv, d, sq, skv, causal in cases:
        q = torch.randn(b, hq, sq, d, device=dev, dtype=dtype)
        k = torch.randn(b, hkv, skv, d, device=dev, dtype=dtype)
        v = torch.randn(b, hkv, skv, d, device=dev, dtype=dtype)
        flops = 2 * b * hq * (2 * d) * pairs(sq, skv, causal)
        esz = q.element_size()
        nbytes = 2 * b * skv * hkv * d * esz + 2 * b * sq * hq * d * esz
        for bname, be in backends.items():
            if bname == "math" and sq > 1:
                continue  # the unfused path is no reference for prefill
            try:
                with torch.nn.attention.sdpa_kernel(be):
                    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=hkv != hq)
                    t = timed(fn)
            except Exception as e:  # a backend that refuses the shape
                rows.append({"case": name, "variant": bname, "dtype": str(dtype), "error": str(e)[:200]})
                continue
            rows.append({"case": name, "variant": bname, "dtype": str(dtype), "seconds": t,
                         "tflops": flops / t / 1e12, "gbps": nbytes / t / 1e9})
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "torch.json"
    dev = torch.device("cuda")
    rows = []
    # Device-to-device copy of 2 GiB: bytes read + written per second.
    n = (2 << 30) // 4
    src = torch.empty(n, dtype=torch.float32, device=dev)
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src), reps=10)
    rows.append({"case": "copy 2 GiB", "seconds": t, "gbps": 2 * n * 4 / t / 1e9})
    del src, dst
    # GEMMs golem's bench and the fast-path targets use.
    for m, nn, k, dtype in [(4096, 4096, 4096, torch.bfloat16), (4096, 4096, 4096, torch.float16),
                            (8192, 8192, 8192, torch.bfloat16), (1, 14336, 4096, torch.bfloat16),
                            (512, 2048, 2048, torch.float16), (512, 4096, 4096, torch.bfloat16),
                            (512, 4096, 4096, torch.float16)]:
        a = torch.randn(m, k, device=dev, dtype=dtype)
        w = torch.randn(nn, k, device=dev, dtype=dtype)
        t = timed(lambda: a @ w.T)
        rows.append({"case": f"gemm m{m} n{nn} k{k}", "dtype": str(dtype), "seconds": t,
                     "tflops": 2 * m * nn * k / t / 1e12,
                     "gbps": (m * k + nn * k + m * nn) * a.element_size() / t / 1e9})
        del a, w
    rows += sdpa_rows(dev, torch.bfloat16)
    rows += sdpa_rows(dev, torch.float16)
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0)}
    with open(out, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=1)
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
