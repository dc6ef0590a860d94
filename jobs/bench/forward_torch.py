#!/usr/bin/python3
"""PyTorch-eager side of jobs/bench/forward (run by that script; Debian python3-torch and numpy, never pip).

Makes a Pythia-70m-shaped GPT-NeoX with random weights (6 layers, d_model 512, 8 heads, d_mlp 2048, vocab 50304,
rotary_pct 0.25, parallel residual), saves it as a HuggingFace checkpoint folder both sides load, writes the
benchmark batch and the reference's logits at each row's last token (so the Java side can show it computes the
same function), then times the plain-torch reference forward of src/test/resources/neox/make_fixtures.py
(transformers is not installable here) with the given number of threads.

usage: forward_torch.py WORKDIR BATCH SEQ_LEN ITERS THREADS make|time
  make: write the checkpoint, the batch and the reference logits; time: time the forward on them
"""
import importlib.util
import json
import os
import sys
import time

import torch

work, B, T, iters, threads, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
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
g = torch.Generator().manual_seed(1)
ids = torch.randint(1, cfg["vocab_size"], (B, T), generator=g)
mask = torch.ones(B, T, dtype=torch.int64)
ref = fx.NeoXReference(cfg, params)
if mode == "make":
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    fx.write_safetensors(os.path.join(model_dir, "model.safetensors"), params)
    with torch.no_grad():
        logits, hooks = ref.forward(ids, mask)
    fx.write_safetensors(os.path.join(work, "input.safetensors"), {"input_ids": ids, "last_logits": logits[:, -1, :].contiguous()})
    sys.exit(0)

with torch.no_grad():
    ref.forward(ids, mask)  # warm-up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        logits, hooks = ref.forward(ids, mask)
        times.append(time.perf_counter() - start)
# best of ITERS: on a shared machine the fastest pass is the one least disturbed by other processes
best = min(times)
print(f"TORCH tokens_per_s={B * T / best:.1f} best_seconds={best:.3f} mean_seconds={sum(times) / len(times):.3f} "
      f"threads={torch.get_num_threads()} torch={torch.__version__}")
