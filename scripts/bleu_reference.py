#!/usr/bin/python3
"""Reference BLEU values for tests/test_bleu.cpp, from a second implementation.

Tokenisation: sacreBLEU 2.x's Tokenizer13a, re-typed here with Python's own `re` (the engine
sacreBLEU runs on). Scoring: NLTK's corpus_bleu (Debian's python3-nltk) with uniform weights and
SmoothingFunction().method3, which is mteval's (and sacreBLEU's default) "exp" smoothing.
Run: /usr/bin/python3 scripts/bleu_reference.py   (apt-get install python3-nltk)
"""
import re

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

_RULES = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tok13a(line):
    line = line.rstrip()
    line = line.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>')
    line = f' {line} '
    for rx, repl in _RULES:
        line = rx.sub(repl, line)
    return ' '.join(line.split())


CASES = {
    "french": (
        ["Un homme en t-shirt bleu fait du vélo dans la rue.",
         "Deux chiens jouent dans l'herbe, près d'un lac.",
         "Une femme (en rouge) vend 3-4 fruits pour 1,50 euros.",
         "Des enfants \"souriants\" regardent la caméra&amp;rient !"],
        ["Un homme portant un t-shirt bleu fait du vélo dans une rue.",
         "Deux chiens jouent dans l'herbe près d'un lac.",
         "Une femme en rouge vend des fruits pour 1,50 euro.",
         "Des enfants souriants regardent la caméra et rient !"]),
    "short": (  # the brevity penalty
        ["A dog runs.", "Two men talk on the street near a car."],
        ["A brown dog runs across the green field.", "Two men are talking on the street near a red car."]),
}

if __name__ == "__main__":
    for name, (hyps, refs) in CASES.items():
        h = [tok13a(x).split() for x in hyps]
        r = [[tok13a(x).split()] for x in refs]
        score = corpus_bleu(r, h, smoothing_function=SmoothingFunction().method3)
        print(name, "%.10f" % (100 * score))
        for x in hyps + refs:
            print("  ", tok13a(x))
