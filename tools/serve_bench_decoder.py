#!/usr/bin/env python3
"""A random LLaMA checkpoint with the blocks of BENCHMARKS.md's
LLaMA-60M shape (8 blocks, hidden 512, feed-forward 1376, 8 heads / 2 KV
heads) for the decoder rows of the serving benchmark (BENCHMARKS.md,
"Serving"), with the byte-level
tokenizer and ChatML template of graphs/tests/fixtures/serve/chat_llama
(vocabulary 320, so the head is small; per-token cost is the blocks').

    /work/venv/bin/python tools/serve_bench_decoder.py OUT_DIR

Loads in seconds as f32 safetensors (the GGUF path dequantizes on the
host for now). Requires torch, transformers.
"""
import shutil
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

FIXTURE = Path(__file__).resolve().parents[1] / "graphs/tests/fixtures/serve/chat_llama"


def main(out):
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=320, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
                      rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
                      tie_word_embeddings=True)
    LlamaForCausalLM(cfg).eval().save_pretrained(out, safe_serialization=True)
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(FIXTURE / name, out / name)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
