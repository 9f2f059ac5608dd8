"""SMS analyser benchmark (issue 15): accuracy on data the model was not trained on, and throughput.

1. SMS Spam Collection (English), 5-fold cross-validation, stratified and seeded: for each fold the text model is
   trained on the other four folds plus the Japanese training part, and the full verdict (model + rules) is
   taken on the held-out fold. Prints accuracy and the share of ham called spam/smishing, per fold and overall,
   and the same for the text model alone (the baseline). Targets: >= 98 % accuracy, <= 0.5 % ham called spam.
2. Japanese held-back part (hand-written examples not trained on, and generator templates reserved for it, with
   another seed), judged with the bundled model: share of smishing caught (not called ham, and called exactly
   smishing) and share of legitimate messages flagged. Targets: >= 90 % caught, <= 1 % flagged.
3. Throughput of ``sms check`` without --resolve on one core: the command's own loop (read a line, judge, write
   a JSON line) over a mix of both corpora, messages/s, median of ``--runs`` runs; and the ratio to the text model
   alone measured in the same run.

Asserts nothing. Run: ``.venv/bin/python bench/sms_bench.py [--runs 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time

from mailposture.sms.classifier import bundled, prepare
from mailposture.sms.cli import run_check
from mailposture.sms.corpus import ja_heldout, ja_train, sms_spam_collection
from mailposture.sms.normalize import extract_urls
from mailposture.sms.train import fit
from mailposture.sms.verdict import Analyzer


def _folds(data: list[tuple[str, str]], k: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in ("ham", "spam"):
        idx = [i for i, (lab, _) in enumerate(data) if lab == label]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return folds


def _rates(pairs: list[tuple[str, bool]]) -> tuple[float, float, int, int]:
    """(accuracy, ham called spam / ham, errors, n) from (label, flagged) pairs."""
    hams = [f for lab, f in pairs if lab == "ham"]
    correct = sum((lab != "ham") == f for lab, f in pairs)
    return correct / len(pairs), sum(hams) / max(len(hams), 1), len(pairs) - correct, len(pairs)


def english_cv(k: int = 5, seed: int = 7) -> None:
    data = sms_spam_collection()
    ja = ja_train()
    all_full: list[tuple[str, bool]] = []
    all_model: list[tuple[str, bool]] = []
    print(f"SMS Spam Collection: {len(data)} messages, {k}-fold cross-validation (seed {seed})")
    for f, test_idx in enumerate(_folds(data, k, seed)):
        test = set(test_idx)
        model = fit([d for i, d in enumerate(data) if i not in test] + ja)
        an = Analyzer(model)
        full, only = [], []
        for i in test_idx:
            label, text = data[i]
            r = an.check(text)
            full.append((label, r.verdict != "ham"))
            urls, rest = extract_urls(text)
            only.append((label, model.logit(prepare(rest, len(urls))) > model.threshold))
        a, fp, _, n = _rates(full)
        a0, fp0, _, _ = _rates(only)
        print(f"  fold {f + 1}: n={n}  accuracy {a:.2%}  ham called spam {fp:.2%}   "
              f"(text model alone: {a0:.2%} / {fp0:.2%})")
        all_full += full
        all_model += only
    a, fp, err, n = _rates(all_full)
    a0, fp0, _, _ = _rates(all_model)
    print(f"  overall: accuracy {a:.2%} ({err} errors of {n}), ham called spam {fp:.2%}   "
          f"[targets >= 98%, <= 0.5%]   text model alone: {a0:.2%} / {fp0:.2%}")


def _ja_rates(an: Analyzer, data: list[tuple[str, str]]) -> tuple[float, float, float, float, int, int]:
    model = an.model
    verdicts = [(lab, an.check(t).verdict, model.logit(prepare(*_view(t))) > model.threshold) for lab, t in data]
    smish = [(v, m) for lab, v, m in verdicts if lab == "smishing"]
    ham = [(v, m) for lab, v, m in verdicts if lab == "ham"]
    return (sum(v != "ham" for v, _ in smish) / max(len(smish), 1), sum(v != "ham" for v, _ in ham) / max(len(ham), 1),
            sum(m for _, m in smish) / max(len(smish), 1), sum(m for _, m in ham) / max(len(ham), 1),
            len(smish), len(ham))


def _view(text: str) -> tuple[str, int]:
    urls, rest = extract_urls(text)
    return rest, len(urls)


def japanese_heldout() -> None:
    from mailposture.sms.corpus import handwritten_ja

    data = ja_heldout()
    an = Analyzer()
    smish = [an.check(t).verdict for lab, t in data if lab == "smishing"]
    spam = [an.check(t).verdict for lab, t in data if lab == "spam"]
    ham = [an.check(t).verdict for lab, t in data if lab == "ham"]
    caught = sum(v != "ham" for v in smish) / len(smish)
    exact = sum(v == "smishing" for v in smish) / len(smish)
    flagged = sum(v != "ham" for v in ham) / len(ham)
    spam_c = sum(v != "ham" for v in spam) / max(len(spam), 1)
    print(f"Japanese held-back part: {len(smish)} smishing, {len(spam)} spam, {len(ham)} legitimate")
    print(f"  smishing caught {caught:.2%} (called smishing exactly {exact:.2%}), spam caught {spam_c:.2%}, "
          f"legitimate flagged {flagged:.2%}   [targets >= 90%, <= 1%]")
    _, _, m_caught, m_flag, _, _ = _ja_rates(an, data)
    print(f"  baseline, the text model alone: smishing caught {m_caught:.2%}, legitimate flagged {m_flag:.2%}")
    hw = [(lab, t) for i, (lab, _, t) in enumerate(handwritten_ja()) if i % 4 == 3]
    c, f, mc, mf, ns, nh = _ja_rates(an, hw)
    print(f"  of which hand-written: {ns} smishing caught {c:.2%} (model alone {mc:.2%}), {nh} legitimate "
          f"flagged {f:.2%} (model alone {mf:.2%})")


def throughput(runs: int, n: int) -> None:
    en = [t for _, t in sms_spam_collection()]
    ja = [t for _, t in ja_heldout()]
    rng = random.Random(1)
    mix = [rng.choice(en) if rng.random() < 0.5 else rng.choice(ja) for _ in range(n)]
    payload = "\n".join(m.replace("\n", " ") for m in mix) + "\n"
    an = Analyzer()
    model = bundled()
    run_check(io.StringIO(payload), io.StringIO(), an, "text", "en")  # warm caches
    full, wall, base = [], [], []
    for _ in range(runs):
        out = io.StringIO()
        t0, c0 = time.perf_counter(), time.process_time()
        run_check(io.StringIO(payload), out, an, "text", "en")
        full.append(n / (time.process_time() - c0))
        wall.append(n / (time.perf_counter() - t0))
        c0 = time.process_time()
        for m in mix:
            urls, rest = extract_urls(m)
            model.logit(prepare(rest, len(urls)))
        base.append(n / (time.process_time() - c0))
    f, w, b = statistics.median(full), statistics.median(wall), statistics.median(base)
    try:
        load = f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count() or 1} cores)"
    except OSError:
        load = ""
    print(f"Throughput, sms check without --resolve, one process, {n} messages (half English, half Japanese), "
          f"median of {runs} runs: {f:,.0f} messages per CPU-second [target >= 5,000/s], {w:,.0f}/s wall-clock"
          f"{load}; baseline in the same run, the text model alone (links extracted, n-grams scored): "
          f"{b:,.0f}/CPU-s, so a full check costs {b / f:.2f}x the model's time")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--quick", action="store_true", help="Skip the cross-validation (5 trainings).")
    a = ap.parse_args()
    if not a.quick:
        english_cv()
    japanese_heldout()
    throughput(a.runs, a.messages)


if __name__ == "__main__":
    main()
