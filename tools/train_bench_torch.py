#!/usr/bin/env python3
"""PyTorch's side of examples/train_bench.rs: training steps per second on the CPU.

    python3 tools/train_bench_torch.py                  # a table
    python3 tools/train_bench_torch.py --json           # one JSON line (what train_bench.rs reads)
    python3 tools/train_bench_torch.py --profile        # plus torch.profiler's top operators

Two workloads, the same as wgraph's:

- reversal: tools/reversal_torch.py's model with examples/reversal.rs's
  defaults (d_model 64, 2 layers, 4 heads, feed-forward 128, batch 128,
  length 11, vocabulary 13), AdamW (lr 1e-3, weight decay 0.01), warmup +
  cosine LambdaLR, clip_grad_norm_(1.0);
- bert-layer: one BERT-base encoder layer (HF BertLayer's structure and
  names: hidden 768, 12 heads, intermediate 3072, GELU erf, post-LN, eps
  1e-12, eager attention) on [8, 128, 768] inputs, MSE against a fixed
  target, AdamW with PyTorch's defaults.

A step is zero_grad, forward, loss, backward, (clip), optimizer.step(),
(scheduler.step()) and loss.item(); each is timed after warmup and the
median reported. torch.set_num_threads(--threads, default 2).

Needs: pip install torch safetensors numpy
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reversal_torch import Reversal, cosine_with_warmup  # noqa: E402


class BertSelfAttention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x):
        b, s, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, s, self.heads, d).permute(0, 2, 1, 3)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * d**-0.5, dim=-1)
        return torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, h)


class Dense(nn.Module):
    def __init__(self, a, b, eps=None):
        super().__init__()
        self.dense = nn.Linear(a, b)
        if eps is not None:
            self.LayerNorm = nn.LayerNorm(b, eps=eps)


class BertLayer(nn.Module):
    def __init__(self, h=768, heads=12, inter=3072, eps=1e-12):
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = BertSelfAttention(h, heads)
        self.attention.output = Dense(h, h, eps)
        self.intermediate = Dense(h, inter)
        self.output = Dense(inter, h, eps)

    def forward(self, x):
        a = self.attention
        attn = a.output.LayerNorm(a.output.dense(a.self(x)) + x)
        up = F.gelu(self.intermediate.dense(attn))
        return self.output.LayerNorm(self.output.dense(up) + attn)


def reversal_case():
    cfg = dict(seq_len=11, vocab=13, d_model=64, layers=2, heads=4, ff=128, activation="gelu", layer_norm_eps=1e-5)
    model = Reversal(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_with_warmup(100, 600, 0.5))
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, cfg["vocab"], (128, cfg["seq_len"]), generator=g) for _ in range(8)]

    def step(i):
        tokens = batches[i % len(batches)]
        targets = tokens.flip(-1)
        opt.zero_grad()
        loss = F.cross_entropy(model(tokens).reshape(-1, cfg["vocab"]), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        return loss.item()

    return step


def bert_layer_case():
    model = BertLayer()
    opt = torch.optim.AdamW(model.parameters())
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 128, 768, generator=g) * 2 - 1
    target = torch.rand(8, 128, 768, generator=g) * 2 - 1

    def step(_):
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def measure(step, warmup, steps):
    start = time.perf_counter()
    step(0)
    first_ms = (time.perf_counter() - start) * 1e3
    for i in range(1, warmup):
        step(i)
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step(warmup + i)
        times.append((time.perf_counter() - start) * 1e3)
    return {"first_ms": first_ms, "median_ms": statistics.median(times), "min_ms": min(times), "steps": steps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reversal-steps", type=int, default=40)
    parser.add_argument("--bert-steps", type=int, default=6)
    parser.add_argument("--only", choices=["reversal", "bert-layer"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {"reversal": (reversal_case, 3, args.reversal_steps), "bert-layer": (bert_layer_case, 2, args.bert_steps)}
    results = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, (make, warmup, steps) in cases.items():
        if args.only and args.only != name:
            continue
        step = make()
        results[name] = measure(step, warmup, steps)
        if not args.json:
            r = results[name]
            print(f"{name}: median {r['median_ms']:.2f} ms ({1000 / r['median_ms']:.2f} steps/s), first {r['first_ms']:.1f} ms")
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for i in range(3):
                    step(i)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), file=sys.stderr)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
