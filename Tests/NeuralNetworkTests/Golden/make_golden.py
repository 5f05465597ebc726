"""Produces the PyTorch reference values for NeuralNetworkTests (run with torch installed):

    /work/venv/bin/python Tests/NeuralNetworkTests/Golden/make_golden.py

Writes golden.safetensors beside this script: inputs, parameters (PyTorch state-dict names under a
prefix) and outputs of LSTMCell, MultiheadAttention (batch_first, causal self-attention and
key-padded cross-attention), cross_entropy (ignore_index, label_smoothing, huge logits) with the
gradient of the logits, and a few optimiser steps (SGD momentum/nesterov, Adam, AdamW) on fixed
gradients, and Conv2d (stride, padding, groups) -> BatchNorm2d (training step, then eval, with
the updated running statistics) -> MaxPool2d, and LayerNorm. Float32, CPU, deterministic.
"""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(1234)
out = {}

# LSTMCell: batch 3, input 5, hidden 4.
cell = torch.nn.LSTMCell(5, 4)
x = torch.randn(3, 5)
h = torch.randn(3, 4)
c = torch.randn(3, 4)
with torch.no_grad():
    h1, c1 = cell(x, (h, c))
for k, v in cell.state_dict().items():
    out[f"lstm.{k}"] = v
out.update({"lstm.x": x, "lstm.h": h, "lstm.c": c, "lstm.h1": h1, "lstm.c1": c1})

# MultiheadAttention: D 8, 2 heads, batch 2, T 3 queries, S 4 memory positions.
mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
with torch.no_grad():
    mha.in_proj_bias.uniform_(-0.5, 0.5)
    mha.out_proj.bias.uniform_(-0.5, 0.5)
q = torch.randn(2, 3, 8)
mem = torch.randn(2, 4, 8)
causal = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
pad = torch.tensor([[False, False, True, True], [False, False, False, True]])
with torch.no_grad():
    self_out, self_w = mha(q, q, q, attn_mask=causal)
    cross_out, cross_w = mha(q, mem, mem, key_padding_mask=pad)
for k, v in mha.state_dict().items():
    out[f"mha.{k}"] = v
out.update({"mha.query": q, "mha.memory": mem, "mha.self_out": self_out, "mha.self_weights": self_w,
            "mha.cross_out": cross_out, "mha.cross_weights": cross_w, "mha.key_padding": pad.float()})

# Cross-entropy: 7 rows, 6 classes, pad index 0 ignored, label smoothing 0.1; plus huge logits.
logits = (torch.randn(7, 6) * 3).requires_grad_()
targets = torch.tensor([3, 0, 5, 1, 0, 2, 4])
loss = torch.nn.functional.cross_entropy(logits, targets, ignore_index=0, label_smoothing=0.1)
loss.backward()
out.update({"ce.logits": logits.detach(), "ce.targets": targets.float(), "ce.loss": loss.detach().reshape(1),
            "ce.grad": logits.grad})
plain = torch.nn.functional.cross_entropy(logits.detach(), targets)
out["ce.loss_plain"] = plain.reshape(1)
big = (torch.randn(4, 5) * 1e4).requires_grad_()
bt = torch.tensor([1, 4, 0, 2])
bl = torch.nn.functional.cross_entropy(big, bt, label_smoothing=0.2)
bl.backward()
out.update({"ce.big_logits": big.detach(), "ce.big_targets": bt.float(), "ce.big_loss": bl.detach().reshape(1),
            "ce.big_grad": big.grad})

# Optimisers: 3 steps on a 5-element parameter with fixed gradients.
p0 = torch.randn(5)
grads = torch.randn(3, 5)
out["opt.p0"] = p0
out["opt.grads"] = grads
def run(name, make):
    p = torch.nn.Parameter(p0.clone())
    opt = make([p])
    for g in grads:
        p.grad = g.clone()
        opt.step()
    out[f"opt.{name}"] = p.detach().clone()
run("sgd_momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01))
run("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True))
run("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1))
run("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1))

# Conv2d (stride 2, padding 1, groups 2, bias), BatchNorm2d one training step then eval, MaxPool2d(3, 2, 1).
conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
img = torch.randn(2, 4, 7, 6)
bn = torch.nn.BatchNorm2d(6)
with torch.no_grad():
    bn.weight.uniform_(0.5, 1.5)
    bn.bias.uniform_(-0.5, 0.5)
    y = conv(img)
    z = bn(y)
    bn.eval()
    z_eval = bn(y)
    pooled = torch.nn.functional.max_pool2d(z, 3, 2, 1)
for k, v in conv.state_dict().items():
    out[f"conv.{k}"] = v
for k, v in bn.state_dict().items():
    if k != "num_batches_tracked":
        out[f"bn.{k}"] = v
out.update({"conv.input": img, "conv.output": y, "bn.train_output": z, "bn.eval_output": z_eval, "pool.output": pooled})

# LayerNorm(6) with non-trivial affine parameters on [2, 3, 6].
ln = torch.nn.LayerNorm(6)
with torch.no_grad():
    ln.weight.uniform_(0.5, 1.5)
    ln.bias.uniform_(-0.5, 0.5)
    lx = torch.randn(2, 3, 6) * 2 + 1
    out.update({"ln.weight": ln.weight.clone(), "ln.bias": ln.bias.clone(), "ln.input": lx, "ln.output": ln(lx)})

out = {k: v.contiguous().to(torch.float32) for k, v in out.items()}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.safetensors")
save_file(out, path, metadata={"torch": torch.__version__, "script": "make_golden.py"})
print(f"wrote {path}: {len(out)} tensors")
