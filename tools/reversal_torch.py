#!/usr/bin/env python3
"""The sequence-reversal model of graphs/src/reversal in PyTorch, trained from wgraph's export.

    cargo run --release --example reversal -- --export twin
    python3 tools/reversal_torch.py twin
    python3 tools/reversal_torch.py twin --check twin/wgraph_losses.safetensors
    python3 tools/reversal_torch.py twin --save-losses torch_losses.safetensors

Reads DIR/config.json, DIR/initial_weights.safetensors and
DIR/batches.safetensors (written by `examples/reversal.rs --export DIR`,
graphs/src/reversal/export.rs), checks both files against the checksums in
config.json, builds the same network (a `state_dict` with wgraph's parameter
names), loads the weights with `strict=True`, and trains one step per
exported batch exactly as wgraph's recipe does:

    optimizer = torch.optim.AdamW(model.parameters(), lr, betas, eps, weight_decay)
    scheduler = LambdaLR(optimizer, transformers' get_cosine_schedule_with_warmup lambda)
    for each batch:  zero_grad; loss = cross_entropy(logits, targets) (mean over every position);
                     backward; clip_grad_norm_(max_norm); optimizer.step(); scheduler.step()

so update t (1-based) runs at base_lr * lr_lambda(t - 1), as
src/optim/schedule.rs documents. It prints `step I loss L` for every step.

--check LOSSES.safetensors compares with another run's `loss` (wgraph's,
from the example) step by step, relative difference |a - b| / |b|; exit
status 1 when a step differs by more than --rtol (default 1e-3).
--save-losses OUT.safetensors writes this run's `loss` (f32 [steps]) with
the export's checksums in the metadata (how graphs/tests/fixtures/reversal is made).

Model: token embedding plus a learned positional table, pre-LN encoder
layers (x + attn(ln1(x)), then x + ff2(gelu_erf(ff1(ln2(x))))), final layer
norm, output projection; attention softmax(q k^T * d_head**-0.5) v with
heads split as [batch, heads, seq, head_dim]; every LayerNorm eps 1e-5.

Needs: pip install torch safetensors numpy
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

FORMAT = "wgraph-reversal-export/1"
ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}


class Attention(nn.Module):
    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)

    def forward(self, x):
        b, s, d = x.shape
        head_dim = d // self.heads

        def split(t):  # [batch, seq, d] -> [batch, heads, seq, head_dim]
            return t.view(b, s, self.heads, head_dim).permute(0, 2, 1, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * head_dim**-0.5
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o(context.permute(0, 2, 1, 3).reshape(b, s, d))


class Layer(nn.Module):
    def __init__(self, d_model, heads, ff, activation, eps):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, eps=eps)
        self.attn = Attention(d_model, heads)
        self.ln2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, ff)
        self.ff2 = nn.Linear(ff, d_model)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ff2(self.activation(self.ff1(self.ln2(x))))


class Reversal(nn.Module):
    """State-dict names equal wgraph's: tok_emb.weight, pos_emb.weight, layers.0.attn.q.weight, ..."""

    def __init__(self, m):
        super().__init__()
        d, eps = m["d_model"], m["layer_norm_eps"]
        self.tok_emb = nn.Embedding(m["vocab"], d)
        self.pos_emb = nn.Embedding(m["seq_len"], d)
        self.layers = nn.ModuleList(
            Layer(d, m["heads"], m["ff"], m["activation"], eps) for _ in range(m["layers"])
        )
        self.ln_f = nn.LayerNorm(d, eps=eps)
        self.head = nn.Linear(d, m["vocab"])

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb.weight.unsqueeze(0)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.ln_f(x))


def cosine_with_warmup(warmup, total, cycles):
    """transformers.get_cosine_schedule_with_warmup's lr_lambda, verbatim."""

    def lr_lambda(current_step):
        if current_step < warmup:
            return float(current_step) / float(max(1, warmup))
        progress = float(current_step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))

    return lr_lambda


def checksum(tensors):
    """graphs/src/reversal/export.rs `checksum`: FNV-1a 64 over name|DTYPE|shape and little-endian bytes."""
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}
    h = 0xCBF29CE484222325
    mask = (1 << 64) - 1
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        header = f"{name}|{names[t.dtype]}|{','.join(str(d) for d in t.shape)}\n".encode()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        for byte in header + data:
            h = ((h ^ byte) * 0x100000001B3) & mask
    return f"fnv1a64:{h:016x}"


def load_export(directory):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    if config.get("format") != FORMAT:
        sys.exit(f"{directory}/config.json: format {config.get('format')!r}, expected {FORMAT!r}")
    weights = load_file(os.path.join(directory, config["files"]["initial_weights"]))
    batches = load_file(os.path.join(directory, config["files"]["batches"]))
    for what, tensors in (("initial_weights", weights), ("batches", batches)):
        got, want = checksum(tensors), config["checksums"][what]
        if got != want:
            sys.exit(f"{directory}: {what} has checksum {got}, config.json says {want}: a stale or mixed export")
    return config, weights, batches


def train(config, weights, batches, dtype, steps):
    model = Reversal(config["model"])
    model.load_state_dict(weights, strict=True)
    model.to(dtype)
    opt_cfg, sched = config["optimizer"], config["schedule"]
    assert opt_cfg["name"] == "adamw" and sched["name"] == "cosine_with_warmup", (opt_cfg, sched)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=opt_cfg["lr"],
        betas=tuple(opt_cfg["betas"]),
        eps=opt_cfg["eps"],
        weight_decay=opt_cfg["weight_decay"],
        foreach=False,
    )
    lr_lambda = cosine_with_warmup(sched["warmup_steps"], sched["total_steps"], sched["num_cycles"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    vocab = config["model"]["vocab"]
    losses = []
    for i in range(steps):
        tokens, targets = batches["tokens"][i], batches["targets"][i]
        optimizer.zero_grad()
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        if config.get("clip_norm") is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip_norm"])
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        print(f"step {i + 1} loss {loss.item():.6f}")
    return losses


def check(losses, path, rtol):
    reference = load_file(path)["loss"].double().tolist()
    n = min(len(losses), len(reference))
    if n == 0:
        sys.exit(f"{path}: no losses to compare")
    worst, failed = 0.0, []
    print(f"{'step':>5} {'this run':>12} {'reference':>12} {'rel diff':>10}")
    for i in range(n):
        a, b = losses[i], reference[i]
        rel = abs(a - b) / max(abs(b), 1e-30)
        worst = max(worst, rel)
        flag = "" if rel <= rtol else "  <-- beyond rtol"
        if flag:
            failed.append(i + 1)
        print(f"{i + 1:>5} {a:>12.6f} {b:>12.6f} {rel:>10.2e}{flag}")
    print(f"worst relative difference over {n} steps: {worst:.2e} (rtol {rtol:g})")
    return not failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", help="the directory `examples/reversal.rs --export DIR` wrote")
    parser.add_argument("--steps", type=int, help="steps to train (default: every exported batch)")
    parser.add_argument("--check", metavar="LOSSES.safetensors", help="compare with this file's `loss`")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--save-losses", metavar="OUT.safetensors", help="write this run's `loss`")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1: reproducible)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config, weights, batches = load_export(args.export_dir)
    available = batches["tokens"].shape[0]
    steps = available if args.steps is None else args.steps
    if not 0 < steps <= available:
        sys.exit(f"--steps {steps}: the export holds {available} batches")
    dtype = getattr(torch, args.dtype)
    losses = train(config, weights, batches, dtype, steps)
    if args.save_losses:
        metadata = {
            "generator": "tools/reversal_torch.py",
            "torch": torch.__version__,
            "dtype": args.dtype,
            "initial_weights": config["checksums"]["initial_weights"],
            "batches": config["checksums"]["batches"],
        }
        tmp = args.save_losses + ".tmp"
        save_file({"loss": torch.tensor(losses, dtype=torch.float32)}, tmp, metadata=metadata)
        os.replace(tmp, args.save_losses)
        print(f"losses written to {args.save_losses}")
    if args.check and not check(losses, args.check, args.rtol):
        sys.exit(1)


if __name__ == "__main__":
    main()
