"""How random a DNS label looks: a small logistic model over character features (pure Python at run time).

Spam senders that rotate subdomains draw labels such as ``x7fk2q`` or ``k3pz9a``; real host names are words,
place names, service names and numbered hosts (``mail``, ``sapporo``, ``mx2``). The model scores one label
(``p_random``, 0–1). It is trained by :mod:`mailposture.domains.train` from bundled data (the Public Suffix
List's labels, the jp-localgov domains, common host and selector names) against generated random-label families
of several kinds; the weights are the file ``label_model.json`` beside this module, rebuilt byte for byte by
``python -m mailposture.domains.train``.

A label alone proves nothing: hashed CDN names are random too. The verdict (:mod:`mailposture.domains.verdict`)
combines the label score with how many distinct labels rotate under one parent and the DNS proof.
"""

from __future__ import annotations

import itertools
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
_START, _END = "^", "$"
VOWELS = frozenset("aeiou")
HEX = frozenset("0123456789abcdef")
FEATURES = ("len", "digit_share", "hyphen", "char_mean", "char_min", "entropy", "consonant_run",
            "vowel_share", "transitions", "hexish", "mixed", "distinct_share")


class CharModel:
    """Interpolated character trigrams of real labels (start/end markers): P(c|ab) mixes the trigram, bigram
    and uniform estimates (Jelinek-Mercer smoothing), so an unseen sequence is improbable, never impossible."""

    L3, L2, L1 = 0.6, 0.3, 0.1

    def __init__(self, tri: dict[str, int], bi: dict[str, int], uni: dict[str, int]) -> None:
        self.tri, self.bi, self.uni = tri, bi, uni
        self.ctx: dict[str, int] = {}          # count of each two-character context
        for k, v in tri.items():
            self.ctx[k[:2]] = self.ctx.get(k[:2], 0) + v
        self.first = {_START: sum(v for k, v in bi.items() if k[0] == _START)}   # labels seen

    @classmethod
    def train(cls, labels: list[str]) -> CharModel:
        tri: dict[str, int] = {}
        bi: dict[str, int] = {}
        uni: dict[str, int] = {}
        for lab in labels:
            seq = _START + _START + lab + _END
            for i in range(2, len(seq)):
                a, b, c = seq[i - 2], seq[i - 1], seq[i]
                tri[a + b + c] = tri.get(a + b + c, 0) + 1
                bi[b + c] = bi.get(b + c, 0) + 1
                uni[c] = uni.get(c, 0) + 1
        return cls(tri, bi, uni)

    def scores(self, label: str) -> tuple[float, float]:
        """Mean and minimum log-probability per character (end marker included)."""
        seq = _START + _START + label + _END
        tri, bi, uni, ctx = self.tri, self.bi, self.uni, self.ctx
        vals = []
        for i in range(2, len(seq)):
            a, b, c = seq[i - 2], seq[i - 1], seq[i]
            n_ab = ctx.get(a + b, 0)
            n_b = self.first[_START] if b == _START else uni.get(b, 0)
            p3 = tri.get(a + b + c, 0) / n_ab if n_ab else 0.0
            p2 = bi.get(b + c, 0) / n_b if n_b else 0.0
            vals.append(math.log(self.L3 * p3 + self.L2 * p2 + self.L1 / (len(ALPHABET) + 1)))
        return sum(vals) / len(vals), min(vals)


def features(label: str, chars: CharModel) -> list[float]:
    """The feature vector of one lower-case LDH label (order: :data:`FEATURES`)."""
    n = len(label) or 1
    digits = sum(c.isdigit() for c in label)
    letters = [c for c in label if c.isalpha()]
    vowels = sum(c in VOWELS for c in letters)
    run = best = 0
    for c in label:
        run = run + 1 if (c.isalpha() and c not in VOWELS) else 0
        best = max(best, run)
    trans = sum(1 for a, b in itertools.pairwise(label) if a.isdigit() != b.isdigit())
    freq: dict[str, int] = {}
    for c in label:
        freq[c] = freq.get(c, 0) + 1
    ent = -sum((k / n) * math.log2(k / n) for k in freq.values())
    mean, low = chars.scores(label)
    return [
        min(n, 32) / 16.0,
        digits / n,
        1.0 if "-" in label else 0.0,
        mean,
        low,
        ent / math.log2(n + 1),
        best / n,
        vowels / (len(letters) or 1),
        trans / n,
        1.0 if n >= 8 and HEX.issuperset(label) and digits and letters else 0.0,
        1.0 if digits and letters else 0.0,
        len(freq) / n,
    ]


class LabelModel:
    """Standardised features, a linear score and the logistic function."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.chars = CharModel(data["trigrams"], data["bigrams"], data["unigrams"])
        self.mean = data["mean"]
        self.scale = data["scale"]
        self.weights = data["weights"]
        self.bias = data["bias"]
        self.threshold = data["threshold"]

    def p_random(self, label: str) -> float:
        label = label.lower()
        if not label or label.startswith("xn--"):
            return 0.0  # IDNs are judged by other signals; an A-label's shape is not randomness
        return self.p_from_features(features(label, self.chars))

    def p_from_features(self, x: list[float]) -> float:
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.mean, self.scale,
                                                                 strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def is_random(self, label: str) -> bool:
        return self.p_random(label) >= self.threshold


@lru_cache(maxsize=1)
def model() -> LabelModel:
    """The bundled model (loaded once)."""
    text = resources.files("mailposture.domains").joinpath("label_model.json").read_text(encoding="utf-8")
    return LabelModel(json.loads(text))
