"""Train the SMS text model reproducibly: ``python -m mailposture.sms.train [OUT]``.

Data: the SMS Spam Collection (all of it) and the Japanese training part (hand-written examples and the seeded
generator; the held-back part is never used). Logistic regression on the features of
:mod:`mailposture.sms.classifier`, fitted by full-batch gradient descent (Adam, fixed step count, L2 penalty)
in numpy, then weights below PRUNE dropped: no randomness, so the same data give the same weights; they are rounded to 4 decimals and written with
sorted keys, so the file is rebuilt byte for byte (a test checks the committed file).
Training needs numpy (installed with matplotlib); inference does not.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mailposture.numeric import fsum, sigmoid
from mailposture.sms.classifier import Model, grams, prepare
from mailposture.sms.corpus import Labelled, ja_train, sms_spam_collection
from mailposture.sms.normalize import extract_urls

STEPS = 300
L2 = 1e-4
LR = 0.05
MIN_DF = 2
ROUND = 4
PRUNE = 0.05   # weights smaller than this are dropped: same accuracy, a model small enough for the CPU caches


def model_view(text: str) -> str:
    urls, rest = extract_urls(text)
    return prepare(rest, len(urls))


def fit(data: Sequence[Labelled], steps: int = STEPS) -> Model:
    import numpy as np

    docs = [grams(model_view(t)) for _, t in data]
    y = np.array([0.0 if lab == "ham" else 1.0 for lab, _ in data])
    df: dict[str, int] = {}
    for g in docs:
        for x in g:
            df[x] = df.get(x, 0) + 1
    vocab = sorted(x for x, c in df.items() if c >= MIN_DF)
    index = {x: i for i, x in enumerate(vocab)}
    rows, cols, vals = [], [], []
    for r, g in enumerate(docs):
        scale = 1.0 / np.sqrt(len(g)) if g else 0.0
        ids = sorted(index[x] for x in g if x in index)
        rows.extend([r] * len(ids))
        cols.extend(ids)
        vals.extend([scale] * len(ids))
    rows_a = np.array(rows, dtype=np.int64)
    cols_a = np.array(cols, dtype=np.int64)
    vals_a = np.array(vals, dtype=np.float64)
    n, d = len(docs), len(vocab)
    # positives are rarer: weight the classes to balance them
    pos = max(fsum(y), 1.0)
    sw = np.where(y > 0, n / (2 * pos), n / (2 * max(n - pos, 1.0)))
    w = np.zeros(d)
    b = 0.0
    m_w = np.zeros(d)
    v_w = np.zeros(d)
    m_b = v_b = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        z = np.bincount(rows_a, weights=vals_a * w[cols_a], minlength=n) + b
        p = sigmoid(z)  # the same bits on every CPU (mailposture.numeric)
        r = (p - y) * sw / n
        g_w = np.bincount(cols_a, weights=vals_a * r[rows_a], minlength=d) + L2 * w
        g_b = fsum(r)
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
        c1 = 1 - beta1 ** t
        c2 = 1 - beta2 ** t
        w -= LR * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= LR * (m_b / c1) / (np.sqrt(v_b / c2) + eps)
    weights = {vocab[i]: round(float(w[i]), ROUND) for i in range(d) if abs(round(float(w[i]), ROUND)) >= PRUNE}
    return Model(round(b, ROUND), weights)


def training_data() -> list[Labelled]:
    return sms_spam_collection() + ja_train()


def build() -> bytes:
    return fit(training_data()).to_json_bytes()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "data" / "sms" / "model.json"
    data = build()
    out.write_bytes(data)
    print(f"wrote {out} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
