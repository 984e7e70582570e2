#!/usr/bin/env python3
"""Dump every HF module's output (or its gradient) for `wgraph compare`.

    python3 tools/torch_dump.py MODEL_DIR --inputs IN.safetensors --output REF.safetensors
    python3 tools/torch_dump.py MODEL_DIR --inputs IN.safetensors --output REF.safetensors --grads

Loads the checkpoint with transformers (AutoConfig picks the class from
config.json `architectures`), registers a forward hook on every module
that stores the module's first tensor output under its module path
(`model.named_modules()` names, e.g. `distilbert.transformer.layer.0.attention`),
runs one forward on the same inputs file `wgraph run` takes, and writes all
of them to one safetensors file, in execution order (recorded in the
metadata as `execution_order`). Top-level outputs are stored under HF's
output names (`logits`, `last_hidden_state`).

With `--grads` the inputs file must also hold `labels` (as for `wgraph
grad`): the model runs HF's `forward(labels=...)` with dropout off, then
`loss.backward()`. The file holds what `wgraph grad --dump` writes: every
module's forward output (as without `--grads`), `logits`, `loss`, and,
from a full backward hook on every module, the gradient of the loss with
respect to the module's first output as `grad/<module path>`, plus
`grad/logits`. Modules whose output does not depend on a parameter
(rotary tables) get no gradient and are left out. The recorded order is
the forward entries in execution order, then the gradients in backward
order: the reverse of the order the forward produced the outputs, so
`grad/logits` first and the embeddings' last (`wgraph compare` walks them
so, whatever a file records).

Needs: pip install torch transformers safetensors
"""
import argparse
import json

import torch
import transformers
from safetensors.torch import load_file, save_file


def first_tensor(value):
    """The first tensor in a module output (tensor, tuple, or ModelOutput)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for v in value:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


def load_model(model_dir):
    config = transformers.AutoConfig.from_pretrained(model_dir)
    arch = (config.architectures or [None])[0]
    cls = getattr(transformers, arch) if arch and hasattr(transformers, arch) else transformers.AutoModel
    return cls.from_pretrained(model_dir).eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--grads", action="store_true",
                        help="store d loss / d module output as grad/<module path> (needs `labels` in the inputs)")
    args = parser.parse_args()
    if args.grads:
        return dump_grads(args)

    model = load_model(args.model_dir)
    inputs = {k: (v.long() if not v.is_floating_point() else v) for k, v in load_file(args.inputs).items()}
    if hasattr(model, "encoder") and "input_features" in inputs and hasattr(model, "decoder"):
        model = model.encoder  # Whisper: the encoder is what wgraph builds
        prefix = "encoder."
    else:
        prefix = ""

    captured, order = {}, []

    def hook(name):
        def store(_module, _inputs, output):
            t = first_tensor(output)
            if t is not None and name not in captured:
                captured[name] = t.detach().float().contiguous().clone()
                order.append(name)
        return store

    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(hook(prefix + name))
    with torch.no_grad():
        out = model(**inputs)
    for key in ("logits", "last_hidden_state"):
        value = getattr(out, key, None)
        if isinstance(value, torch.Tensor):
            captured[key] = value.detach().float().contiguous().clone()
            order.append(key)
    save_file(captured, args.output, metadata={"execution_order": json.dumps(order)})
    print(f"wrote {len(captured)} tensors to {args.output}")


def dump_grads(args):
    model = load_model(args.model_dir)
    inputs = {k: (v.long() if not v.is_floating_point() else v) for k, v in load_file(args.inputs).items()}
    if "labels" not in inputs:
        raise SystemExit(f"error: {args.inputs} has no `labels`: --grads needs them to compute HF's loss")
    captured, forward, grads = {}, [], []

    def forward_hook(name):
        def store(_module, _inputs, output):
            t = first_tensor(output)
            if t is not None and name not in captured:
                captured[name] = t.detach().float().contiguous().clone()
                forward.append(name)
        return store

    def backward_hook(name):
        def store(_module, _grad_inputs, grad_outputs):
            t = first_tensor(grad_outputs)
            key = "grad/" + name
            if t is not None and key not in captured:
                captured[key] = t.detach().float().contiguous().clone()
                grads.append(name)
        return store

    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(forward_hook(name))
            module.register_full_backward_hook(backward_hook(name))
    out = model(**inputs)
    out.logits.retain_grad()
    out.loss.backward()
    captured["logits"] = out.logits.detach().float().contiguous().clone()
    captured["loss"] = out.loss.detach().float().reshape(()).contiguous()
    captured["grad/logits"] = out.logits.grad.detach().float().contiguous().clone()
    # Backward order is the reverse of the order the forward produced the
    # outputs (a hook fires when a module's *input* gradient is done, which
    # puts a container after its children; the gradient at its output was
    # there before them).
    have = set(grads)
    backward = ["grad/" + n for n in reversed(forward) if n in have]
    order = forward + ["logits", "loss", "grad/logits"] + backward
    save_file(captured, args.output, metadata={"execution_order": json.dumps(order)})
    print(f"wrote {len(captured)} tensors to {args.output}")


if __name__ == "__main__":
    main()
