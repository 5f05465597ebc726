#!/usr/bin/env python3
"""Makes a synthetic scoring case with tricky captions (ptb_fuzz_inputs.py-style words plus plain ones) and
pycocoevalcap 1.2's scores for it: score_hypotheses.txt (IMAGE<TAB>caption), score_references.txt
(IMAGE#N<TAB>caption) and score_expected.json (corpus and per-image BLEU-1..4, CIDEr-D, ROUGE-L).
Images are numbered so that pycocoevalcap's order (insertion) is the image-id order `caption score` uses.

    python3 make_score_fixture.py
"""
import json
import os
import random

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

here = os.path.dirname(os.path.abspath(__file__))
random.seed(2026)
plain = ("a an the dog dogs man woman child girl boy is are running jumps sits on in at with of red blue big small "
         "grass water ball frisbee shirt beach street park snow bike two three people group").split()
tricky = ["T-shirt", "man's", "dogs'", "isn't", "can't", "cannot", "gonna", "(red)", "[x]", "\"hi\"", "“q”", "’s",
          "--", "...", ",", ".", "!", "?", ";", ":", "3:30", "1,000", "2.5", "3/4", "1 1/2", "$5", "50%", "#1",
          "Mr.", "U.S.", "e.g.", "no. 5", "o'clock", "10-year-old", "café", "AT&T", ":)", "-5", "a.", "A."]


def caption(base):
    words = list(base)
    for _ in range(random.randint(0, 3)):
        words.insert(random.randint(0, len(words)), random.choice(tricky))
    for _ in range(random.randint(0, 2)):
        words[random.randrange(len(words))] = random.choice(plain)
    s = " ".join(words)
    return s[0].upper() + s[1:] if random.random() < 0.5 else s


hyps, refs = {}, {}
for i in range(60):
    image = f"img{i:03d}"
    base = [random.choice(plain) for _ in range(random.randint(3, 10))]
    refs[image] = [caption(base) for _ in range(random.randint(1, 5))]
    hyps[image] = caption(base) if i % 7 else ""
with open(os.path.join(here, "score_hypotheses.txt"), "w", encoding="utf-8") as f:
    for k, v in hyps.items():
        f.write(f"{k}\t{v}\n")
with open(os.path.join(here, "score_references.txt"), "w", encoding="utf-8") as f:
    for k, vs in refs.items():
        for n, v in enumerate(vs):
            f.write(f"{k}#{n}\t{v}\n")
tok = PTBTokenizer()
res = tok.tokenize({k: [{"caption": v}] for k, v in hyps.items()})
gts = tok.tokenize({k: [{"caption": v} for v in vs] for k, vs in refs.items()})
bleu, bleus = Bleu(4).compute_score(gts, res, verbose=0)
cider, ciders = Cider().compute_score(gts, res)
rouge, rouges = Rouge().compute_score(gts, res)
ids = list(gts.keys())
out = {"images": len(ids), "bleu": [float(b) for b in bleu], "cider": float(cider), "rouge_l": float(rouge),
       "per_image": {k: {"bleu": [float(bleus[n][i]) for n in range(4)], "cider": float(ciders[i]),
                         "rouge_l": float(rouges[i])} for i, k in enumerate(ids)}}
with open(os.path.join(here, "score_expected.json"), "w") as f:
    json.dump(out, f, indent=1)
print(out["bleu"], out["cider"], out["rouge_l"])
