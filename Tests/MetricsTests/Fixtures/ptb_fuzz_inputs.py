#!/usr/bin/env python3
"""Prints random caption-like lines that stress the PTB tokenizer (punctuation glued to words, clitics,
abbreviations, numbers, quotes, symbols). Some of them were appended to ptb_inputs.txt:

    python3 ptb_fuzz_inputs.py SEED COUNT >> ptb_inputs.txt && python3 make_ptb_fixture.py
"""
import random
import sys

random.seed(int(sys.argv[1]))
count = int(sys.argv[2])
words = ("a an the dog dogs man woman child girl boy is are running jumps sits on in at with of red blue big small "
         "grass water ball frisbee shirt T-shirt beach street park snow bike he she it they two three people group").split()
numbers = ["1", "2", "10", "3.5", "1,000", "4:30", "50", "1990", "2nd", "A", "B", "I", "x", "U.S", "e.g", "Mr", "Dr",
           "St", "no", "fig", "etc", "Inc", "Jr"]
pre = ["", "", "", "", "(", "\"", "'", "“", "‘", "[", "-", "--", "*", "#", "$", "@", "«"]
suf = ["", "", "", "", "", ".", ",", "!", "?", ";", ":", ")", "\"", "'", "'s", "’s", "n't", "...", "…", "-", "--",
       ".\"", ",\"", "!)", "?!", "]", "%", "’", "»", "s'", "'ll", "'re", "'ve", "'d", "'m", ":)", "..", ".'", "'."]
whole = ["o'clock", "rock'n'roll", "y'all", "ma'am", "O'Neil", "'90s", "'em", "'cause", "AT&T", "at&t", "R&B",
         "café", "naïve", "5pm", "10:30am", "2.5km", "1st", "4x4", "e-mail", "a/b", "and/or", "1 1/2", "no. 5",
         "fig. 2", "Ltd.", "Jan.", "Calif.", "u.s.a.", "N.Y.", ":(", ";)", ":D", "<b>", "</b>", "<3", "a_b",
         "www.x.com", "http://x.y/z", "a@b.com", "´", "-5", "+5", "a--b", "cannot", "gonna", "wanna", "€5", "£3", "¢"]


def word():
    if random.random() < 0.1:
        return random.choice(whole)
    w = random.choice(words)
    r = random.random()
    if r < 0.15:
        w = w.capitalize()
    elif r < 0.2:
        w = w.upper()
    elif r < 0.25:
        w = random.choice(numbers)
    return random.choice(pre) + w + random.choice(suf)


lines = set()
while len(lines) < count:
    lines.add(" ".join(word() for _ in range(random.randint(3, 12))))
print("\n".join(sorted(lines)))
