"""The SMS text model, its data and catalogues: reproducible build, held-back data kept apart, the brand and
reason catalogues complete, docs/sms.md current."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mailposture.sms.brands import CATEGORIES, CatalogueError, catalogue, parse_catalogue
from mailposture.sms.classifier import MODEL_PATH, Model, bundled
from mailposture.sms.corpus import ja_heldout, ja_train, sms_spam_collection
from mailposture.sms.reasons import REASONS, update_doc

DOC = Path(__file__).resolve().parent.parent / "docs" / "sms.md"


@pytest.mark.slow
def test_committed_model_is_rebuilt_byte_for_byte() -> None:
    from mailposture.sms.train import build

    committed = resources.files("mailposture").joinpath(MODEL_PATH).read_bytes()
    assert build() == committed, "run: python -m mailposture.sms.train"


def test_model_file_format_is_checked() -> None:
    m = bundled()
    assert len(m.weights) > 1000
    again = Model.from_json_bytes(m.to_json_bytes())
    assert again.weights == m.weights and again.bias == m.bias
    with pytest.raises(ValueError, match="not a mailposture SMS model"):
        Model.from_json_bytes(b'{"format": "other", "weights": {}}')


def test_corpora_and_held_back_part_are_disjoint() -> None:
    en = sms_spam_collection()
    assert len(en) == 5574 and sum(lab == "spam" for lab, _ in en) == 747
    train = {t for _, t in ja_train()}
    held = ja_heldout()
    assert {lab for lab, _ in held} == {"smishing", "spam", "ham"}
    assert not train & {t for _, t in held}
    assert ja_heldout() == held  # seeded


def test_brand_catalogue_is_sourced_and_covers_the_sectors() -> None:
    brands = catalogue()
    assert {b.category for b in brands} == set(CATEGORIES)
    for b in brands:
        assert b.source.startswith("https://") and b.domains and b.names
        assert all(re.fullmatch(r"[a-z0-9.\-]+", d) for d in b.domains), b.id
    text = resources.files("mailposture").joinpath("data/sms/brands.yaml").read_text("utf-8")
    assert "antiphishing.jp" in text


def test_brand_catalogue_errors_are_all_listed() -> None:
    bad = {"brands": [{"id": "x", "category": "nope", "names": [], "domains": ["x.jp"], "source": "http://x"},
                      {"id": "x", "category": "bank", "names": ["X"], "domains": ["x.jp"], "source": "https://x"}]}
    with pytest.raises(CatalogueError) as e:
        parse_catalogue(bad)
    msg = str(e.value)
    assert "unknown category" in msg and "'names'" in msg and "'source'" in msg and "duplicate id" in msg
    with pytest.raises(CatalogueError):
        parse_catalogue(yaml.safe_load("- just a list"))


def test_reason_catalogue_is_bilingual() -> None:
    for code, d in REASONS.items():
        assert re.fullmatch(r"SMS_[A-Z_]+", code)
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", d.ja) and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]",
                                                                              d.meaning_ja), code
        en = set(re.findall(r"{(\w+)}", d.en))
        ja = {p.removesuffix("_ja") for p in re.findall(r"{(\w+)}", d.ja)}
        assert en == ja, code


def test_docs_sms_md_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update_doc(text) == text, "run: python -m mailposture.sms.reasons docs/sms.md"


def test_inference_needs_no_numpy() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom mailposture.sms.verdict import Analyzer\n"
            "r = Analyzer().check('【ヤマト運輸】お荷物 https://kuronekoyamato-jp.top/')\n"
            "assert r.verdict == 'smishing', r.verdict\nprint('numpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
