"""The label model's features and trees for a whole batch of labels at once, with numpy.

:func:`mailposture.domains.labels.features` is the reference: one label, pure Python, used by the training.
:class:`BatchFeatures` computes the same numbers for many labels in one pass over a padded byte matrix (one row a
label): character classes are masks, runs are lengths between resets (a running maximum of reset positions),
the trigram log-probabilities come from one dense table indexed by three character codes, the entropy terms
from a table by (label length, character count), and the word cover is the same maximum (covered letters, then
fewest pieces, then longest piece) found by walking a trie of the known words from every letter at once and a
dynamic programme over the label's positions. Every value is the float the reference gives: sums run in the
reference's order (one column after the other), and the logarithms are Python's, looked up. Labels that are not
ASCII or longer than :data:`MAX_LEN` go to the reference.

:class:`Trees` evaluates the gradient-boosted trees with bins and leaf masks (the QuickScorer scheme): each
feature's value becomes the number of that feature's thresholds it reaches; per feature and bin a table holds,
for every tree, the leaves still reachable when the nodes on that feature are decided (a node passed to the
right removes its left subtree's leaves); the exit leaf of a tree is the leftmost leaf left after AND-ing the 22
tables' rows. The same leaves as walking the trees, summed in the
same order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_LEN = 63                       # a DNS label's limit; longer strings are scored by the reference


class BatchFeatures:
    """Batch features; ``lp`` is :meth:`CharModel.logprobs`, ``words`` the lexicon, the rest the constants of
    :mod:`mailposture.domains.labels` (passed in, so that this module imports nothing of it)."""

    def __init__(self, lp: tuple[dict[str, float], dict[str, float], float], words: frozenset[str], *,
                 vowels: frozenset[str], rare: frozenset[str], hexchars: frozenset[str], min_piece: int,
                 max_word: int, alphabet_size: int) -> None:
        lp3, lp2, lp1 = lp
        chars = sorted({c for k in (*lp3, *lp2) for c in k})
        self.k = k = len(chars) + 1                              # the last code: any other character
        code = {c: i for i, c in enumerate(chars)}
        self.code = np.full(256, k - 1, dtype=np.intp)
        for c, i in code.items():
            if ord(c) < 256:
                self.code[ord(c)] = i
        self.start, self.end = code.get("^", k - 1), code.get("$", k - 1)
        order = [ord(c) for c in chars if ord(c) < 256]
        order += [v for v in range(256) if v not in set(order)]
        self.ecode = np.zeros(256, dtype=np.uint8)
        self.ecode[order] = np.arange(256)
        t3 = np.full((k, k, k), lp1)                             # log P(c|ab): trigram, else bigram back-off
        for key, v in lp2.items():
            t3[:, code[key[0]], code[key[1]]] = v
        for key, v in lp3.items():
            t3[code[key[0]], code[key[1]], code[key[2]]] = v
        self.t3 = t3.ravel()
        self.llr_unit = math.log(alphabet_size + 1)
        n = np.arange(MAX_LEN + 2)
        self.ent = np.zeros((MAX_LEN + 1, MAX_LEN + 1))          # (k / n) * log2(k / n), Python's floats
        for nn in range(1, MAX_LEN + 1):
            for kk in range(1, nn + 1):
                self.ent[nn, kk] = (kk / nn) * math.log2(kk / nn)
        self.log2n1 = np.asarray([math.log2(v + 1) for v in n])
        cls = np.zeros((4, 256), dtype=bool)
        for i, s in enumerate((vowels, rare, hexchars)):
            for c in s:
                cls[i, ord(c)] = True
        self.vowel, self.rare, self.hex = cls[0], cls[1], cls[2]
        self.min_piece, self.max_word = min_piece, max_word
        self._trie(words)

    def _trie(self, words: frozenset[str]) -> None:
        """The known words (a-z only: a run of letters holds nothing else) as a trie: ``child[node, letter]``,
        node 0 is dead, node 1 the root."""
        nodes: dict[str, int] = {"": 1}
        for w in sorted(words):
            if w.isascii() and w.isalpha() and w.islower():
                for i in range(1, len(w) + 1):
                    nodes.setdefault(w[:i], len(nodes) + 1)
        self.child = np.zeros((len(nodes) + 2, 27), dtype=np.int32)   # letter 26: not a letter (dead)
        self.word = np.zeros(len(nodes) + 2, dtype=bool)
        for p, i in nodes.items():
            if p:
                self.child[nodes[p[:-1]], ord(p[-1]) - 97] = i
        for w in words:
            if w in nodes:
                self.word[nodes[w]] = True
        self.longest_word = max((len(p) for p in nodes), default=0)

    def __call__(self, labels: list[str]) -> Any:
        """The (len(labels), 22) feature matrix of lower-case ASCII labels of 1 to :data:`MAX_LEN` characters."""
        return self.matrix("".join(labels).encode("ascii"), np.fromiter(map(len, labels), np.intp, len(labels)))

    def matrix(self, text: bytes, lens: Any) -> Any:
        """The feature matrix of labels given as their concatenation and their lengths (an empty label gives a
        row of meaningless numbers: the caller leaves it out)."""
        b = len(lens)
        w = max(int(lens.max()) if b else 1, 1)
        buf = np.frombuffer(text, dtype=np.uint8)
        x = np.zeros((b, w + 1), dtype=np.uint8)                # one zero column: every label ends inside
        rows = np.repeat(np.arange(b), lens)
        cols = np.arange(len(buf)) - np.repeat(np.cumsum(lens) - lens, lens)
        x[rows, cols] = buf
        pos = np.arange(w + 1)
        valid = pos < lens[:, None]
        letter = (x >= 97) & (x <= 122)
        digit = (x >= 48) & (x <= 57)
        vowel = self.vowel[x]
        cons = letter & ~vowel
        n = np.maximum(lens, 1)
        nf = n.astype(np.float64)
        nd, nl_ = digit.sum(1), letter.sum(1)
        nl = np.maximum(nl_, 1)
        out = np.empty((b, 22))
        out[:, 0] = np.minimum(n, 32) / 16.0
        out[:, 1] = nd / n
        out[:, 2] = (x == 45).any(1)
        mean, low = self._chars(x, lens, w)
        out[:, 3], out[:, 4] = mean, low
        out[:, 5], out[:, 11] = self._entropy(x, valid, lens, n, w)
        out[:, 6] = _runs(cons).max(1) / n
        out[:, 7] = vowel.sum(1) / nl
        out[:, 8] = ((letter[:, 1:] & digit[:, :-1]) | (digit[:, 1:] & letter[:, :-1])).sum(1) / n
        both = (nd > 0) & (nl_ > 0)
        out[:, 9] = (n >= 8) & both & (self.hex[x] | ~valid).all(1)
        out[:, 10] = both
        out[:, 12] = mean * (nf + 1) + (nf + 1) * self.llr_unit
        covered, pieces, longest, runs = self._cover(x, letter, lens, w)
        out[:, 13] = covered / nl
        out[:, 14] = pieces / np.maximum(runs, 1)
        out[:, 15] = longest / nl
        dstart = digit & ~np.concatenate([np.zeros((b, 1), dtype=bool), digit[:, :-1]], 1)
        drun = _runs(digit)
        out[:, 16] = dstart.sum(1)
        out[:, 17] = np.minimum(drun.max(1), 12) / 12.0
        out[:, 18] = np.minimum(drun[np.arange(b), np.maximum(lens - 1, 0)], 12) / 12.0
        pair = letter[:, 1:] & letter[:, :-1]
        pairs = pair.sum(1)
        alt = (pair & (vowel[:, 1:] != vowel[:, :-1])).sum(1)
        out[:, 19] = np.where(pairs > 0, alt / np.maximum(pairs, 1), 0.0)
        out[:, 20] = (self.rare[x] & letter).sum(1) / nl
        out[:, 21] = _runs(letter & vowel).max(1)
        return out

    def _chars(self, x: Any, lens: Any, w: int) -> tuple[Any, Any]:
        """Mean and minimum log P of the characters and the end marker (the reference's order of addition)."""
        b = len(x)
        c = self.code[x]
        seq = np.empty((b, w + 3), dtype=np.intp)
        seq[:, :2] = self.start
        seq[:, 2:] = c
        seq[np.arange(b), lens + 2] = self.end
        k = self.k
        vals = self.t3[(seq[:, :-2] * k + seq[:, 1:-1]) * k + seq[:, 2:]]      # (b, w + 1)
        inside = np.arange(w + 1) <= lens[:, None]
        cols = np.where(inside, vals, 0.0).T.copy()      # one row a position; past the end, + 0.0 changes nothing
        acc = cols[0].copy()
        for j in range(1, w + 1):
            acc += cols[j]
        low = np.where(inside, vals, np.inf).min(1)
        return acc / (lens + 1), low

    def _entropy(self, x: Any, valid: Any, lens: Any, n: Any, w: int) -> tuple[Any, Any]:
        """Shannon entropy over log2(n + 1) (terms added in order of each character's first occurrence) and the
        share of distinct characters."""
        b = len(x)
        code = self.ecode[x]                     # bytes renumbered: the label alphabet first, a narrow table
        width = int(code[valid].max()) + 1 if valid.any() else 1
        none = width * b                          # the slot of the padding: seen from the start, never counted
        key = np.where(valid, code.astype(np.intp) + width * np.arange(b)[:, None], none).T.copy()   # (w + 1, b)
        counts = np.bincount(key.ravel(), minlength=none + 1)
        counts[none] = 0
        seen = np.zeros(none + 1, dtype=bool)
        seen[none] = True
        first = np.zeros(key.shape, dtype=bool)
        for j in range(w):                        # a character's first occurrence: not seen in an earlier column
            kj = key[j]
            first[j] = ~seen[kj]
            seen[kj] = True
        terms = np.where(first, self.ent[n, counts[key]], 0.0)
        acc = terms[0].copy()
        for j in range(1, w):
            acc += terms[j]
        return -acc / self.log2n1[n], first.sum(0) / n

    def _cover(self, x: Any, letter: Any, lens: Any, w: int) -> tuple[Any, Any, Any, Any]:
        """(covered letters, pieces, longest piece, runs of letters) of each label, as :meth:`Lexicon.cover`
        summed over the label's runs of letters: the best segmentations of separate runs add up, so one
        dynamic programme over the whole label, non-letters passed through, finds the same numbers."""
        b = len(x)
        wide = w + 1
        lc = np.where(letter, x.astype(np.intp) - 97, 26).ravel()
        prev = np.concatenate([np.zeros((b, 1), dtype=bool), letter[:, :-1]], 1)
        runstart = letter & ~prev
        start, after = runstart.ravel(), ~letter.ravel()
        at = np.flatnonzero(letter)               # row * wide + column of every letter: a walk starts there
        pos = at
        node = np.ones(len(at), dtype=np.intp)
        child = self.child.ravel()
        edges: list[tuple[Any, Any]] = []
        for step in range(1, min(self.longest_word, w) + 1):
            node = child[node * 27 + lc[pos + step - 1]]
            alive = node > 0
            pos, node = pos[alive], node[alive]
            if not len(pos):
                break
            hit = self.word[node]
            if not (self.min_piece <= step <= self.max_word):
                hit &= start[pos] & after[pos + step]                # a whole run that is a word
            if hit.any():
                edges.append((pos[hit], np.full(int(hit.sum()), step)))
        k1, k2, p0 = 128, 128 * 128, 127          # key = covered * k2 + (p0 - pieces) * k1 + longest
        key = np.full(b, p0 * k1, dtype=np.int64)
        if edges:
            ep, el = (np.concatenate(v) for v in zip(*edges, strict=True))
            er, ej = np.divmod(ep, wide)
            rows, er = np.unique(er, return_inverse=True)         # only labels with a word need the programme
            order = np.argsort(ej, kind="stable")
            er, ej, el = er[order], ej[order], el[order]
            top = int((ej + el).max())
            cut = np.searchsorted(ej, np.arange(top + 1))
            best = np.full((top + 1, len(rows)), p0 * k1, dtype=np.int64)   # one row a position
            for i in range(top):
                np.maximum(best[i + 1], best[i], out=best[i + 1])
                if cut[i + 1] > cut[i]:
                    sl = slice(cut[i], cut[i + 1])
                    rr, ll = er[sl], el[sl]
                    cur = best[i, rr]
                    lo = cur % k1
                    got = cur - lo + np.maximum(lo, ll) + ll * k2 - k1
                    best[i + ll, rr] = np.maximum(best[i + ll, rr], got)
            key[rows] = best[top]                 # past the last word nothing changes
        return key // k2, p0 - key // k1 % k1, key % k1, runstart.sum(1)


def _runs(mask: Any) -> Any:
    """The length of the run of True ending at each position (0 where False)."""
    idx = np.arange(mask.shape[1], dtype=np.int8)                 # labels of at most MAX_LEN characters
    reset = np.where(mask, np.int8(-1), idx)
    np.maximum.accumulate(reset, axis=1, out=reset)
    out = idx - reset
    out *= mask
    return out


class Trees:
    """Gradient-boosted trees of equal depth in heap order (``feat``, ``thr`` with inf for no split, ``leaf``:
    one row a tree), evaluated with bins and leaf masks (module docstring)."""

    def __init__(self, feat: Any, thr: Any, leaf: Any, bias: float, n_features: int) -> None:
        trees, inner = feat.shape
        nleaf = leaf.shape[1]
        if nleaf > 64:
            raise ValueError("trees deeper than 6 levels")
        dtype = np.uint16 if nleaf <= 16 else (np.uint32 if nleaf <= 32 else np.uint64)
        full = (1 << nleaf) - 1
        self.bias, self.leaf, self.nleaf = bias, np.ascontiguousarray(leaf).ravel(), nleaf
        self.edges = [np.unique(thr[(feat == f) & np.isfinite(thr)]) for f in range(n_features)]
        tables = [np.full((len(e) + 1, trees), full, dtype=np.uint64) for e in self.edges]
        for t in range(trees):
            for k in range(inner):
                if not math.isfinite(thr[t, k]):
                    continue                                        # no split: always left, removes nothing
                level = int(math.log2(k + 1))
                width = nleaf >> level
                first = (k + 1 - (1 << level)) * width
                left = ((1 << (width // 2)) - 1) << first
                f = int(feat[t, k])
                rank = int(np.searchsorted(self.edges[f], thr[t, k])) + 1     # x >= thr  <=>  bin >= rank
                tables[f][rank:, t] &= ~np.uint64(left)                      # goes right: left leaves out
        self.full = full
        # features with few bins share one table (every combination of their bins, up to 256 rows): fewer rows
        # to gather and AND per label
        used = sorted((f for f in range(n_features) if len(self.edges[f])), key=lambda f: len(self.edges[f]))
        self.groups: list[list[int]] = []
        rows = 257
        for f in used:
            if rows * (len(self.edges[f]) + 1) > 256:
                self.groups.append([])
                rows = 1
            self.groups[-1].append(f)
            rows *= len(self.edges[f]) + 1
        self.tables = []
        for g in self.groups:
            tb = np.full((1, trees), full, dtype=np.uint64)
            for f in g:                          # mixed radix: the last feature of the group varies fastest
                tb = (tb[:, None, :] & tables[f][None, :, :]).reshape(-1, trees)
            self.tables.append(tb.astype(dtype))
        low = np.zeros(1 << min(nleaf, 16), dtype=np.uint8)
        for v in range(1, len(low)):
            low[v] = (v & -v).bit_length() - 1
        self.lowbit = low if nleaf <= 16 else None
        self.offset = np.arange(trees) * nleaf

    def margins(self, x: Any) -> Any:
        """bias + the sum of the exit leaves, per row of the feature matrix ``x`` (chunks of 1,024 rows)."""
        return np.concatenate([self._margins(x[i:i + 1024]) for i in range(0, len(x), 1024)] or [np.zeros(0)])

    def _margins(self, x: Any) -> Any:
        mask: Any = None
        for g, table in zip(self.groups, self.tables, strict=True):
            at = np.searchsorted(self.edges[g[0]], x[:, g[0]], side="right")
            for f in g[1:]:
                at = at * (len(self.edges[f]) + 1) + np.searchsorted(self.edges[f], x[:, f], side="right")
            row = table[at]
            mask = row if mask is None else np.bitwise_and(mask, row, out=mask)
        if mask is None:
            mask = np.full((len(x), len(self.offset)), self.full, dtype=self.tables[0].dtype)
        if self.lowbit is not None:
            idx = self.lowbit[mask]
        else:
            m = mask.astype(np.uint64)
            idx = np.log2((m & (~m + np.uint64(1))).astype(np.float64)).astype(np.intp)
        return self.bias + self.leaf[idx + self.offset].sum(axis=1)
