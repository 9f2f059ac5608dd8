"""The text model: logistic regression over character n-grams (pure Python inference, no numpy needed).

Features: the message folded (NFKC, lower case), each link replaced by one marker character, digits by ``0``,
white space collapsed, padded with a space; every distinct character 1- to 4-gram present, scaled by
1/sqrt(number of distinct n-grams) so that long and short messages weigh alike. The model file
(``data/sms/model.json``) holds the bias and the non-zero weights; :mod:`mailposture.sms.train` rebuilds it
byte for byte from the bundled corpora.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources

URL_MARK = "\u2197"      # ↗ stands for a link
NGRAMS = (1, 2, 3, 4)   # grams() is unrolled for these
_DIGITS = re.compile(r"\d")
_WS = re.compile(r"\s+")


def prepare(text_without_urls: str, n_urls: int) -> str:
    """The model's view of a message: ``text_without_urls`` is folded text with links removed (see
    :func:`mailposture.sms.normalize.extract_urls`)."""
    s = _DIGITS.sub("0", text_without_urls.lower())
    s = _WS.sub(" ", s).strip()
    return " " + s + (" " + URL_MARK) * n_urls + " "


_MAXLEN = 2048
# every (start, end) slice of a string of length _MAXLEN for the n-gram sizes, ordered by end: a string of length
# L takes the first _UPTO[L] of them, and one C-level map() cuts all its n-grams
_SLICES = [slice(e - k, e) for e in range(1, _MAXLEN + 1) for k in NGRAMS if e - k >= 0]
_UPTO = [0]
for _e in range(1, _MAXLEN + 1):
    _UPTO.append(_UPTO[-1] + sum(1 for _k in NGRAMS if _e - _k >= 0))


def grams(prepared: str) -> set[str]:
    """The distinct character n-grams (sizes NGRAMS) of a prepared text."""
    n = len(prepared)
    if n <= _MAXLEN:
        return set(map(prepared.__getitem__, _SLICES[:_UPTO[n]]))
    return {prepared[i:i + k] for k in NGRAMS for i in range(n - k + 1)}


@dataclass(frozen=True, slots=True)
class Model:
    bias: float
    weights: dict[str, float]
    threshold: float = 0.0   # log-odds above which the model alone calls a message spam
    vocab: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocab", frozenset(self.weights))

    def logit(self, prepared: str) -> float:
        g = grams(prepared)
        if not g:
            return self.bias
        w = self.weights
        return self.bias + sum(map(w.__getitem__, g & self.vocab)) / math.sqrt(len(g))

    def to_json_bytes(self) -> bytes:
        doc = {"format": "mailposture-sms-ngram-lr/1", "ngrams": list(NGRAMS), "bias": self.bias,
               "threshold": self.threshold, "weights": dict(sorted(self.weights.items()))}
        return (json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Model:
        doc = json.loads(data)
        if doc.get("format") != "mailposture-sms-ngram-lr/1" or tuple(doc.get("ngrams") or ()) != NGRAMS:
            raise ValueError("not a mailposture SMS model file (format mailposture-sms-ngram-lr/1)")
        return cls(float(doc["bias"]), {k: float(v) for k, v in doc["weights"].items()},
                   float(doc.get("threshold", 0.0)))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


MODEL_PATH = "data/sms/model.json"


@functools.lru_cache(maxsize=1)
def bundled() -> Model:
    return Model.from_json_bytes(resources.files("mailposture").joinpath(MODEL_PATH).read_bytes())
