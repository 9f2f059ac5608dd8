"""Build ``label_model.json`` reproducibly: ``python -m mailposture.domains.train [--check]``.

Real labels (class 0) come from data bundled with the project or its dependencies, each with its provenance:
the Public Suffix List shipped in ``publicsuffixlist`` (MPL 2.0), the domains of the bundled jp-localgov list
(see ``data/jp_localgov/PROVENANCE.md``), the bundled DKIM selector list, the common host names below, and the
GeoNames city names and web2 dictionary words of ``data/labels/`` (see its ``PROVENANCE.md``). Generated benign
host names (numbered hosts, cloud zones, ISP names with an address in them; :func:`benign_host_label`) are
class 0 too, as a separate family. Random labels (class 1) are generated here from a fixed seed, in families
that spam tools use: letters, letters and digits, hexadecimal, pronounceable consonant-vowel strings, a word
with digits, and two words.
80 % of the real labels train the model; 20 % are held back (with random labels and generated host names from
another seed) for ``bench/domains_bench.py``. Features are computed out of fold: the training labels are cut
into five folds, and a label of fold k is scored by a character model and a word list built from the other four
folds only; the word families of fold k draw their words from fold k, so their words are unknown to the model
that scores them, as a spammer's words may be. Same inputs, same file, byte for byte.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import sys
from importlib import resources
from pathlib import Path

from mailposture.domains.labels import FEATURES, MAX_WORD, CharModel, Lexicon, features
from mailposture.numeric import fsum, sigmoid

COMMON_HOST_LABELS = (
    "www mail smtp smtp1 smtp2 smtps imap pop pop3 mx mx1 mx2 mx3 mx01 mx02 ns ns1 ns2 ns3 dns dns1 dns2 "
    "webmail autodiscover autoconfig mta mta1 mta2 relay out outbound inbound in mailgw gw gateway "
    "vpn remote portal intranet extranet api app apps cdn static img images media assets files download "
    "ftp sftp shop store blog news info support help docs wiki dev test stage staging beta demo admin "
    "secure login auth sso account accounts my web web1 web2 server server1 host host1 cloud office "
    "owa exchange lync sip voip video m mobile wap bounce bounces email news letter newsletter "
    "mailer mailer1 send sender list lists mailman em click track tracking links go t e edm"
).split()
SEED_TRAIN, SEED_HOLD = 20261207, 4242
PER_FAMILY, HOSTS, FOLDS = 3000, 6000, 5
BINS, ROUNDS, DEPTH, RATE = 64, 300, 4, 0.1
SOURCES = ("common-hosts", "psl", "jp-localgov", "dkim-selectors", "geonames", "web2")
LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
FAMILIES = ("alpha", "alnum", "hex", "cv", "word-digits", "word-word")


def _usable(lab: str) -> bool:
    return bool(LABEL_RE.fullmatch(lab)) and not lab.startswith("xn--") and len(lab) >= 2


def real_sources() -> dict[str, str]:
    """Every distinct real label and the first source (in :data:`SOURCES` order) that has it."""
    import publicsuffixlist

    raw: dict[str, list[str]] = {"common-hosts": list(COMMON_HOST_LABELS)}
    psl = Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat")
    raw["psl"] = []
    for line in psl.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            raw["psl"] += line.lstrip("*!.").split(".")
    data = resources.files("mailposture.data")
    raw["jp-localgov"] = []
    with data.joinpath("jp_localgov/jp_localgov.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            raw["jp-localgov"] += (row.get("domain") or "").lower().split(".")
    raw["dkim-selectors"] = data.joinpath("dkim_selectors.txt").read_text(encoding="utf-8").lower().split()
    raw["geonames"] = data.joinpath("labels/geonames_cities.txt").read_text(encoding="utf-8").split()
    raw["web2"] = data.joinpath("labels/web2_words.txt").read_text(encoding="utf-8").split()
    out: dict[str, str] = {}
    for src in SOURCES:
        for lab in raw[src]:
            if _usable(lab):
                out.setdefault(lab, src)
    return out


def real_labels() -> list[str]:
    """Every distinct real label (sorted), from the sources named in the module docstring."""
    return sorted(real_sources())


def word_set(labels: list[str]) -> set[str]:
    """The known words of the coverage feature: the alphabetic real labels."""
    return {lab for lab in labels if lab.isalpha() and len(lab) <= MAX_WORD}


def split_real(labels: list[str]) -> tuple[list[str], list[str]]:
    rnd = random.Random(SEED_TRAIN)
    shuffled = labels[:]
    rnd.shuffle(shuffled)
    cut = int(len(shuffled) * 0.8)
    return sorted(shuffled[:cut]), sorted(shuffled[cut:])


def random_label(family: str, rnd: random.Random, words: list[str]) -> str:
    letters, digits = "abcdefghijklmnopqrstuvwxyz", "0123456789"
    if family == "alpha":
        return "".join(rnd.choice(letters) for _ in range(rnd.randint(5, 12)))
    if family == "alnum":
        n = rnd.randint(5, 12)
        s = [rnd.choice(letters + digits) for _ in range(n)]
        s[rnd.randrange(n)] = rnd.choice(digits)
        s[0] = rnd.choice(letters)
        return "".join(s)
    if family == "hex":
        return "".join(rnd.choice("0123456789abcdef") for _ in range(rnd.randint(8, 16)))
    if family == "cv":
        cons, vow = "bcdfghjklmnprstvwxz", "aeiou"
        s = "".join(rnd.choice(cons) + rnd.choice(vow) for _ in range(rnd.randint(3, 5)))
        return s + (str(rnd.randint(0, 99)) if rnd.random() < 0.5 else "")
    if family == "word-digits":
        return rnd.choice(words) + str(rnd.randint(10, 99999))
    if family == "word-word":
        return rnd.choice(words) + rnd.choice(words)
    raise ValueError(family)


def word_pool(words: list[str]) -> list[str]:
    return [w for w in words if 3 <= len(w) <= 8 and w.isalpha()]


def random_labels(seed: int, per_family: int, words: list[str]) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    pool = word_pool(words)
    return {f: [random_label(f, rnd, pool)[:63] for _ in range(per_family)] for f in FAMILIES}


HOST_SERVICES = ("mx mail smtp smtp-out web www ns dns srv server host node db app vm lb gw proxy cache edge relay "
                 "out mta imap pop vpn fw rt sw core dev stg prd api static cdn").split()
CLOUD_REGIONS = ("us-east us-west eu-west eu-central eu-north ap-northeast ap-southeast ap-south ca-central "
                 "sa-east me-south af-south").split()
AZURE_REGIONS = ("japaneast japanwest eastus westus2 westeurope northeurope southeastasia eastasia "
                 "australiaeast uksouth koreacentral").split()
ISP_PREFIXES = ("softbank ai kd ntt ocn p i dhcp dyn pool ppp adsl ftth cable client host ip static user "
                "customer").split()


def benign_host_label(rnd: random.Random, words: list[str]) -> str:
    """A benign host label of the machine-made kinds that real networks use: numbered hosts (``mx12``,
    ``web-03``), cloud regions and zones (``ap-northeast-1a``, ``japaneast``), data-centre names
    (``tyo2-r12-s3``) and ISP access names with the address in them (``softbank126012034056``,
    ``ip-10-0-1-23``, ``p1234-ipngn1001sapporo``)."""
    kind = rnd.randrange(6)
    if kind == 0:
        n = rnd.choice((rnd.randint(0, 9), rnd.randint(0, 99), rnd.randint(0, 999)))
        num = str(n).zfill(rnd.choice((1, 2, 2, 3)))
        return rnd.choice(HOST_SERVICES) + rnd.choice(("", "", "-")) + num
    if kind == 1:
        if rnd.random() < 0.3:
            return rnd.choice(AZURE_REGIONS)
        return f"{rnd.choice(CLOUD_REGIONS)}-{rnd.randint(1, 3)}" + rnd.choice(("", "a", "b", "c", "d"))
    if kind == 2:
        site = rnd.choice(words)[:3] + str(rnd.randint(1, 12))
        return f"{site}-{rnd.choice(('r', 'rack', 'pod', 'c'))}{rnd.randint(1, 40)}-{rnd.choice(HOST_SERVICES)}" \
               f"{rnd.randint(1, 20)}"
    octets = [rnd.randint(1, 254) for _ in range(4)]
    if kind == 3:
        return rnd.choice(ISP_PREFIXES) + "".join(f"{o:03d}" for o in octets)
    if kind == 4:
        return rnd.choice(("ip", "host", "dhcp", "pool", "static", "i")) + "-" + "-".join(map(str, octets))
    return f"p{rnd.randint(1, 9999)}-ipngn{rnd.randint(100, 9999)}{rnd.choice(words)}"


def benign_host_labels(seed: int, n: int, words: list[str]) -> list[str]:
    rnd = random.Random(seed)
    pool = word_pool(words)
    return [benign_host_label(rnd, pool)[:63] for _ in range(n)]


def fit(x: list[list[float]], y: list[int], *, bins: int = BINS, rounds: int = ROUNDS, depth: int = DEPTH,
        rate: float = RATE, l2: float = 1.0, min_leaf: int = 20, random_weight: float = 0.5) -> dict:
    """Gradient-boosted trees for :class:`~mailposture.domains.labels.LabelModel` (numpy, deterministic; both
    classes weigh the same unless ``random_weight`` says otherwise). Each feature's candidate split points are its
    training values' quantiles (at most ``bins`` of them); each round fits one tree of ``depth`` levels to the
    logistic loss's gradient and Hessian (second-order gain, L2 penalty ``l2`` on the leaves, at least
    ``min_leaf`` rows a leaf) and adds its leaves, shrunk by ``rate``."""
    import numpy as np

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n, nf = xa.shape
    edges = []
    for f in range(nf):
        qs = np.quantile(xa[:, f], np.arange(1, bins) / bins)
        edges.append(np.asarray(sorted({round(float(q), 6) for q in qs})))
    binned = np.stack([np.searchsorted(edges[f], xa[:, f], side="right") for f in range(nf)], axis=1)
    width = max(len(e) for e in edges) + 1
    flat = binned + np.arange(nf) * width              # one histogram call for all features of a node
    pos = float(ya.sum()) / n                          # a count of 0/1 values: exact
    sw = np.where(ya == 1, random_weight / pos, (1 - random_weight) / (1 - pos))
    bias = round(math.log(random_weight / (1 - random_weight)), 6)    # the weighted prior's log-odds
    z = np.full(n, bias)
    inner = 2 ** depth - 1
    trees = []
    for _ in range(rounds):
        p = sigmoid(z)
        g = (p - ya) * sw
        h = np.maximum(p * (1.0 - p), 1e-6) * sw
        nodes = [np.arange(n)]
        feat = [0] * inner
        thr: list[float | None] = [None] * inner
        k = 0
        for _level in range(depth):
            nxt = []
            for idx in nodes:
                best, split = 0.0, None
                if len(idx) >= 2 * min_leaf:
                    rows = flat[idx].ravel()
                    size = nf * width
                    gb = np.bincount(rows, weights=np.repeat(g[idx], nf), minlength=size).reshape(nf, width)
                    hb = np.bincount(rows, weights=np.repeat(h[idx], nf), minlength=size).reshape(nf, width)
                    cb = np.bincount(rows, minlength=size).reshape(nf, width)
                    gl, hl, cl = np.cumsum(gb, 1)[:, :-1], np.cumsum(hb, 1)[:, :-1], np.cumsum(cb, 1)[:, :-1]
                    gs, hs = gl[:, -1:] + gb[:, -1:], hl[:, -1:] + hb[:, -1:]
                    gain = gl * gl / (hl + l2) + (gs - gl) ** 2 / (hs - hl + l2) - gs * gs / (hs + l2)
                    ok = (cl >= min_leaf) & (len(idx) - cl >= min_leaf)    # padding bins leave no right side
                    gain = np.where(ok, gain, -1.0)
                    j = int(np.argmax(gain))
                    if gain.flat[j] > best:
                        best, split = float(gain.flat[j]), divmod(j, width - 1)
                if split is None:
                    nxt += [idx, idx[:0]]
                else:
                    f, b = split
                    right = binned[idx, f] > b       # bin > b  <=>  x >= edges[f][b]
                    feat[k], thr[k] = int(f), float(edges[f][b])
                    nxt += [idx[~right], idx[right]]
                k += 1
            nodes = nxt
        leaf = []
        for idx in nodes:
            v = round(-rate * fsum(g[idx]) / (fsum(h[idx]) + l2), 6) if len(idx) else 0.0
            leaf.append(v)
            z[idx] += v
        trees.append({"feature": feat, "threshold": thr, "leaf": leaf})
    return {"trees": trees, "depth": depth, "bias": round(bias, 6)}


def training_rows() -> tuple[list[str], CharModel, list[list[float]], list[int], list[str], list[int]]:
    """The training labels' out-of-fold features: (real training labels, their character model, features,
    classes, family of each row — ``real``, ``hosts`` or a random family —, fold of each row)."""
    train_real, _ = split_real(real_labels())
    chars = CharModel.train(train_real)
    # out-of-fold features: a label is scored by a character model and a word list that never saw it
    fold_labels = [train_real[k::FOLDS] for k in range(FOLDS)]
    others = [[lab for j in range(FOLDS) if j != k for lab in fold_labels[j]] for k in range(FOLDS)]
    fold_chars = [CharModel.train(o) for o in others]
    fold_words = [Lexicon(word_set(o)) for o in others]
    rnd = random.Random(SEED_TRAIN)
    x: list[list[float]] = []
    y: list[int] = []
    tags: list[str] = []
    fold: list[int] = []
    for k in range(FOLDS):
        pool = word_pool(fold_labels[k])
        batch = [(lab, "real") for lab in fold_labels[k]]
        batch += [(random_label(fam, rnd, pool)[:63], fam) for fam in FAMILIES for _ in range(PER_FAMILY // FOLDS)]
        batch += [(benign_host_label(rnd, pool)[:63], "hosts") for _ in range(HOSTS // FOLDS)]
        x += [features(lab, fold_chars[k], fold_words[k]) for lab, _ in batch]
        y += [0 if t in ("real", "hosts") else 1 for _, t in batch]
        tags += [t for _, t in batch]
        fold += [k] * len(batch)
    return train_real, chars, x, y, tags, fold


def build() -> dict:
    from mailposture.domains.labels import LabelModel

    train_real, chars, x, y, tags, _ = training_rows()
    real_rows = [i for i, t in enumerate(tags) if t == "real"]
    params = fit(x, y)
    data = {"features": list(FEATURES), "trigrams": chars.tri, "bigrams": chars.bi, "unigrams": chars.uni, **params,
            "words": sorted(word_set(train_real)),
            "threshold": 0.5, "trained_on": {"real_labels": len(train_real), "random_per_family": PER_FAMILY,
                                             "generated_hosts": HOSTS, "families": list(FAMILIES),
                                             "sources": list(SOURCES), "seed": SEED_TRAIN,
                                             "trees": ROUNDS, "depth": DEPTH, "rate": RATE, "bins": BINS}}
    # the threshold: at most 0.5 % of the real training labels above it (the per-domain verdict adds the
    # distinct-label count and the DNS proof; the label score alone never flags a domain)
    m = LabelModel(data)
    scores = sorted(m.p_from_features_batch([x[i] for i in real_rows]))   # features out of fold
    k = math.ceil(len(scores) * 0.995) - 1
    data["threshold"] = round(max(0.5, scores[k] + 1e-6), 6)
    return data


def render(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(__file__).with_name("label_model.json")
    text = render(build())
    if "--check" in args:
        same = target.exists() and target.read_text(encoding="utf-8") == text
        print("label_model.json is current" if same else "label_model.json differs from a rebuild")
        return 0 if same else 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
