"""The label model: rebuilt byte for byte from the bundled data, and it separates the obvious cases."""

from __future__ import annotations

from mailposture.domains import train
from mailposture.domains.labels import model


def test_model_file_is_rebuilt_byte_for_byte() -> None:
    committed = (train.Path(train.__file__).with_name("label_model.json")).read_text(encoding="utf-8")
    assert train.render(train.build()) == committed


def test_scores_random_and_real_labels() -> None:
    m = model()
    for lab in ("x7fk2q9z", "k3pz9a1q", "d1a2b3c4e5f6a7b8", "qzvxkt4m"):
        assert m.is_random(lab), lab
    for lab in ("www", "mail", "smtp", "mx2", "sapporo", "city", "pref", "selector1", "autodiscover"):
        assert not m.is_random(lab), lab
    assert m.p_random("xn--eckwd4c7c") == 0.0 and m.p_random("") == 0.0


def test_held_back_split_is_disjoint_and_stable() -> None:
    labels = train.real_labels()
    tr, ho = train.split_real(labels)
    assert not set(tr) & set(ho) and len(tr) + len(ho) == len(labels)
    assert train.split_real(labels) == (tr, ho)
    a = train.random_labels(1, 5, tr)
    assert a == train.random_labels(1, 5, tr) and set(a) == set(train.FAMILIES)
