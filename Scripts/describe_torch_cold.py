#!/usr/bin/env python3
"""The PyTorch side of the cold-process `caption describe` benchmark (issue 11).

Does what `caption describe IMAGE --beam 3` does with the shipped model, the way a PyTorch user would: import torch,
build the small CNN encoder and the Show-Attend-Tell decoder (the sgrvinod tutorial's layer names, which the model
file uses), load Models/default.safetensors, read and preprocess the photo with Pillow, and run the tutorial's
one-image beam search. Run in a fresh process and time the whole process, e.g.

    /usr/bin/time -f %e python3 Scripts/describe_torch_cold.py Samples/coffee.jpg
    /usr/bin/time -f %e .build/release/caption describe Samples/coffee.jpg

Needs `torch pillow safetensors numpy` (a reference tool only; never a dependency of the project).
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from safetensors import safe_open


class SmallCNN(nn.Module):
    """Sources/Vision/SmallCNN.swift: stem conv 3x3/2 + BN + ReLU, depthwise-separable blocks, 1x1 projection."""

    def __init__(self, configuration):
        super().__init__()
        fields = dict(part.split("=", 1) for part in configuration.split(";"))
        stem = int(fields["stem"])
        layers = [nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem))]
        c = stem
        for block in fields["blocks"].split(","):
            out, stride = (int(v) for v in block.split("/"))
            m = nn.Module()
            m.conv = nn.Sequential(nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c)),
                                   nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out))
            layers.append(m)
            c = out
        if fields["projection"] != "none":
            layers.append(nn.Conv2d(c, int(fields["projection"]), 1))
        self.features = nn.ModuleList(layers)

    def forward(self, x):
        x = F.relu(self.features[0](x))
        for m in self.features[1:]:
            if isinstance(m, nn.Conv2d):
                return m(x)
            x = F.relu(m.conv[0](x))
            x = F.relu(m.conv[2](m.conv[1](x)))
        return x


class Attention(nn.Module):
    def __init__(self, encoder_dim, decoder_dim, attention_dim):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)

    def forward(self, encoder_out, decoder_hidden):
        att = self.full_att(F.relu(self.encoder_att(encoder_out) + self.decoder_att(decoder_hidden).unsqueeze(1))).squeeze(2)
        alpha = F.softmax(att, dim=1)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class Decoder(nn.Module):
    """The tutorial's DecoderWithAttention (inference parts)."""

    def __init__(self, vocab_size, encoder_dim, embed_dim, decoder_dim, attention_dim):
        super().__init__()
        self.attention = Attention(encoder_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim, bias=True)
        self.init_h = nn.Linear(encoder_dim, decoder_dim)
        self.init_c = nn.Linear(encoder_dim, decoder_dim)
        self.f_beta = nn.Linear(decoder_dim, encoder_dim)
        self.fc = nn.Linear(decoder_dim, vocab_size)


def beam_search(decoder, encoder_out, word_map, k=3, max_steps=20):
    """The tutorial's caption_image_beam_search (caption.py), one image."""
    vocab_size = decoder.fc.out_features
    encoder_dim = encoder_out.size(-1)
    encoder_out = encoder_out.expand(k, encoder_out.size(1), encoder_dim)
    k_prev_words = torch.LongTensor([[word_map["<start>"]]] * k)
    seqs = k_prev_words
    top_k_scores = torch.zeros(k, 1)
    complete_seqs, complete_seqs_scores = [], []
    mean = encoder_out.mean(dim=1)
    h, c = decoder.init_h(mean), decoder.init_c(mean)
    step = 1
    while True:
        embeddings = decoder.embedding(k_prev_words).squeeze(1)
        awe, _ = decoder.attention(encoder_out, h)
        awe = torch.sigmoid(decoder.f_beta(h)) * awe
        h, c = decoder.decode_step(torch.cat([embeddings, awe], dim=1), (h, c))
        scores = F.log_softmax(decoder.fc(h), dim=1)
        scores = top_k_scores.expand_as(scores) + scores
        if step == 1:
            top_k_scores, top_k_words = scores[0].topk(k, 0, True, True)
        else:
            top_k_scores, top_k_words = scores.view(-1).topk(k, 0, True, True)
        prev_word_inds = torch.div(top_k_words, vocab_size, rounding_mode="floor")
        next_word_inds = top_k_words % vocab_size
        seqs = torch.cat([seqs[prev_word_inds], next_word_inds.unsqueeze(1)], dim=1)
        incomplete = [i for i, w in enumerate(next_word_inds) if w != word_map["<end>"]]
        complete = list(set(range(len(next_word_inds))) - set(incomplete))
        if complete:
            complete_seqs.extend(seqs[complete].tolist())
            complete_seqs_scores.extend(top_k_scores[complete])
        k -= len(complete)
        if k == 0:
            break
        seqs = seqs[incomplete]
        h, c = h[prev_word_inds[incomplete]], c[prev_word_inds[incomplete]]
        encoder_out = encoder_out[prev_word_inds[incomplete]]
        top_k_scores = top_k_scores[incomplete].unsqueeze(1)
        k_prev_words = next_word_inds[incomplete].unsqueeze(1)
        if step > max_steps:
            break
        step += 1
    if not complete_seqs:
        complete_seqs, complete_seqs_scores = seqs.tolist(), list(top_k_scores.view(-1))
    best = complete_seqs_scores.index(max(complete_seqs_scores))
    return complete_seqs[best]


def main():
    torch.set_num_threads(2)
    image_path = sys.argv[1]
    model_path = sys.argv[2] if len(sys.argv) > 2 else "Models/default.safetensors"
    with safe_open(model_path, "pt") as f:
        metadata = f.metadata()
    config = json.loads(metadata["config"])
    words = json.loads(metadata["vocabulary"])["words"]
    word_map = {w: i for i, w in enumerate(words)}
    tensors = {k: v.float() for k, v in load_file(model_path).items()}
    encoder = SmallCNN(config["encoder"]["configuration"])
    encoder.load_state_dict({k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")})
    lstm = config["lstm"]
    decoder = Decoder(len(words), config["encoder"]["channels"], lstm["embeddingSize"], lstm["hiddenSize"], lstm["attentionSize"])
    decoder.load_state_dict({k[len("decoder."):]: v for k, v in tensors.items() if k.startswith("decoder.")}, strict=False)
    encoder.eval()
    decoder.eval()
    image = Image.open(image_path).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(224, 224, 3).permute(2, 0, 1).float()
    x = (x / 255 - 0.5) / 0.5
    with torch.inference_mode():
        regions = encoder(x.unsqueeze(0))
        regions = regions.flatten(2).permute(0, 2, 1)
        seq = beam_search(decoder, regions, word_map, k=3)
    caption = [words[i] for i in seq if i not in (word_map["<start>"], word_map["<end>"], word_map["<pad>"])]
    print(f"{image_path}\t{' '.join(caption)}")


if __name__ == "__main__":
    main()
