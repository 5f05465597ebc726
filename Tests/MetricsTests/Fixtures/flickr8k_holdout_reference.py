#!/usr/bin/env python3
"""pycocoevalcap 1.2 scores for the Flickr8k hold-one-out protocol that MetricsTests.testFlickr8kHoldOut uses:
for every image of ../shared/data/flickr8k/captions.txt, caption #0 is the hypothesis and #1..#4 are the
references. Prints BLEU-1..4, CIDEr-D and ROUGE-L with full precision (needs Java for the PTB tokenizer).

    python3 flickr8k_holdout_reference.py ../../../../shared/data/flickr8k/captions.txt
"""
import sys
from collections import OrderedDict

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

res, gts = OrderedDict(), OrderedDict()
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            continue
        key, caption = line.split("\t", 1)
        image, n = key.rsplit("#", 1)
        if n == "0":
            res[image] = [{"caption": caption}]
        else:
            gts.setdefault(image, []).append({"caption": caption})
tok = PTBTokenizer()
res, gts = tok.tokenize(res), tok.tokenize(gts)
bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
cider, _ = Cider().compute_score(gts, res)
rouge, _ = Rouge().compute_score(gts, res)
print("images", len(res))
print("bleu", [repr(float(b)) for b in bleu])
print("cider", repr(float(cider)))
print("rouge_l", repr(float(rouge)))
