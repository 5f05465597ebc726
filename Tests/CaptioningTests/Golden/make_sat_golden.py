"""Reference values for the Show-Attend-Tell decoder, computed with PyTorch.

The decoder is the sgrvinod tutorial's design (the bar of ../shared/bench/quality_reference.md), with the
names our checkpoints use: attention.{encoder_att,decoder_att,full_att}, embedding, decode_step (LSTMCell),
init_h, init_c, f_beta, fc. Dropout is off so the numbers are deterministic. The loss is the tutorial's:
cross-entropy over the real (unpadded) target tokens + alpha_c * ((1 - sum_t alpha)^2).mean().

Run: python make_sat_golden.py   (torch, safetensors) -> sat_golden.safetensors
"""
import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.manual_seed(7)
V, M, E, A, H, P, B, T = 11, 6, 5, 7, 8, 4, 3, 5
ALPHA_C = 1.0
lengths = [5, 3, 2]  # decode lengths (targets per caption), sorted descending as the tutorial requires


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder_att = nn.Linear(E, A)
        self.decoder_att = nn.Linear(H, A)
        self.full_att = nn.Linear(A, 1)

    def forward(self, enc, h):
        att = self.full_att(torch.relu(self.encoder_att(enc) + self.decoder_att(h).unsqueeze(1))).squeeze(2)
        alpha = torch.softmax(att, dim=1)
        return (enc * alpha.unsqueeze(2)).sum(dim=1), alpha


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention()
        self.embedding = nn.Embedding(V, M)
        self.decode_step = nn.LSTMCell(M + E, H)
        self.init_h = nn.Linear(E, H)
        self.init_c = nn.Linear(E, H)
        self.f_beta = nn.Linear(H, E)
        self.fc = nn.Linear(H, V)


d = Decoder()
features = torch.randn(B, P, E, requires_grad=True)
captions = torch.randint(4, V, (B, T + 1))
captions[:, 0] = 1  # <start>
for b, L in enumerate(lengths):
    captions[b, L] = 2  # <end> is the last target
    captions[b, L + 1:] = 0  # <pad>

mean = features.mean(dim=1)
h, c = d.init_h(mean), d.init_c(mean)
emb = d.embedding(captions)
scores = torch.zeros(B, T, V)
alphas = torch.zeros(B, T, P)
for t in range(T):
    bt = sum(L > t for L in lengths)
    awe, alpha = d.attention(features[:bt], h[:bt])
    gate = torch.sigmoid(d.f_beta(h[:bt]))
    h, c = d.decode_step(torch.cat([emb[:bt, t], gate * awe], dim=1), (h[:bt], c[:bt]))
    scores[:bt, t] = d.fc(h)
    alphas[:bt, t] = alpha

mask = torch.tensor([[t < L for t in range(T)] for L in lengths])
targets = captions[:, 1:]
ce = nn.functional.cross_entropy(scores[mask], targets[mask])
penalty = ALPHA_C * ((1.0 - alphas.sum(dim=1)) ** 2).mean()
loss = ce + penalty
loss.backward()

out = {f"param/{k}": v.detach().clone() for k, v in d.state_dict().items()}
out.update({f"grad/{k}": p.grad.detach().clone() for k, p in d.named_parameters()})
out["input/features"] = features.detach().clone()
out["input/captions"] = captions.clone()
out["input/lengths"] = torch.tensor(lengths)
out["output/scores"] = scores.detach()
out["output/alphas"] = alphas.detach()
out["output/ce"] = ce.detach().reshape(1)
out["output/penalty"] = penalty.detach().reshape(1)
out["output/loss"] = loss.detach().reshape(1)
out["grad/features"] = features.grad.detach().clone()
save_file({k: v.contiguous() for k, v in out.items()}, "sat_golden.safetensors",
          metadata={"torch": torch.__version__, "sizes": f"V={V} M={M} E={E} A={A} H={H} P={P} B={B} T={T}", "alpha_c": str(ALPHA_C)})
print("loss", loss.item(), "ce", ce.item(), "penalty", penalty.item())
