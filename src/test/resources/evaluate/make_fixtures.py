#!/usr/bin/python3
"""Reference figures for the evaluate stage (org.cellcircuits.evaluate), computed in plain torch.

How to run (from the repository root; needs only Debian packages, never pip):
    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 src/test/resources/evaluate/make_fixtures.py

What it writes, under src/test/resources/evaluate/:
    model/config.json, model/model.safetensors   a tiny random GPT-NeoX (d_model 32, 2 layers, parallel residual,
                                                 vocabulary 257 = bytes + <|endoftext|>)
    model/tokenizer.json                         a copy of ../neox/bytelevel/tokenizer.json (token id = byte value)
    dictionaries.safetensors                     layer0.{W_enc,b_enc,W_dec,b_dec}: a transcoder (d_sae 64);
                                                 layer1.{...}: an SAE (d_sae 48); SAELens orientation
    expected.json                                the cells (id, type, genes, prompt) and, per variant, the answer
                                                 loss, prompt loss, KL and answer KL; per layer EV, L0 and the share
                                                 of features that never fired

The forward is NeoXReference of ../neox/make_fixtures.py (an independent plain-torch GPT-NeoX, checked there
against the conventions of HF's GPTNeoXForCausalLM), run in float64 with the MLPs swapped per variant:
    original      the model
    replaced_all  layer 0's MLP = the transcoder; layer 1's MLP reads the SAE's reconstruction of its input
    zero_mlp      every MLP adds 0
    replaced_layer_L  only layer L changed as in replaced_all
Each cell is read as prompt + " {cell_type}." without the last token; every position predicts the next token.
answer loss: mean -log p over the answer tokens; prompt loss: mean over every next-token position; KL(original ||
variant) over the same positions (kl) or the answer positions (answer_kl). Dictionaries are scored on the original
model's ln2 output and MLP output at every prompt token (no special token occurs in these byte-level prompts).
"""
import importlib.util
import json
import os
import shutil

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("neox_fixtures", os.path.join(HERE, "..", "neox", "make_fixtures.py"))
neox = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(neox)

TEMPLATE = ("The following is a list of {n} gene names ordered by descending expression level in a Homo sapiens cell. "
            "Your task is to give the cell type which this cell belongs to based on its gene expression.\n"
            "Cell sentence: {genes}.\nThe cell type corresponding to these genes is:")

CELLS = [
    ("cell-a", "endothelial cell", ["VWF", "PECAM1", "CDH5", "KDR"]),
    ("cell-b", "fibroblast", ["DCN", "LUM", "COL1A2", "PDGFRA", "FBLN1", "GSN"]),
    ("cell-c", "mast cell", ["KIT", "TPSAB1", "CD74"]),
    ("cell-d", None, ["MYH7", "MYL2", "TTN", "RYR2", "MB"]),
    ("cell-e", "ventricular cardiomyocyte", ["MYH7", "MYL2", "FHL2", "MYL3", "TTN"]),
]


def dictionary(g, d, n, kind):
    w_enc = torch.randn(d, n, generator=g, dtype=torch.float64) * 0.4
    b_enc = -0.3 + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    b_enc[::5] = -1000.0  # every fifth feature never fires
    w_dec = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.2
    b_dec = torch.randn(d, generator=g, dtype=torch.float64) * 0.1
    return {"kind": kind, "W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}


def reconstruct(t, x):
    z = torch.relu(x @ t["W_enc"] + t["b_enc"])
    return z @ t["W_dec"] + t["b_dec"], z


class Variant(neox.NeoXReference):
    """NeoXReference whose MLPs are swapped: changes[L] = a dictionary, or "zero"."""

    def __init__(self, cfg, params, changes):
        super().__init__(cfg, params)
        self.changes = changes

    def mlp(self, x, L):
        change = self.changes.get(L)
        if change is None:
            return super().mlp(x, L)
        if change == "zero":
            return torch.zeros_like(x)
        if change["kind"] == "transcoder":
            return reconstruct(change, x)[0]
        return super().mlp(reconstruct(change, x)[0], L)  # an SAE: the MLP reads the reconstruction


def main():
    cfg = neox.config(32, 4, 2, 0.25, True, False)
    cfg.update(vocab_size=257, max_position_embeddings=1024, bos_token_id=256, eos_token_id=256)
    params = neox.random_params(cfg, 55)
    folder = os.path.join(HERE, "model")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    neox.write_safetensors(os.path.join(folder, "model.safetensors"), params, "F32")
    shutil.copy(os.path.join(HERE, "..", "neox", "bytelevel", "tokenizer.json"), os.path.join(folder, "tokenizer.json"))

    g = torch.Generator().manual_seed(66)
    dicts = {0: dictionary(g, 32, 64, "transcoder"), 1: dictionary(g, 32, 48, "sae")}
    # Round to float32 first: the Java side reads float32 weights, and the reference must use the same numbers.
    for t in dicts.values():
        for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
            t[k] = t[k].float().double()
    tensors = {}
    for L, t in dicts.items():
        for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
            tensors[f"layer{L}.{k}"] = t[k].float()
    neox.write_safetensors(os.path.join(HERE, "dictionaries.safetensors"), tensors, "F32")

    p64 = {k: v.double() for k, v in params.items()}
    variants = {"original": {}, "replaced_all": dict(dicts), "zero_mlp": {0: "zero", 1: "zero"},
                "replaced_layer_0": {0: dicts[0]}, "replaced_layer_1": {1: dicts[1]}}
    sums = {v: dict(answer_nll=0.0, all_nll=0.0, kl=0.0, answer_kl=0.0) for v in variants}
    counts = dict(answer_tokens=0, prompt_tokens=0)
    layer_acc = {L: dict(sse=0.0, targets=[], active=0, fired=torch.zeros(t["W_enc"].shape[1])) for L, t in dicts.items()}
    cells_out = []
    with torch.no_grad():
        for cell_id, cell_type, genes in CELLS:
            prompt = TEMPLATE.format(n=len(genes), genes=" ".join(genes))
            cells_out.append(dict(cell_id=cell_id, cell_type=cell_type, genes=genes, prompt=prompt))
            p = list(prompt.encode("utf-8"))
            a = list((" " + cell_type + ".").encode("utf-8")) if cell_type else []
            full = p + a
            inp = full[:-1] if a else p
            scored = len(inp) if a else len(p) - 1
            ids = torch.tensor([inp])
            mask = torch.ones_like(ids)
            logits0, hooks = Variant(cfg, p64, {}).forward(ids, mask)
            lp0 = torch.log_softmax(logits0[0], -1)
            targets = torch.tensor(full[1:scored + 1])
            is_answer = torch.arange(scored) >= len(p) - 1
            counts["answer_tokens"] += int(is_answer.sum())
            counts["prompt_tokens"] += scored
            for name, changes in variants.items():
                logits, _ = Variant(cfg, p64, changes).forward(ids, mask)
                lp = torch.log_softmax(logits[0], -1)
                nll = -lp[torch.arange(scored), targets]
                kl = (lp0.exp() * (lp0 - lp)).sum(-1)[:scored]
                s = sums[name]
                s["all_nll"] += float(nll.sum())
                s["answer_nll"] += float(nll[is_answer].sum())
                s["kl"] += float(kl.sum())
                s["answer_kl"] += float(kl[is_answer].sum())
            for L, t in dicts.items():
                x = hooks[f"blocks.{L}.ln2.hook_normalized"][0, : len(p)]
                y = x if t["kind"] == "sae" else hooks[f"blocks.{L}.hook_mlp_out"][0, : len(p)]
                y_hat, z = reconstruct(t, x)
                acc = layer_acc[L]
                acc["sse"] += float(((y - y_hat) ** 2).sum())
                acc["targets"].append(y)
                acc["active"] += int((z > 0).sum())
                acc["fired"] += (z > 0).sum(0)
    out_variants = {}
    for name, s in sums.items():
        out_variants[name] = dict(answer_loss=s["answer_nll"] / counts["answer_tokens"],
                                  prompt_loss=s["all_nll"] / counts["prompt_tokens"],
                                  kl=s["kl"] / counts["prompt_tokens"], answer_kl=s["answer_kl"] / counts["answer_tokens"])
    out_layers = {}
    for L, acc in layer_acc.items():
        y = torch.cat(acc["targets"])
        variance = float(((y - y.mean(0)) ** 2).sum())
        out_layers[str(L)] = dict(kind=dicts[L]["kind"], d_sae=int(acc["fired"].numel()), tokens=int(y.shape[0]),
                                  explained_variance=1 - acc["sse"] / variance, l0=acc["active"] / y.shape[0],
                                  never_fired_share=float((acc["fired"] == 0).double().mean()))
    expected = dict(cells=cells_out, answer_tokens=counts["answer_tokens"], prompt_tokens=counts["prompt_tokens"],
                    variants=out_variants, layers=out_layers)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(HERE) for f in fs)
    print(json.dumps(out_variants, indent=1), json.dumps(out_layers, indent=1), f"{size} bytes")


if __name__ == "__main__":
    main()
