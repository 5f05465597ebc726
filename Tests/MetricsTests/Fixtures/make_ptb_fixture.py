#!/usr/bin/env python3
"""Runs pycocoevalcap's PTB tokenizer (the bundled stanford-corenlp-3.4.1.jar, `-preserveLines -lowerCase`)
over ptb_inputs.txt (one caption a line) and writes ptb_tokens.tsv: input, raw PTB output, and the tokens
after pycocoevalcap's punctuation filter, tab-separated. Needs `pip install pycocoevalcap==1.2` and Java.

    python3 make_ptb_fixture.py
"""
import os
import subprocess

import pycocoevalcap.tokenizer.ptbtokenizer as ptb

here = os.path.dirname(os.path.abspath(__file__))
jar = os.path.join(os.path.dirname(ptb.__file__), ptb.STANFORD_CORENLP_3_4_1_JAR)
with open(os.path.join(here, "ptb_inputs.txt"), encoding="utf-8") as f:
    inputs = f.read().split("\n")
if inputs and inputs[-1] == "":
    inputs.pop()
assert all("\t" not in s for s in inputs)
# The same command line as PTBTokenizer.tokenize.
res = subprocess.run(["java", "-cp", jar, "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase"],
                     input="\n".join(inputs).encode(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
lines = res.stdout.decode().split("\n")
with open(os.path.join(here, "ptb_tokens.tsv"), "w", encoding="utf-8") as out:
    out.write("# input\tPTB 3.4.1 output (-preserveLines -lowerCase)\tafter pycocoevalcap's punctuation filter\n")
    for s, line in zip(inputs, lines):
        kept = " ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS)
        out.write(f"{s}\t{line.rstrip()}\t{kept}\n")
print(f"{len(inputs)} rows")
