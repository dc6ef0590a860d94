#!/usr/bin/python3
"""Reference fixtures for the Java GPT-NeoX forward (org.cellcircuits.model).

How to run (from the repository root; needs only Debian packages, never pip):
    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 src/test/resources/neox/make_fixtures.py

What it writes, under src/test/resources/neox/:
    <variant>/config.json          HuggingFace GPTNeoXConfig keys
    <variant>/model.safetensors    checkpoint, parameter names as GPTNeoXForCausalLM saves them
    <variant>/reference.safetensors  token ids, attention masks, logits and hook activations of two padded batches
    bytelevel/tokenizer.json       a byte-level BPE tokenizer with no merges (one token per byte, GPT-NeoX's
                                   byte-to-unicode alphabet, <|endoftext|> = 256) for the cell-type prediction tests

Variants (tiny random models, fixed seeds):
    parallel_rot25   use_parallel_residual=true,  rotary_pct=0.25, untied embed_out, F32
    sequential_rot100 use_parallel_residual=false, rotary_pct=1.0,  untied, F32
    tied             parallel, rotary_pct=0.5, tie_word_embeddings=true (no embed_out.weight in the file), F32
    bf16             parallel, rotary_pct=0.25, every tensor stored as BF16 (the reference runs on the
                     BF16-rounded weights in fp32, which is what the Java CPU loader widens them to)

Reference forward: an independent plain-torch implementation in this file (class NeoXReference), written
against the conventions of HuggingFace transformers' GPTNeoXForCausalLM (modeling_gpt_neox.py): fused QKV
viewed as [batch, seq, heads, 3 * head_size]; rotary on the first int(head_size * rotary_pct) dims with
rotate_half = cat(-x2, x1) and cos/sin = cat(freqs, freqs); scores scaled by head_size ** -0.5; causal mask
and padding mask; softmax in fp32; exact erf GELU; parallel residual x + attn(ln1 x) + mlp(ln2 x) or
sequential; final LayerNorm; embed_out. transformers itself was not used: it is not installable from the
registries reachable here, and its repository snapshot was too large to bring onto this machine.

Position ids follow what HF does during generation (prepare_inputs_for_generation):
position_ids = cumsum(attention_mask) - 1, so a left-padded row sees the same positions as the unpadded
sequence. (HF's plain forward without position_ids uses arange(T) for every row, which shifts left-padded
rows; that is not what we want for batched inference.) Padding positions hold meaningless values in every
implementation; the Java tests compare real-token positions only.

Safetensors is written with a few lines of numpy (the safetensors package is not in Debian).
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

VOCAB = 97
PAD = 0


# ---------------------------------------------------------------- safetensors (numpy) --------------------------
def write_safetensors(path, tensors, dtype="F32"):
    """tensors: ordered dict name -> torch tensor. dtype applies to float tensors; int64 stays I64."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        if t.dtype == torch.int64:
            raw, dt = t.contiguous().numpy().astype("<i8").tobytes(), "I64"
        elif dtype == "BF16":
            raw, dt = t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().astype("<i2").tobytes(), "BF16"
        elif dtype == "F16":
            raw, dt = t.to(torch.float16).contiguous().numpy().astype("<f2").tobytes(), "F16"
        else:
            raw, dt = t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- reference model -------------------------------
class NeoXReference:
    def __init__(self, cfg, params):
        self.cfg, self.p = cfg, params
        self.nh = cfg["num_attention_heads"]
        self.hs = cfg["hidden_size"] // self.nh
        self.rot = int(self.hs * cfg["rotary_pct"])

    def ln(self, x, prefix):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), self.p[prefix + ".weight"], self.p[prefix + ".bias"],
                                              self.cfg["layer_norm_eps"])

    def lin(self, x, prefix):
        return torch.nn.functional.linear(x, self.p[prefix + ".weight"], self.p.get(prefix + ".bias"))

    def rotary(self, x, pos):
        # x: (B, nh, T, rot); pos: (B, T)
        inv_freq = 1.0 / (self.cfg["rotary_emb_base"] ** (torch.arange(0, self.rot, 2).float() / self.rot))
        freqs = pos.float()[..., None] * inv_freq  # (B, T, rot/2)
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # (B, 1, T, rot)
        x1, x2 = x[..., : self.rot // 2], x[..., self.rot // 2:]
        return x * emb.cos() + torch.cat((-x2, x1), dim=-1) * emb.sin()

    def attention(self, x, mask, pos, L, hooks):
        B, T, C = x.shape
        pre = f"gpt_neox.layers.{L}.attention."
        qkv = self.lin(x, pre + "query_key_value").view(B, T, self.nh, 3 * self.hs)
        q = qkv[..., : self.hs].permute(0, 2, 1, 3)
        k = qkv[..., self.hs: 2 * self.hs].permute(0, 2, 1, 3)
        v = qkv[..., 2 * self.hs:].permute(0, 2, 1, 3)
        q = torch.cat((self.rotary(q[..., : self.rot], pos), q[..., self.rot:]), dim=-1)
        k = torch.cat((self.rotary(k[..., : self.rot], pos), k[..., self.rot:]), dim=-1)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.hs ** -0.5  # (B, nh, T, T)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None, None] & mask.bool()[:, None, None, :]
        scores = torch.where(allowed, scores, torch.tensor(torch.finfo(scores.dtype).min))
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"blocks.{L}.attn.hook_pattern"] = pattern
        z = torch.matmul(pattern, v).permute(0, 2, 1, 3).reshape(B, T, C)
        return self.lin(z, pre + "dense")

    def mlp(self, x, L):
        pre = f"gpt_neox.layers.{L}.mlp."
        return self.lin(torch.nn.functional.gelu(self.lin(x, pre + "dense_h_to_4h")), pre + "dense_4h_to_h")

    def forward(self, ids, mask):
        hooks = {}
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        x = self.p["gpt_neox.embed_in.weight"][ids]
        hooks["hook_embed"] = x
        for L in range(self.cfg["num_hidden_layers"]):
            pre = f"gpt_neox.layers.{L}."
            ln1 = self.ln(x, pre + "input_layernorm")
            hooks[f"blocks.{L}.ln1.hook_normalized"] = ln1
            attn = self.attention(ln1, mask, pos, L, hooks)
            hooks[f"blocks.{L}.hook_attn_out"] = attn
            if self.cfg["use_parallel_residual"]:
                ln2 = self.ln(x, pre + "post_attention_layernorm")
                mlp = self.mlp(ln2, L)
                x = x + attn + mlp
            else:
                x = x + attn
                ln2 = self.ln(x, pre + "post_attention_layernorm")
                mlp = self.mlp(ln2, L)
                x = x + mlp
            hooks[f"blocks.{L}.ln2.hook_normalized"] = ln2
            hooks[f"blocks.{L}.hook_mlp_out"] = mlp
            hooks[f"blocks.{L}.hook_resid_post"] = x
        x = self.ln(x, "gpt_neox.final_layer_norm")
        hooks["ln_final.hook_normalized"] = x
        w_out = self.p["gpt_neox.embed_in.weight"] if self.cfg["tie_word_embeddings"] else self.p["embed_out.weight"]
        return x @ w_out.T, hooks


def random_params(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def r(*shape, scale=0.2):
        return torch.randn(*shape, generator=g) * scale

    p = {"gpt_neox.embed_in.weight": r(V, C, scale=1.0)}
    for L in range(cfg["num_hidden_layers"]):
        pre = f"gpt_neox.layers.{L}."
        p[pre + "input_layernorm.weight"] = 1 + r(C, scale=0.1)
        p[pre + "input_layernorm.bias"] = r(C, scale=0.1)
        p[pre + "post_attention_layernorm.weight"] = 1 + r(C, scale=0.1)
        p[pre + "post_attention_layernorm.bias"] = r(C, scale=0.1)
        p[pre + "attention.query_key_value.weight"] = r(3 * C, C, scale=0.5 / math.sqrt(C) * 3)
        p[pre + "attention.query_key_value.bias"] = r(3 * C, scale=0.1)
        p[pre + "attention.dense.weight"] = r(C, C, scale=1 / math.sqrt(C))
        p[pre + "attention.dense.bias"] = r(C, scale=0.1)
        p[pre + "mlp.dense_h_to_4h.weight"] = r(I, C, scale=1 / math.sqrt(C))
        p[pre + "mlp.dense_h_to_4h.bias"] = r(I, scale=0.1)
        p[pre + "mlp.dense_4h_to_h.weight"] = r(C, I, scale=1 / math.sqrt(I))
        p[pre + "mlp.dense_4h_to_h.bias"] = r(C, scale=0.1)
    p["gpt_neox.final_layer_norm.weight"] = 1 + r(C, scale=0.1)
    p["gpt_neox.final_layer_norm.bias"] = r(C, scale=0.1)
    if not cfg["tie_word_embeddings"]:
        p["embed_out.weight"] = r(V, C, scale=1 / math.sqrt(C))
    return p


def config(hidden, heads, layers, rotary_pct, parallel, tied):
    return {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox",
        "hidden_size": hidden, "num_attention_heads": heads, "num_hidden_layers": layers,
        "intermediate_size": 4 * hidden, "rotary_pct": rotary_pct, "rotary_emb_base": 10000,
        "use_parallel_residual": parallel, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
        "vocab_size": VOCAB, "max_position_embeddings": 64, "tie_word_embeddings": tied,
        "bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.02, "use_cache": True,
        "torch_dtype": "float32",
    }


def batches(seed):
    """Three sequences of different lengths, padded on the right and on the left."""
    g = torch.Generator().manual_seed(seed)
    lengths = [11, 7, 4]
    T = max(lengths)
    seqs = [torch.randint(1, VOCAB, (n,), generator=g) for n in lengths]
    out = {}
    for side in ("right", "left"):
        ids = torch.full((len(seqs), T), PAD, dtype=torch.int64)
        mask = torch.zeros((len(seqs), T), dtype=torch.int64)
        for i, s in enumerate(seqs):
            if side == "right":
                ids[i, : len(s)], mask[i, : len(s)] = s, 1
            else:
                ids[i, T - len(s):], mask[i, T - len(s):] = s, 1
        out[side] = (ids, mask)
    return out


def make(name, cfg, seed, dtype="F32"):
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    params = random_params(cfg, seed)
    if dtype == "BF16":
        params = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in params.items()}
        cfg = dict(cfg, torch_dtype="bfloat16")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), params, dtype)

    ref = NeoXReference(cfg, params)
    out = {}
    with torch.no_grad():
        for side, (ids, mask) in batches(seed + 1).items():
            logits, hooks = ref.forward(ids, mask)
            out[side + ".input_ids"] = ids
            out[side + ".attention_mask"] = mask
            out[side + ".logits"] = logits
            for k, v in hooks.items():
                out[side + "." + k] = v
    write_safetensors(os.path.join(folder, "reference.safetensors"), out, "F32")
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{name}: {size} bytes")


def bytes_to_unicode():
    """GPT-2 / GPT-NeoX byte-level alphabet: printable bytes map to themselves, the rest to U+0100 onwards."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bytelevel_tokenizer():
    folder = os.path.join(HERE, "bytelevel")
    os.makedirs(folder, exist_ok=True)
    alphabet = bytes_to_unicode()
    vocab = {alphabet[b]: b for b in range(256)}
    level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": level, "post_processor": level, "decoder": level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": []},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)


if __name__ == "__main__":
    bytelevel_tokenizer()
    torch.manual_seed(0)
    make("parallel_rot25", config(64, 4, 3, 0.25, True, False), seed=11)
    make("sequential_rot100", config(32, 4, 2, 1.0, False, False), seed=22)
    make("tied", config(32, 2, 2, 0.5, True, True), seed=33)
    make("bf16", config(32, 4, 2, 0.25, True, False), seed=44, dtype="BF16")
