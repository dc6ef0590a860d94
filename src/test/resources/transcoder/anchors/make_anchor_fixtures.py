#!/usr/bin/env python3
"""Writes small transcoders in the layouts the anchors themselves save, and what the anchors compute from them.

Neither torch, safetensors nor sae_lens is needed (nor installed where the tests run): the files are written byte
for byte as the anchors' save code would write them, and the expected outputs are the anchors' own encode/decode
formulas transcribed to numpy. Run it from anywhere; it rewrites the files beside it:

    python3 make_anchor_fixtures.py

What each fixture reproduces (SAELens 6.18.0, circuit-tracer at commit 4bb8c0e):

  sae_lens_transcoder/            Transcoder(TranscoderConfig(...)).save_model(dir)         sae_lens/saes/transcoder.py
  sae_lens_skip_transcoder/       SkipTranscoder(SkipTranscoderConfig(...)).save_model(dir)
  sae_lens_jumprelu_transcoder/   JumpReLUTranscoder(JumpReLUTranscoderConfig(...)).save_model(dir)
  sae_lens_topk_sae/              TopKSAE(TopKSAEConfig(k=4, rescale_acts_by_decoder_norm=True)).save_model(dir)
  circuit_tracer_jump_relu_skip.safetensors
                                  SingleLayerTranscoder(8, 16, JumpReLU(threshold), 3, skip_connection=True,
                                      dtype=float32).to_safetensors(path)   circuit_tracer/transcoder/...
  circuit_tracer_relu_bf16.safetensors
                                  the same with F.relu, no skip, and the class's default dtype bfloat16

save_model (sae_lens/saes/sae.py) writes cfg.json with json.dump(self.cfg.to_dict()) and sae_weights.safetensors
(sae_lens/constants.py) with safetensors' save_file(state_dict); to_safetensors writes one file with save_file.
"""
import json
import pathlib
import struct

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
D_IN = D_OUT = 8
D_SAE = 16
LAYER = 3
ROWS = 6
MODEL = "pythia-70m-deduped"
SAE_LENS_VERSION = "6.18.0"
# Every decision in the anchors' forward passes (pre > threshold, pre > 0, membership of the top k) is kept at least
# this far from its boundary, so fp32 rounding in Java cannot flip one and the expected outputs are exact targets.
MARGIN = 1e-3

# safetensors' Dtype enum order (safetensors/src/tensor.rs): save_file sorts tensors by descending dtype, then name.
DTYPE_RANK = {"F16": 7, "BF16": 8, "F32": 11, "I64": 13}


def bf16_round(a):
    """fp32 values rounded to the nearest bfloat16 (ties to even), as torch's .to(torch.bfloat16)."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def tensor_bytes(dtype, a):
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "BF16":
        bits = bf16_round(a).view(np.uint32) >> 16
        return np.ascontiguousarray(bits.astype("<u2")).tobytes()
    if dtype == "I64":
        return np.ascontiguousarray(a, dtype="<i8").tobytes()
    raise ValueError(dtype)


def save_file(path, tensors):
    """safetensors.torch.save_file(tensors, path) with metadata=None: serde_json's compact header (no
    __metadata__), keys in data order, padded with spaces to a multiple of 8, after its u64 little-endian length."""
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_RANK[kv[1][0]], kv[0]))
    header = {}
    blobs = []
    offset = 0
    for name, (dtype, a) in items:
        raw = tensor_bytes(dtype, a)
        header[name] = {"dtype": dtype, "shape": list(np.shape(a)), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def sae_lens_cfg(architecture, hook_name_out=True, **extra):
    """SAEConfig.to_dict(): the dataclass fields in declaration order (metadata replaced by its dict in place),
    a subclass's own fields after them, then "architecture"; json.dump's default separators, no newline."""
    metadata = {
        # SAEMetadata.__init__ sets the two versions first, then the keyword arguments in order
        "sae_lens_version": SAE_LENS_VERSION,
        "sae_lens_training_version": SAE_LENS_VERSION,
        "model_name": MODEL,
        "hook_name": f"blocks.{LAYER}.ln2.hook_normalized",
    }
    if hook_name_out:
        metadata["hook_name_out"] = f"blocks.{LAYER}.hook_mlp_out"
    cfg = {
        "d_in": D_IN,
        "d_sae": D_SAE,
        "dtype": "float32",
        "device": "cpu",
        # SAEConfig's default is True; TranscoderConfig.__post_init__ refuses it, so a saved transcoder has False
        "apply_b_dec_to_input": False,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": metadata,
    }
    cfg.update(extra)
    cfg["architecture"] = architecture
    return cfg


def write_sae_lens(folder, cfg, tensors):
    d = HERE / folder
    d.mkdir(exist_ok=True)
    (d / "cfg.json").write_text(json.dumps(cfg), encoding="utf-8")
    save_file(d / "sae_weights.safetensors", {k: ("F32", v) for k, v in tensors.items()})


def f32(rng, shape, scale):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def inputs(rng, ok):
    """ROWS fp32 input rows, each redrawn until ok(row) says no decision of the anchor is near its boundary."""
    rows = []
    while len(rows) < ROWS:
        x = f32(rng, D_IN, 1.0)
        if ok(x.astype(np.float64)):
            rows.append(x)
    return np.stack(rows)


def clear_of(pre, boundaries):
    return all(np.min(np.abs(pre - b)) > MARGIN for b in boundaries)


def topk_clear(pre, k):
    s = np.sort(pre)[::-1]
    return s[k - 1] - s[k] > MARGIN and np.min(np.abs(pre)) > MARGIN


def record(x, z, y, enc_scale, fwd_scale, **info):
    """What the tests assert against. encode_scale / forward_scale are sum |term| of each output, the quantity fp32
    rounding error is proportional to (see AnchorFixturesTest)."""
    return dict(info, x=x.astype(np.float64).tolist(), encode=z.tolist(), forward=y.tolist(),
                encode_scale=enc_scale.tolist(), forward_scale=fwd_scale.tolist())


def scales(x, w_enc, b_enc, w_dec, b_dec, z, w_skip=None, norm=None):
    """sum |x_j W_ji| + |b_i| per feature (times the decoder norm a rescaled TopK multiplies pre by), and per output
    sum_i |W_dec_ik| / n_i (|z_i| + encode_scale_i) + |b_dec_k| + sum_j |x_j W_skip_kj|: z's own error is at most
    proportional to encode_scale and reaches y through W_dec."""
    n = np.ones(w_enc.shape[1]) if norm is None else norm
    enc = (np.abs(x) @ np.abs(w_enc) + np.abs(b_enc)) * n
    fwd = (np.abs(z) + enc) @ (np.abs(w_dec) / n[:, None]) + np.abs(b_dec)
    if w_skip is not None:
        fwd += np.abs(x) @ np.abs(w_skip).T
    return enc, fwd


def main():
    fixtures = {}

    # ---- SAELens: architecture "transcoder" (ReLU) ----------------------------------------------------------------
    rng = np.random.default_rng(1)
    W_enc, b_enc = f32(rng, (D_IN, D_SAE), 0.5), f32(rng, D_SAE, 0.3)
    W_dec, b_dec = f32(rng, (D_SAE, D_OUT), 0.5), f32(rng, D_OUT, 0.2)
    e, be, d, bd = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec))
    x = inputs(rng, lambda r: clear_of(r @ e + be, [0.0])).astype(np.float64)
    pre = x @ e + be                                   # Transcoder.encode: sae_in @ W_enc + b_enc
    z = np.maximum(pre, 0)                             # activation_fn = nn.ReLU()
    y = z @ d + bd                                     # Transcoder.decode: feature_acts @ W_dec + b_dec
    write_sae_lens("sae_lens_transcoder", sae_lens_cfg("transcoder", d_out=D_OUT),
                   {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    fixtures["sae_lens_transcoder"] = record(x, z, y, *scales(x, e, be, d, bd, z), anchor="sae_lens",
                                             path="sae_lens_transcoder", architecture="transcoder")

    # ---- SAELens: "skip_transcoder" -------------------------------------------------------------------------------
    rng = np.random.default_rng(2)
    W_enc, b_enc = f32(rng, (D_IN, D_SAE), 0.5), f32(rng, D_SAE, 0.3)
    W_dec, b_dec = f32(rng, (D_SAE, D_OUT), 0.5), f32(rng, D_OUT, 0.2)
    W_skip = f32(rng, (D_OUT, D_IN), 0.3)              # SkipTranscoder: nn.Parameter(torch.zeros(d_out, d_in))
    e, be, d, bd, s = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec, W_skip))
    x = inputs(rng, lambda r: clear_of(r @ e + be, [0.0])).astype(np.float64)
    pre = x @ e + be
    z = np.maximum(pre, 0)
    y = z @ d + bd + x @ s.T                           # SkipTranscoder.forward: sae_out + x @ W_skip.T
    write_sae_lens("sae_lens_skip_transcoder", sae_lens_cfg("skip_transcoder", d_out=D_OUT),
                   {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "W_skip": W_skip})
    fixtures["sae_lens_skip_transcoder"] = record(x, z, y, *scales(x, e, be, d, bd, z, w_skip=s),
                                                  anchor="sae_lens", path="sae_lens_skip_transcoder",
                                                  architecture="skip_transcoder")

    # ---- SAELens: "jumprelu_transcoder", some thresholds negative -------------------------------------------------
    rng = np.random.default_rng(3)
    W_enc, b_enc = f32(rng, (D_IN, D_SAE), 0.5), f32(rng, D_SAE, 0.3)
    W_dec, b_dec = f32(rng, (D_SAE, D_OUT), 0.5), f32(rng, D_OUT, 0.2)
    threshold = f32(rng, D_SAE, 0.4)                   # negatives: where relu(pre) and pre * (pre > t) differ
    e, be, d, bd, t = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec, threshold))
    x = inputs(rng, lambda r: clear_of(r @ e + be, [0.0, t])).astype(np.float64)
    pre = x @ e + be
    z = np.maximum(pre, 0) * (pre > t)                 # JumpReLUTranscoder.encode: activation_fn(pre) * (pre > threshold)
    y = z @ d + bd
    write_sae_lens("sae_lens_jumprelu_transcoder", sae_lens_cfg("jumprelu_transcoder", d_out=D_OUT),
                   {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": threshold})
    fixtures["sae_lens_jumprelu_transcoder"] = record(x, z, y, *scales(x, e, be, d, bd, z), anchor="sae_lens",
                                                      path="sae_lens_jumprelu_transcoder",
                                                      architecture="jumprelu_transcoder")

    # ---- SAELens: TopK SAE whose activations are rescaled by the decoder norms -----------------------------------
    rng = np.random.default_rng(4)
    k = 4
    W_enc, b_enc = f32(rng, (D_IN, D_SAE), 0.5), f32(rng, D_SAE, 0.3)
    W_dec, b_dec = f32(rng, (D_SAE, D_IN), 0.5), f32(rng, D_IN, 0.2)
    e, be, d, bd = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec))
    n = np.linalg.norm(d, axis=1)                      # W_dec.norm(dim=-1)
    x = inputs(rng, lambda r: topk_clear((r @ e + be) * n, k)).astype(np.float64)
    pre = (x @ e + be) * n                             # TopKSAE.encode with rescale_acts_by_decoder_norm
    z = np.zeros_like(pre)
    top = np.argsort(-pre, axis=1)[:, :k]              # TopK: torch.topk(x, k) then .relu() on the values
    np.put_along_axis(z, top, np.maximum(np.take_along_axis(pre, top, axis=1), 0), axis=1)
    y = (z / n) @ d + bd                               # TopKSAE.decode: feature_acts / W_dec.norm, @ W_dec + b_dec
    cfg = sae_lens_cfg("topk", hook_name_out=False, k=k, rescale_acts_by_decoder_norm=True)
    write_sae_lens("sae_lens_topk_sae", cfg, {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    fixtures["sae_lens_topk_sae"] = record(x, z, y, *scales(x, e, be, d, bd, z, norm=n), anchor="sae_lens",
                                           path="sae_lens_topk_sae", architecture="topk")

    # ---- circuit-tracer: JumpReLU with a skip connection, float32 ------------------------------------------------
    rng = np.random.default_rng(5)
    W_enc, b_enc = f32(rng, (D_SAE, D_IN), 0.5), f32(rng, D_SAE, 0.3)   # [d_transcoder, d_model]: F.linear
    W_dec, b_dec = f32(rng, (D_SAE, D_IN), 0.5), f32(rng, D_IN, 0.2)
    W_skip = f32(rng, (D_IN, D_IN), 0.3)
    threshold = f32(rng, D_SAE, 0.4)
    e, be, d, bd, s, t = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec, W_skip, threshold))
    x = inputs(rng, lambda r: clear_of(r @ e.T + be, [0.0, t])).astype(np.float64)
    pre = x @ e.T + be                                 # F.linear(input_acts, W_enc, b_enc)
    z = pre * (pre > t)                                # jumprelu.forward: x * (x > threshold), no relu
    y = z @ d + bd + x @ s.T                           # decode: acts @ W_dec + b_dec + input_acts @ W_skip.T
    save_file(HERE / "circuit_tracer_jump_relu_skip.safetensors",
              {"W_enc": ("F32", W_enc), "W_dec": ("F32", W_dec), "b_enc": ("F32", b_enc), "b_dec": ("F32", b_dec),
               "activation_function.threshold": ("F32", threshold), "W_skip": ("F32", W_skip)})
    fixtures["circuit_tracer_jump_relu_skip"] = record(
        x, z, y, *scales(x, e.T, be, d, bd, z, w_skip=s), anchor="circuit_tracer",
        path="circuit_tracer_jump_relu_skip.safetensors", activation="jump_relu", layer=LAYER,
        feature_input_hook="ln2.hook_normalized", feature_output_hook="hook_mlp_out", model_name=MODEL)

    # ---- circuit-tracer: ReLU, bfloat16 (SingleLayerTranscoder's default dtype) ----------------------------------
    rng = np.random.default_rng(6)
    # load_transcoder(..., dtype=torch.float32) computes in fp32 with the bf16 values widened, so the reference does
    W_enc, b_enc = bf16_round(f32(rng, (D_SAE, D_IN), 0.5)), bf16_round(f32(rng, D_SAE, 0.3))
    W_dec, b_dec = bf16_round(f32(rng, (D_SAE, D_IN), 0.5)), bf16_round(f32(rng, D_IN, 0.2))
    e, be, d, bd = (a.astype(np.float64) for a in (W_enc, b_enc, W_dec, b_dec))
    x = inputs(rng, lambda r: clear_of(r @ e.T + be, [0.0])).astype(np.float64)
    pre = x @ e.T + be
    z = np.maximum(pre, 0)                             # F.relu
    y = z @ d + bd
    save_file(HERE / "circuit_tracer_relu_bf16.safetensors",
              {"W_enc": ("BF16", W_enc), "W_dec": ("BF16", W_dec), "b_enc": ("BF16", b_enc),
               "b_dec": ("BF16", b_dec)})
    fixtures["circuit_tracer_relu_bf16"] = record(
        x, z, y, *scales(x, e.T, be, d, bd, z), anchor="circuit_tracer",
        path="circuit_tracer_relu_bf16.safetensors", activation="relu", layer=LAYER,
        feature_input_hook="ln2.hook_normalized", feature_output_hook="hook_mlp_out", model_name=MODEL)

    out = {"made_by": "make_anchor_fixtures.py", "d_in": D_IN, "d_out": D_OUT, "d_sae": D_SAE, "layer": LAYER,
           "model_name": MODEL, "margin": MARGIN, "fixtures": fixtures}
    (HERE / "expected.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
