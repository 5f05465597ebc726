"""Reference values for the transformer caption decoder, computed with PyTorch.

Design (names as our checkpoints use them): token `embedding` + learned `pos_embedding`; memory = `mem_proj`(region
features) + fixed 2-D sinusoidal positions of the region grid; `layers.N` = nn.TransformerDecoderLayer with
norm_first=True (pre-norm), ReLU feed-forward, batch_first; a final LayerNorm `norm`; output layer `fc`.
Causal self-attention; the loss is cross-entropy over the non-<pad> targets. Dropout is off (deterministic).

Run: python make_transformer_golden.py   (torch, safetensors) -> transformer_golden.safetensors
"""
import math
import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.manual_seed(11)
V, D, HEADS, F, LAYERS, E, GRID, B, T, MAXPOS = 13, 8, 2, 12, 2, 5, 2, 3, 5, 16
P = GRID * GRID
lengths = [5, 3, 2]  # target counts (words + <end>); the rest is <pad>


def sinusoid(pos, d):
    out = torch.zeros(d, dtype=torch.float64)
    for i in range(0, d, 2):
        angle = pos / (10000 ** (i / d))
        out[i] = math.sin(angle)
        if i + 1 < d:
            out[i + 1] = math.cos(angle)
    return out


def grid_positions(grid, d):
    """Row p = (y, x) of a grid x grid map: first d/2 dims encode y, the rest x (float64 -> float32)."""
    rows = []
    for y in range(grid):
        for x in range(grid):
            rows.append(torch.cat([sinusoid(y, d // 2), sinusoid(x, d - d // 2)]))
    return torch.stack(rows).float()


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, D)
        self.pos_embedding = nn.Embedding(MAXPOS, D)
        self.mem_proj = nn.Linear(E, D)
        layer = nn.TransformerDecoderLayer(D, HEADS, F, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.ModuleList([nn.TransformerDecoderLayer(D, HEADS, F, dropout=0.0, batch_first=True, norm_first=True) for _ in range(LAYERS)])
        self.norm = nn.LayerNorm(D)
        self.fc = nn.Linear(D, V)


d = Decoder()
features = torch.randn(B, P, E, requires_grad=True)
tokens = torch.randint(4, V, (B, T + 1))
tokens[:, 0] = 1
for b, L in enumerate(lengths):
    tokens[b, L] = 2
    tokens[b, L + 1:] = 0
inp, tgt = tokens[:, :T], tokens[:, 1:]

mem = d.mem_proj(features) + grid_positions(GRID, D)
x = d.embedding(inp) + d.pos_embedding(torch.arange(T))
mask = nn.Transformer.generate_square_subsequent_mask(T)
for layer in d.layers:
    x = layer(x, mem, tgt_mask=mask, tgt_is_causal=True)
logits = d.fc(d.norm(x))
loss = nn.functional.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=0)
loss.backward()

out = {f"param/{k}": v.detach().clone() for k, v in d.state_dict().items()}
out.update({f"grad/{k}": p.grad.detach().clone() for k, p in d.named_parameters()})
out["input/features"] = features.detach().clone()
out["input/tokens"] = tokens.clone()
out["input/lengths"] = torch.tensor(lengths)
out["output/logits"] = logits.detach()
out["output/loss"] = loss.detach().reshape(1)
out["output/grid_positions"] = grid_positions(GRID, D)
out["grad/features"] = features.grad.detach().clone()
save_file({k: v.contiguous() for k, v in out.items()}, "transformer_golden.safetensors",
          metadata={"torch": torch.__version__, "sizes": f"V={V} D={D} heads={HEADS} F={F} layers={LAYERS} E={E} grid={GRID} B={B} T={T} maxpos={MAXPOS}"})
print("loss", loss.item())
print(sorted(k for k in out if k.startswith("param/layers.0")))
