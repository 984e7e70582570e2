#!/usr/bin/env python3
"""PyTorch's side of `wgraph bench`: HF transformers on the CPU, same inputs.

    python3 tools/bench_torch.py MODEL_DIR --batch 8 --seq 128
    python3 tools/bench_torch.py MODEL_DIR --batch 1 --seq 16 --generate 64 --prompt-len 16
    python3 tools/bench_torch.py MODEL_DIR --batch 8 --seq 128 --wgraph target/release/wgraph
    tools/bench_models.sh PYTHON MINILM_DIR ...   # the whole table of BENCHMARKS.md

With --wgraph, runs `wgraph bench ... --json` first (in a child process, so
the two never share the cores), then PyTorch, and prints both with the
ratio PyTorch / wgraph (above 1: wgraph is faster). Without it, PyTorch
alone; --json prints one object with the keys `wgraph bench --json` uses.

Inputs match `wgraph bench`'s synthetic ones: token id (i * 7919 + 13) %
vocab, a full attention mask, zero token types; for Whisper, --seq mel
frames of features in [-1, 1]; for generation, a prompt of --prompt-len
such ids, greedy (do_sample=False), batch 1, the time to the first new
token is the prefill and the rest per token is decode. The model runs in
eval mode under torch.inference_mode() with eager attention;
torch.set_num_threads(--threads, default 2).

Needs: pip install torch transformers safetensors
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import torch


def ids(batch, seq, vocab):
    flat = [((i * 7919 + 13) % vocab) for i in range(seq)]
    return torch.tensor([flat] * batch, dtype=torch.long)


def load(model_dir):
    import transformers

    config = transformers.AutoConfig.from_pretrained(model_dir)
    kind = config.model_type
    archs = getattr(config, "architectures", None) or []
    if kind == "whisper":
        model = transformers.WhisperModel.from_pretrained(model_dir, attn_implementation="eager").get_encoder()
    elif kind == "llama":
        model = transformers.LlamaForCausalLM.from_pretrained(model_dir, attn_implementation="eager")
    elif any(a.endswith("ForSequenceClassification") for a in archs):
        model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager")
    else:
        model = transformers.AutoModel.from_pretrained(model_dir, attn_implementation="eager")
    return config, model.eval()


def forward_inputs(config, batch, seq):
    if config.model_type == "whisper":
        gen = torch.Generator().manual_seed(0)
        return {"input_features": torch.rand(batch, config.num_mel_bins, seq, generator=gen) * 2 - 1}
    x = {"input_ids": ids(batch, seq, config.vocab_size), "attention_mask": torch.ones(batch, seq, dtype=torch.long)}
    if config.model_type in ("bert",):
        x["token_type_ids"] = torch.zeros(batch, seq, dtype=torch.long)
    return x


def timed(f, reps):
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def generation(model, config, n, prompt_len, reps):
    prompt = ids(1, prompt_len, config.vocab_size)

    class Stamps:
        """A streamer that records when each new token arrives."""

        def __init__(self):
            self.start, self.stamps, self.first = time.perf_counter(), [], True

        def put(self, value):
            if self.first:  # the prompt itself
                self.first = False
                return
            self.stamps.append((time.perf_counter() - self.start) * 1e3)

        def end(self):
            pass

    def run():
        s = Stamps()
        model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, min_new_tokens=n,
                       do_sample=False, streamer=s, pad_token_id=0)
        return s.stamps

    run()
    prefill, decode = [], []
    for _ in range(reps):
        stamps = run()
        prefill.append(stamps[0])
        decode.append((stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1))
    p, d = statistics.median(prefill), statistics.median(decode)
    return {"prefill_ms": p, "decode_ms_per_token": d, "tokens_per_s": 1e3 / d}


def torch_side(args):
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    config, model = load(args.model_dir)
    load_s = time.perf_counter() - start
    inputs = forward_inputs(config, args.batch, args.seq)
    with torch.inference_mode():
        median_ms, min_ms = timed(lambda: model(**inputs), args.reps)
        out = {"library": f"torch {torch.__version__}", "load_s": load_s, "median_ms": median_ms, "min_ms": min_ms,
               "throughput": args.batch * 1e3 / median_ms, "threads": args.threads}
        if args.generate:
            out.update(generation(model, config, args.generate, args.prompt_len, args.gen_reps))
    return out


def wgraph_side(args):
    cmd = [args.wgraph, "bench", args.model_dir, "--batch", str(args.batch), "--seq", str(args.seq),
           "--reps", str(args.reps), "--json"]
    if args.generate:
        cmd += ["--generate", str(args.generate), "--prompt-len", str(args.prompt_len), "--gen-reps", str(args.gen_reps)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--generate", type=int, default=0, metavar="N")
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--gen-reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--wgraph", metavar="BIN", help="also run `BIN bench ... --json` first and print ratios")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    ours = wgraph_side(args) if args.wgraph else None
    theirs = torch_side(args)
    if args.json:
        print(json.dumps({"torch": theirs, "wgraph": ours} if ours else theirs))
        return
    rows = [("forward median ms", "median_ms", False)]
    if args.generate:
        rows += [("prefill ms", "prefill_ms", False), ("decode ms/token", "decode_ms_per_token", False),
                 ("tokens/s", "tokens_per_s", True)]
    print(f"{args.model_dir}: batch {args.batch} x seq {args.seq}"
          + (f", generate {args.generate} after {args.prompt_len}" if args.generate else ""))
    print("| measure | wgraph | PyTorch | PyTorch / wgraph |" if ours else "| measure | PyTorch |")
    print("|---|---:|---:|---:|" if ours else "|---|---:|")
    for label, key, higher_is_better in rows:
        t = theirs.get(key)
        if ours:
            w = ours.get(key)
            ratio = (w / t if higher_is_better else t / w) if w and t else float("nan")
            print(f"| {label} | {w:.2f} | {t:.2f} | {ratio:.2f}x |")
        else:
            print(f"| {label} | {t:.2f} |")
    if ours:
        print(f"wgraph on {ours.get('adapter')}, compile {ours.get('compile_s', 0):.2f} s, "
              f"first run {ours.get('first_run_ms', 0):.0f} ms; {theirs['library']}, {args.threads} threads")


if __name__ == "__main__":
    main()
