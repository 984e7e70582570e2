#!/usr/bin/env python3
"""Random checkpoints of real model shapes for tools/bench_models.sh.

    python3 tools/make_bench_models.py OUT_DIR
    tools/bench_models.sh PYTHON .cache/all-MiniLM-L6-v2 OUT_DIR/distilbert_sst2_shape \\
        OUT_DIR/whisper_tiny_dims OUT_DIR/llama60m

Writes, with `save_pretrained` after `torch.manual_seed(0)` (speed depends
on shapes, not on trained values):
- distilbert_sst2_shape: DistilBertForSequenceClassification, the base
  model's shape with two labels;
- whisper_tiny_dims: WhisperModel with Whisper-tiny's encoder (d_model 384,
  6 heads, 4 layers, 80 mel bins, 1500 positions = 30 s);
- llama60m: LlamaForCausalLM, hidden 512, intermediate 1376, 8 layers,
  8 heads / 2 KV heads, vocabulary 32000, untied head.

Needs: pip install torch transformers safetensors
"""
import os
import sys

import torch
from transformers import (DistilBertConfig, DistilBertForSequenceClassification, LlamaConfig, LlamaForCausalLM,
                          WhisperConfig, WhisperModel)


def save(model, out, name):
    path = os.path.join(out, name)
    model.save_pretrained(path, safe_serialization=True)
    print(f"wrote {path}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    save(DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)), out, "distilbert_sst2_shape")
    torch.manual_seed(0)
    whisper = WhisperConfig(d_model=384, encoder_attention_heads=6, decoder_attention_heads=6, encoder_layers=4,
                            decoder_layers=1, encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80,
                            max_source_positions=1500)
    save(WhisperModel(whisper), out, "whisper_tiny_dims")
    torch.manual_seed(0)
    llama = LlamaConfig(hidden_size=512, intermediate_size=1376, num_hidden_layers=8, num_attention_heads=8,
                        num_key_value_heads=2, vocab_size=32000, tie_word_embeddings=False)
    save(LlamaForCausalLM(llama), out, "llama60m")


if __name__ == "__main__":
    main()
