"""Points OpenAI's own Python client at `wgraph serve`, as a user would, and
checks what it gets: embeddings (`client.embeddings.create`) against HF
transformers' mean-pooled, normalized MiniLM vectors (cosine >= 0.9999),
and a streamed chat (`client.chat.completions.create(stream=True)`) against
`wgraph chat` on the same model and message (same text, greedy). Outside
CI: it needs the `openai`, `torch` and `transformers` packages.

    /work/venv/bin/python tools/openai_client_check.py \
        --wgraph target/release/wgraph --embedder .cache/all-MiniLM-L6-v2 \
        --decoder .cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Each server is started on an ephemeral loopback port and stopped after.
Prints one line per check; exits 1 on any mismatch.
"""

import argparse
import re
import subprocess
import sys
from contextlib import contextmanager

import openai
import torch
from transformers import AutoModel, AutoTokenizer

TEXTS = ["What is the capital of France?", "A cat sits on the mat.", "Rust compiles to WebAssembly."]
MESSAGE = "What is the capital of France?"


@contextmanager
def server(wgraph, model):
    proc = subprocess.Popen([wgraph, "serve", model, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                yield openai.OpenAI(base_url=found.group(1) + "/v1", api_key="unused")
                return
        raise RuntimeError(f"`wgraph serve {model}` exited without listening")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def hf_embeddings(model_dir, texts):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def check_embeddings(args):
    with server(args.wgraph, args.embedder) as client:
        got = client.embeddings.create(model="wgraph", input=TEXTS)
    want = hf_embeddings(args.embedder, TEXTS)
    ok = len(got.data) == len(TEXTS)
    for item, ref in zip(got.data, want):
        vec = torch.tensor(item.embedding)
        cosine = torch.nn.functional.cosine_similarity(vec, ref, dim=0).item()
        print(f"embeddings.create input[{item.index}]: {len(item.embedding)} dims, cosine vs HF {cosine:.7f}")
        ok &= cosine >= 0.9999
    print(f"usage: {got.usage.prompt_tokens} prompt tokens")
    return ok


def check_chat(args):
    with server(args.wgraph, args.decoder) as client:
        stream = client.chat.completions.create(
            model="wgraph", messages=[{"role": "user", "content": MESSAGE}], max_tokens=args.max_tokens,
            temperature=0, stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    streamed = "".join(pieces)
    cli = subprocess.run([args.wgraph, "chat", args.decoder, MESSAGE, "--max-new-tokens", str(args.max_tokens)],
                         capture_output=True, text=True, check=True).stdout.strip()
    print(f"chat.completions stream: {len(pieces)} chunks: {streamed!r}")
    print(f"wgraph chat:                         {cli!r}")
    return streamed.strip() == cli


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wgraph", default="target/release/wgraph")
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--decoder", required=True)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    results = {"embeddings": check_embeddings(args), "chat stream": check_chat(args)}
    for name, ok in results.items():
        print(f"{name}: {'same' if ok else 'DIFFERENT'}")
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
