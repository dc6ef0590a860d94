#!/usr/bin/python3
"""Checks the demo model folder against an independent PyTorch GPT-NeoX, and its files against what HuggingFace
transformers' GPTNeoXForCausalLM.from_pretrained needs.

How to run (from the repository root; Debian packages only: apt-get install python3-torch python3-numpy):
    jobs/make-demo-model                      # trains, saves demo/model, writes target/demo-model/held_out.json, runs this
    /usr/bin/python3 demo/check_demo_model.py demo/model target/demo-model/held_out.json

held_out.json is written by org.cellcircuits.jobs.TrainDemoModel (--export-held-out) from the saved, reloaded
model: every held-out cell's prompt token ids, the ids our Java greedy decoding generated, its decoded answer and
label, and the last-position logits of the first cells. This script
  1. checks config.json has the keys GPTNeoXForCausalLM reads, with values our forward agrees with, and that
     model.safetensors holds exactly the tensors (names, shapes) GPTNeoXForCausalLM's state dict has;
  2. loads the weights into NeoXReference, the plain-torch GPT-NeoX of src/test/resources/neox/make_fixtures.py
     (imported, not copied; written against transformers' modeling_gpt_neox.py conventions);
  3. decodes every held-out prompt greedily with it, one prompt at a time (no padding), stopping as
     CellTypePredictor stops (end-of-text, or a token holding '.' or a newline), and requires the same token ids as
     Java and the same answer text; compares the exported logits to 1e-4;
  4. recomputes the held-out accuracy from its own answers, per cell type.
Exit status 0 only if everything agrees.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src", "test", "resources", "neox"))
from make_fixtures import NeoXReference, bytes_to_unicode  # noqa: E402  (the model branch's independent reference)

LOGIT_TOLERANCE = 1e-4

# Keys GPTNeoXConfig reads (transformers 4.2x-5.x); absent ones take the class defaults, so those whose defaults
# would change the model are required here, with the values our Java forward implements.
REQUIRED = ["architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "rotary_pct", "rotary_emb_base", "max_position_embeddings",
            "layer_norm_eps", "use_parallel_residual", "tie_word_embeddings", "bos_token_id", "eos_token_id",
            "torch_dtype"]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name} has dtype {info['dtype']}; expected F32, F16 or BF16")
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def expected_shapes(cfg):
    """GPTNeoXForCausalLM's state dict (persistent tensors) for this config."""
    c, m, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    s = {"gpt_neox.embed_in.weight": [v, c]}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{layer}."
        s.update({p + "input_layernorm.weight": [c], p + "input_layernorm.bias": [c],
                  p + "post_attention_layernorm.weight": [c], p + "post_attention_layernorm.bias": [c],
                  p + "attention.query_key_value.weight": [3 * c, c], p + "attention.query_key_value.bias": [3 * c],
                  p + "attention.dense.weight": [c, c], p + "attention.dense.bias": [c],
                  p + "mlp.dense_h_to_4h.weight": [m, c], p + "mlp.dense_h_to_4h.bias": [m],
                  p + "mlp.dense_4h_to_h.weight": [c, m], p + "mlp.dense_4h_to_h.bias": [c]})
    s["gpt_neox.final_layer_norm.weight"] = [c]
    s["gpt_neox.final_layer_norm.bias"] = [c]
    if not cfg["tie_word_embeddings"]:
        s["embed_out.weight"] = [v, c]
    return s


def check_files(folder):
    problems = []
    cfg = json.load(open(os.path.join(folder, "config.json")))
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        problems.append(f"config.json lacks {missing}")
    expect = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_act": "gelu"}
    for k, want in expect.items():
        if cfg.get(k) != want:
            problems.append(f"config.json {k} is {cfg.get(k)!r}; expected {want!r}")
    if cfg.get("attention_bias", True) is not True:
        problems.append("config.json attention_bias is false; the demo model has attention biases")
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    want = expected_shapes(cfg)
    got = {k: list(t.shape) for k, t in tensors.items()}
    if set(got) != set(want):
        problems.append(f"model.safetensors tensors differ from GPTNeoXForCausalLM's: missing {sorted(set(want) - set(got))}, "
                        f"extra {sorted(set(got) - set(want))}")
    for k in set(got) & set(want):
        if got[k] != want[k]:
            problems.append(f"model.safetensors {k} has shape {got[k]}; config.json implies {want[k]}")
    tok = json.load(open(os.path.join(folder, "tokenizer.json")))
    vocab = dict(tok["model"]["vocab"])
    for t in tok["added_tokens"]:
        vocab[t["content"]] = t["id"]
    if max(vocab.values()) >= cfg["vocab_size"]:
        problems.append(f"tokenizer.json has id {max(vocab.values())}; config vocab_size is {cfg['vocab_size']}")
    if vocab.get("<|endoftext|>") != cfg.get("eos_token_id"):
        problems.append(f"eos_token_id {cfg.get('eos_token_id')} is not <|endoftext|> ({vocab.get('<|endoftext|>')})")
    return cfg, tensors, {i: t for t, i in vocab.items()}, problems


def decode(token_strings):
    table = {u: b for b, u in bytes_to_unicode().items()}
    raw = bytes(table[ch] for s in token_strings for ch in s)
    return raw.decode("utf-8", errors="replace")


def main(folder, held_out_file):
    cfg, tensors, id_to_token, problems = check_files(folder)
    for p in problems:
        print("FILES:", p)
    print(f"config.json: {len(REQUIRED)} keys transformers reads present; model.safetensors: {len(tensors)} tensors "
          f"match GPTNeoXForCausalLM's state dict" if not problems else "file checks failed")
    ref = NeoXReference(cfg, tensors)
    held = json.load(open(held_out_file))
    eos = held["eos_token_id"]
    special = {eos}
    mismatches, logit_worst, logit_cells = 0, 0.0, 0
    per_type = {}
    with torch.no_grad():
        for cell in held["cells"]:
            ids = list(cell["prompt_ids"])
            java = cell["generated_ids"]
            generated = []
            for step in range(len(java)):
                x = torch.tensor([ids + generated])
                logits, _ = ref.forward(x, torch.ones_like(x))
                last = logits[0, -1]
                if step == 0 and "last_logits" in cell:
                    diff = (last - torch.tensor(cell["last_logits"])).abs().max().item()
                    logit_worst = max(logit_worst, diff)
                    logit_cells += 1
                nxt = int(torch.argmax(last))
                generated.append(nxt)
                if nxt in special or "." in id_to_token[nxt] or "\u010a" in id_to_token[nxt]:
                    break
            text = decode([id_to_token[i] for i in generated if i not in special])
            answer = text.split("\n")[0].split(".")[0].strip()
            if generated != java or answer != cell["answer"]:
                mismatches += 1
                if mismatches <= 5:
                    print(f"MISMATCH {cell['cell_id']}: reference {generated} '{answer}', Java {java} '{cell['answer']}'")
            ok, n = per_type.get(cell["label"], (0, 0))
            per_type[cell["label"]] = (ok + (answer == cell["label"]), n + 1)
    total_ok = sum(ok for ok, _ in per_type.values())
    total = sum(n for _, n in per_type.values())
    print(f"greedy answers: {total - mismatches} of {total} held-out cells identical to Java (token ids and text)")
    print(f"last-position logits of {logit_cells} cells: max |reference - Java| = {logit_worst:.2e} "
          f"(tolerance {LOGIT_TOLERANCE:g})")
    print(f"held-out accuracy by the reference model: {total_ok / total:.4f} ({total_ok} / {total}); "
          f"Java reported {held['accuracy']:.4f}")
    for label in sorted(per_type):
        ok, n = per_type[label]
        print(f"  {label:28s} {ok / n:.4f} ({ok} / {n})")
    failed = problems or mismatches or logit_worst > LOGIT_TOLERANCE or logit_cells == 0
    print("CHECK FAILED" if failed else "CHECK PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: /usr/bin/python3 demo/check_demo_model.py MODEL_FOLDER HELD_OUT_JSON")
    sys.exit(main(sys.argv[1], sys.argv[2]))
