#!/usr/bin/python3
"""Independent reference for TorchReferenceTest: a few training steps of a tiny transcoder in PyTorch.

Run from the repository root with Debian's torch (python3-torch 1.13):
    /usr/bin/python3 src/test/resources/transcoder/make_torch_reference.py
Writes src/test/resources/transcoder/torch_reference.json (initial weights, batches, per-step loss, final weights).

The loss is written as a forward pass only and differentiated by torch autograd; the optimiser is torch.optim.Adam
with the learning rate set before each step from the schedule below (SAELens-style linear warm-up, then a linear
decay over the last steps; lambda warms up linearly). Everything runs in float64, so the Java side (float32) is
compared with a tolerance.
"""
import json
import os

import torch

D_IN, D_SAE, D_OUT, ROWS, STEPS = 6, 10, 5, 8, 6
LR, LR_END, LR_WARM, LR_DECAY = 0.01, 0.002, 2, 2
L1, L1_WARM = 0.05, 3
S_IN, S_OUT = 1.7, 0.6
BETAS, EPS = (0.9, 0.999), 1e-8


def lr_at(s):
    if s < LR_WARM:
        return LR * (s + 1) / LR_WARM
    start = STEPS - LR_DECAY
    if LR_DECAY > 0 and s >= start:
        return LR + (LR_END - LR) * (s - start + 1) / LR_DECAY
    return LR


def l1_at(s):
    return L1 * (s + 1) / L1_WARM if s < L1_WARM else L1


def main():
    g = torch.Generator().manual_seed(1234)
    w_enc = (torch.randn(D_IN, D_SAE, generator=g, dtype=torch.float64) * 0.4).float().double()
    b_enc = (torch.randn(D_SAE, generator=g, dtype=torch.float64) * 0.2).float().double()
    w_dec = (torch.randn(D_SAE, D_OUT, generator=g, dtype=torch.float64) * 0.4).float().double()
    b_dec = (torch.randn(D_OUT, generator=g, dtype=torch.float64) * 0.1).float().double()
    xs = [(torch.randn(ROWS, D_IN, generator=g, dtype=torch.float64)).float().double() for _ in range(STEPS)]
    ts = [(torch.randn(ROWS, D_OUT, generator=g, dtype=torch.float64)).float().double() for _ in range(STEPS)]
    init = [p.clone() for p in (w_enc, b_enc, w_dec, b_dec)]
    params = [p.clone().requires_grad_(True) for p in init]
    opt = torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for s in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lr_at(s)
        we, be, wd, bd = params
        x = xs[s] * S_IN
        t = ts[s] * S_OUT
        z = torch.relu(x @ we + be)
        y = z @ wd + bd
        mse = ((y - t) ** 2).sum(dim=-1).mean()
        l1 = (z * wd.norm(dim=1)).sum(dim=-1).mean()
        loss = mse + l1_at(s) * l1
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()

    def flat(a):
        return [float(v) for v in a.detach().reshape(-1).tolist()]

    out = {
        "d_in": D_IN, "d_sae": D_SAE, "d_out": D_OUT, "rows": ROWS, "steps": STEPS,
        "lr": LR, "lr_end": LR_END, "lr_warm_up_steps": LR_WARM, "lr_decay_steps": LR_DECAY,
        "l1_coefficient": L1, "l1_warm_up_steps": L1_WARM, "input_scale": S_IN, "target_scale": S_OUT,
        "init": {n: flat(p) for n, p in zip(("W_enc", "b_enc", "W_dec", "b_dec"), init)},
        "inputs": [flat(x) for x in xs],
        "targets": [flat(t) for t in ts],
        "losses": losses,
        "final": {n: flat(p) for n, p in zip(("W_enc", "b_enc", "W_dec", "b_dec"), params)},
        "torch_version": torch.__version__,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
