"""Build ``label_model.json`` reproducibly: ``python -m mailposture.domains.train [--check]``.

Real labels (class 0) come from data bundled with the project or its dependencies, each with its provenance:
the Public Suffix List shipped in ``publicsuffixlist`` (MPL 2.0), the domains of the bundled jp-localgov list
(see ``data/jp_localgov/PROVENANCE.md``), the bundled DKIM selector list, and the common host names below.
Random labels (class 1) are generated here from a fixed seed, in families that spam tools use: letters,
letters and digits, hexadecimal, pronounceable consonant-vowel strings, a word with digits, and two words.
80 % of the real labels train the model; 20 % are held back (with random labels from another seed) for
``bench/domains_bench.py``. Same inputs, same file, byte for byte.
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

from mailposture.domains.labels import FEATURES, CharModel, features

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
LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
FAMILIES = ("alpha", "alnum", "hex", "cv", "word-digits", "word-word")


def real_labels() -> list[str]:
    """Every distinct real label (sorted), from the sources named in the module docstring."""
    import publicsuffixlist

    out: set[str] = set(COMMON_HOST_LABELS)
    psl = Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat")
    for line in psl.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            out.update(line.lstrip("*!.").split("."))
    data = resources.files("mailposture.data")
    with data.joinpath("jp_localgov/jp_localgov.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.update((row.get("domain") or "").lower().split("."))
    out.update(data.joinpath("dkim_selectors.txt").read_text(encoding="utf-8").lower().split())
    return sorted(lab for lab in out if LABEL_RE.fullmatch(lab) and not lab.startswith("xn--") and len(lab) >= 2)


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


def random_labels(seed: int, per_family: int, words: list[str]) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    pool = [w for w in words if 3 <= len(w) <= 8 and w.isalpha()]
    return {f: [random_label(f, rnd, pool)[:63] for _ in range(per_family)] for f in FAMILIES}


def fit(x: list[list[float]], y: list[int], iters: int = 600, lr: float = 0.5, l2: float = 1e-3) -> dict:
    """Logistic regression by full-batch gradient descent on standardised features (numpy, deterministic)."""
    import numpy as np

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    mean = xa.mean(axis=0)
    scale = xa.std(axis=0)
    scale[scale == 0] = 1.0
    z = (xa - mean) / scale
    w = np.zeros(z.shape[1])
    b = 0.0
    pos = ya.mean()
    sample_w = np.where(ya == 1, 0.5 / pos, 0.5 / (1 - pos))   # both classes weigh the same
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - ya) * sample_w
        w -= lr * ((z.T @ g) / len(ya) + l2 * w)
        b -= lr * g.mean()
    return {"mean": [round(float(v), 6) for v in mean], "scale": [round(float(v), 6) for v in scale],
            "weights": [round(float(v), 6) for v in w], "bias": round(float(b), 6)}


def build() -> dict:
    from mailposture.domains.labels import LabelModel

    train_real, _ = split_real(real_labels())
    chars = CharModel.train(train_real)
    rand = random_labels(SEED_TRAIN, 1500, train_real)
    samples = [(lab, 0) for lab in train_real] + [(lab, 1) for fam in FAMILIES for lab in rand[fam]]
    # out-of-fold features: a label is scored by a character model that never saw it, as at run time
    folds = 5
    fold_models = [CharModel.train([lab for i, lab in enumerate(train_real) if i % folds != k]) for k in range(folds)]
    x = [features(lab, fold_models[i % folds]) for i, (lab, _) in enumerate(samples)]
    y = [c for _, c in samples]
    params = fit(x, y)
    data = {"features": list(FEATURES), "trigrams": chars.tri, "bigrams": chars.bi, "unigrams": chars.uni, **params,
            "threshold": 0.5, "trained_on": {"real_labels": len(train_real), "random_per_family": 1500,
                                             "families": list(FAMILIES), "seed": SEED_TRAIN}}
    # the threshold: at most 0.5 % of the real training labels above it (the per-domain verdict adds the
    # distinct-label count and the DNS proof; the label score alone never flags a domain)
    m = LabelModel(data)
    scores = sorted(m.p_from_features(x[i]) for i, (_, c) in enumerate(samples) if c == 0)   # out of fold
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
