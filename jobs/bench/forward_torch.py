#!/usr/bin/python3
"""PyTorch-eager side of jobs/bench/forward (run by that script; Debian python3-torch and numpy, never pip).

Makes a Pythia-70m-shaped GPT-NeoX with random weights (6 layers, d_model 512, 8 heads, d_mlp 2048, vocab 50304,
rotary_pct 0.25, parallel residual), saves it as a HuggingFace checkpoint folder both sides load, writes the
benchmark batch and the reference's logits at each row's last token (so the Java side can show it computes the
same function), then times the plain-torch reference forward of src/test/resources/neox/make_fixtures.py
(transformers is not installable here) with the given number of threads.

usage: forward_torch.py WORKDIR BATCH SEQ_LEN ITERS THREADS
"""
import importlib.util
import json
import os
import sys
import time

import torch

work, B, T, iters, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(root, "src/test/resources/neox/make_fixtures.py"))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

torch.set_num_threads(threads)
cfg = fx.config(512, 8, 6, 0.25, True, False)
cfg.update(vocab_size=50304, max_position_embeddings=2048, intermediate_size=2048)
model_dir = os.path.join(work, "model")
os.makedirs(model_dir, exist_ok=True)
params = fx.random_params(cfg, seed=70)
with open(os.path.join(model_dir, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
fx.write_safetensors(os.path.join(model_dir, "model.safetensors"), params)

g = torch.Generator().manual_seed(1)
ids = torch.randint(1, cfg["vocab_size"], (B, T), generator=g)
mask = torch.ones(B, T, dtype=torch.int64)
ref = fx.NeoXReference(cfg, params)
with torch.no_grad():
    logits, hooks = ref.forward(ids, mask)
fx.write_safetensors(os.path.join(work, "input.safetensors"), {"input_ids": ids, "last_logits": logits[:, -1, :].contiguous()})

with torch.no_grad():
    ref.forward(ids, mask)  # warm-up
    start = time.perf_counter()
    for _ in range(iters):
        logits, hooks = ref.forward(ids, mask)
    elapsed = time.perf_counter() - start
print(f"TORCH tokens_per_s={B * T * iters / elapsed:.1f} seconds_per_forward={elapsed / iters:.3f} threads={torch.get_num_threads()} torch={torch.__version__}")
