"""How random a DNS label looks: gradient-boosted trees over character features (:func:`features` is the
reference, one label in pure Python; :mod:`mailposture.domains.labelbatch` computes the same features and
evaluates the trees with numpy for a batch of labels at a time).

Spam senders that rotate subdomains draw labels such as ``x7fk2q`` or ``k3pz9a``; real host names are words,
place names, service names and numbered hosts (``mail``, ``sapporo``, ``mx2``). The model scores one label
(``p_random``, 0–1). It is trained by :mod:`mailposture.domains.train` from bundled data (the Public Suffix
List's labels, the jp-localgov domains, common host and selector names, GeoNames city names and dictionary
words: see ``data/labels/PROVENANCE.md``) against generated random-label families of several kinds; the weights,
the character model and the word list are the file ``label_model.json`` beside this module, rebuilt byte for
byte by ``python -m mailposture.domains.train``.

Besides the shape of the label (length, digits, entropy, character trigram likelihood), the model asks how much
of the label's letters known words cover (a dynamic-programming segmentation against the real labels it was
trained on): ``kitahiroshima`` is two known words, ``qmvtrkza`` is none, ``sapporo48213`` is a word with a long
number tail.

A label alone proves nothing: hashed CDN names are random too. The verdict (:mod:`mailposture.domains.verdict`)
combines the label score with how many distinct labels rotate under one parent and the DNS proof.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailposture.domains.labelbatch import BatchFeatures

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
_START, _END = "^", "$"
VOWELS = frozenset("aeiou")
HEX = frozenset("0123456789abcdef")
FEATURES = ("len", "digit_share", "hyphen", "char_mean", "char_min", "entropy", "consonant_run",
            "vowel_share", "transitions", "hexish", "mixed", "distinct_share",
            "llr", "cover", "pieces", "longest_word", "digit_runs", "digit_max", "digit_tail",
            "cv_alternation", "rare_letters", "vowel_run")
RARE = frozenset("jqxzvwk")      # letters that are rare in words and place names, common in random strings
MIN_PIECE, MAX_WORD = 3, 20      # a word inside a longer run of letters has at least 3 letters


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
        self._lp = self.logprobs()

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

    def logprobs(self) -> tuple[dict[str, float], dict[str, float], float]:
        """Log P(c|ab) of every seen trigram, the back-off value of every seen bigram (trigram unseen) and the
        uniform floor: the same numbers as the interpolation, looked up instead of computed."""
        u = self.L1 / (len(ALPHABET) + 1)
        p2 = {}
        for k, v in self.bi.items():
            n_b = self.first[_START] if k[0] == _START else self.uni.get(k[0], 0)
            p2[k] = self.L2 * (v / n_b if n_b else 0.0)
        lp3 = {k: math.log(self.L3 * v / self.ctx[k[:2]] + p2.get(k[1:], 0.0) + u) for k, v in self.tri.items()}
        return lp3, {k: math.log(v + u) for k, v in p2.items()}, math.log(u)

    def scores(self, label: str) -> tuple[float, float]:
        """Mean and minimum log-probability per character (end marker included)."""
        lp3, lp2, lp1 = self._lp
        seq = _START + _START + label + _END
        vals = []
        for i in range(len(seq) - 2):
            t = seq[i:i + 3]
            v = lp3.get(t)
            vals.append(lp2.get(t[1:], lp1) if v is None else v)
        return sum(vals) / len(vals), min(vals)


class Lexicon:
    """Known words, with every prefix of 3+ letters, so that a segmentation stops as soon as no word can go on."""

    def __init__(self, words: list[str] | set[str] | frozenset[str]) -> None:
        self.words = frozenset(words)
        pre: dict[str, bool] = {}
        for w in self.words:
            for i in range(MIN_PIECE, len(w)):
                pre.setdefault(w[:i], False)
        for w in self.words:
            if len(w) >= MIN_PIECE:
                pre[w] = True
        self.pre = pre

    def cover(self, run: str) -> tuple[int, int, int]:
        """Letters of one run of letters covered by known words: (covered, pieces, longest piece). Dynamic
        programming that maximises the covered letters, then minimises the pieces; a whole run that is a known
        word counts whatever its length (``mx``), a word inside it needs :data:`MIN_PIECE` letters."""
        n = len(run)
        if run in self.words:
            return n, 1, n
        pre = self.pre
        best = [(0, 0, 0)] * (n + 1)          # (covered, -pieces, longest) of the prefix run[:i]
        for j in range(n):
            cur = best[j]
            if cur > best[j + 1]:
                best[j + 1] = cur
            for i in range(j + MIN_PIECE, min(n, j + MAX_WORD) + 1):
                hit = pre.get(run[j:i])
                if hit is None:
                    break
                if hit:
                    got = (cur[0] + i - j, cur[1] - 1, max(cur[2], i - j))
                    if got > best[i]:
                        best[i] = got
        c, p, lo = best[n]
        return c, -p, lo


def features(label: str, chars: CharModel, lex: Lexicon) -> list[float]:
    """The feature vector of one lower-case LDH label (order: :data:`FEATURES`)."""
    n = len(label) or 1
    digits = letters = vowels = run = best = trans = 0
    vrun = vbest = rare = alt = pairs = 0
    prev_v: bool | None = None
    covered = pieces = longest = 0
    runs = digit_runs = digit_max = 0
    prev = ""
    seg_start = 0
    freq: dict[str, int] = {}
    for i, c in enumerate(label):
        freq[c] = freq.get(c, 0) + 1
        kind = "a" if "a" <= c <= "z" else ("d" if "0" <= c <= "9" else "-")
        if kind == "a":
            letters += 1
            rare += c in RARE
            is_v = c in VOWELS
            if prev_v is not None:
                pairs += 1
                alt += is_v != prev_v
            prev_v = is_v
            if is_v:
                vowels += 1
                run = 0
                vrun += 1
                vbest = max(vbest, vrun)
            else:
                run += 1
                vrun = 0
                best = max(best, run)
        else:
            run = vrun = 0
            prev_v = None
            digits += kind == "d"
        if kind != prev:
            if prev and kind != "-" and prev != "-":
                trans += 1
            if prev == "a":
                cv, pc, lo = lex.cover(label[seg_start:i])
                covered, pieces, longest, runs = covered + cv, pieces + pc, max(longest, lo), runs + 1
            elif prev == "d":
                digit_runs += 1
                digit_max = max(digit_max, i - seg_start)
            seg_start, prev = i, kind
    if prev == "a":
        cv, pc, lo = lex.cover(label[seg_start:])
        covered, pieces, longest, runs = covered + cv, pieces + pc, max(longest, lo), runs + 1
    elif prev == "d":
        digit_runs += 1
        digit_max = max(digit_max, len(label) - seg_start)
    tail = len(label) - len(label.rstrip("0123456789"))
    ent = -sum((k / n) * math.log2(k / n) for k in freq.values())
    mean, low = chars.scores(label)
    nl = letters or 1
    return [
        min(n, 32) / 16.0,
        digits / n,
        1.0 if "-" in label else 0.0,
        mean,
        low,
        ent / math.log2(n + 1),
        best / n,
        vowels / nl,
        trans / n,
        1.0 if n >= 8 and HEX.issuperset(label) and digits and letters else 0.0,
        1.0 if digits and letters else 0.0,
        len(freq) / n,
        mean * (n + 1) + (n + 1) * math.log(len(ALPHABET) + 1),   # log-likelihood ratio against uniform
        covered / nl,
        pieces / max(runs, 1),
        longest / nl,
        float(digit_runs),
        min(digit_max, 12) / 12.0,
        min(tail, 12) / 12.0,
        alt / pairs if pairs else 0.0,
        rare / nl,
        float(vbest),
    ]


class LabelModel:
    """Gradient-boosted decision trees (depth and trees from the file, logistic loss) over the features:
    P(random) is the logistic function of the bias plus one leaf value per tree. Trees see interactions an
    additive model cannot (a long run of consonants means more in a short label than in a Welsh place name). Each
    tree is stored in heap order: internal node k tests ``x[feature[k]] >= threshold[k]`` (right child 2k+2,
    else left 2k+1); the leaves follow. Evaluated with numpy for a whole batch of labels at once
    (:class:`~mailposture.domains.labelbatch.Trees`)."""

    def __init__(self, data: dict[str, Any]) -> None:
        import numpy as np

        from mailposture.domains.labelbatch import Trees

        self.data = data
        self.chars = CharModel(data["trigrams"], data["bigrams"], data["unigrams"])
        self.bias = data["bias"]
        self.threshold = data["threshold"]
        self.lex = Lexicon(data["words"])
        trees = data["trees"]
        self.depth = data["depth"]
        self.feat = np.asarray([t["feature"] for t in trees], dtype=np.intp).reshape(len(trees), -1)
        self.thr = np.asarray([[math.inf if v is None else v for v in t["threshold"]] for t in trees],
                              dtype=np.float64).reshape(len(trees), -1)
        self.leaf = np.asarray([t["leaf"] for t in trees], dtype=np.float64).reshape(len(trees), -1)
        self.inner = self.feat.shape[1]                           # internal nodes a tree: 2 ** depth - 1
        self.trees = Trees(self.feat, self.thr, self.leaf, self.bias, len(FEATURES))
        self._batch: BatchFeatures | None = None

    def batch_features(self, labels: list[str]) -> Any:
        """The feature matrix of lower-case labels: numpy for the ASCII labels of up to :data:`MAX_LEN`
        characters, :func:`features` for the others (the same numbers either way)."""
        import numpy as np

        from mailposture.domains.labelbatch import MAX_LEN

        if "".join(labels).isascii() and all(0 < len(lab) <= MAX_LEN for lab in labels):
            return self.batch("".join(labels).encode("ascii"), np.fromiter(map(len, labels), np.intp, len(labels)))
        fast = [i for i, lab in enumerate(labels) if lab.isascii() and 0 < len(lab) <= MAX_LEN]
        out = np.empty((len(labels), len(FEATURES)))
        if fast:
            out[fast] = self.batch_features([labels[i] for i in fast])
        for i in sorted(set(range(len(labels))) - set(fast)):
            out[i] = features(labels[i], self.chars, self.lex)
        return out

    def batch(self, text: bytes, lens: Any) -> Any:
        """:meth:`BatchFeatures.matrix` of the model's tables (built on first use)."""
        from mailposture.domains.labelbatch import BatchFeatures

        if self._batch is None:
            self._batch = BatchFeatures(self.chars._lp, self.lex.words, vowels=VOWELS, rare=RARE, hexchars=HEX,
                                        min_piece=MIN_PIECE, max_word=MAX_WORD, alphabet_size=len(ALPHABET))
        return self._batch.matrix(text, lens)

    def margins(self, rows: Any) -> Any:
        """The trees' summed output (log-odds) for a batch of feature vectors (rows or a matrix; numpy array)."""
        import numpy as np

        x = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
        return self.trees.margins(x)

    def p_from_features_batch(self, rows: Any) -> list[float]:
        import numpy as np

        if not len(rows):
            return []
        z = np.clip(self.margins(rows), -60.0, 60.0)
        return (1.0 / (1.0 + np.exp(-z))).tolist()

    def p_from_features(self, x: list[float]) -> float:
        return self.p_from_features_batch([x])[0]

    def p_randoms(self, labels: list[str]) -> list[float]:
        """P(random) of each label (0 for empty labels and IDN A-labels: their shape is not randomness)."""
        return self._p(labels).tolist()

    def _p(self, labels: list[str]) -> Any:
        import numpy as np

        from mailposture.domains.labelbatch import MAX_LEN

        out = np.zeros(len(labels))
        joined = "".join(labels)
        if joined.isascii() and labels:          # all at once: lower case, lengths and the labels to leave out
            lens = np.fromiter(map(len, labels), np.intp, len(labels))
            if lens.max() <= MAX_LEN:
                text = joined.lower().encode("ascii")
                start = np.cumsum(lens) - lens
                buf = np.frombuffer(text + b"    ", dtype=np.uint8)
                xn = (lens >= 4) & (buf[start] == 120) & (buf[start + 1] == 110) & (buf[start + 2] == 45) \
                    & (buf[start + 3] == 45)
                keep = (lens > 0) & ~xn
                if keep.any():
                    z = np.clip(self.margins(self.batch(text, lens)[keep]), -60.0, 60.0)
                    out[keep] = 1.0 / (1.0 + np.exp(-z))
                return out
        low = [lab.lower() for lab in labels]
        todo = [i for i, lab in enumerate(low) if lab and not lab.startswith("xn--")]
        if todo:
            z = np.clip(self.margins(self.batch_features([low[i] for i in todo])), -60.0, 60.0)
            out[todo] = 1.0 / (1.0 + np.exp(-z))
        return out

    def p_random(self, label: str) -> float:
        return self.p_randoms([label])[0]

    def is_random(self, label: str) -> bool:
        return self.p_random(label) >= self.threshold

    def random_flags(self, labels: list[str]) -> list[bool]:
        return (self._p(labels) >= self.threshold).tolist()


@lru_cache(maxsize=1)
def model() -> LabelModel:
    """The bundled model (loaded once)."""
    text = resources.files("mailposture.domains").joinpath("label_model.json").read_text(encoding="utf-8")
    return LabelModel(json.loads(text))
