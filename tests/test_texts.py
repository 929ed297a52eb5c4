"""Tests for the synthetic corpus generator (simulator.stream.texts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.errors import DataFileError
from simulator.stream.texts import TextGenerator, load_lexicon
from simulator.taxonomy import CLASSES, N_CLASSES

SEEDS = [0, 1, 2, 7, 12345]
BILINGUAL = {"en": 0.5, "fr": 0.5}


def _codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(10_000 + seed).integers(0, N_CLASSES, n).astype(np.int8)


@pytest.mark.parametrize("seed", SEEDS)
def test_same_seed_gives_same_texts(seed: int) -> None:
    gen = TextGenerator(BILINGUAL, evasion_rate=0.3)
    codes = _codes(2000, seed)
    first = gen.generate(codes, np.random.default_rng(seed))
    second = TextGenerator(BILINGUAL, evasion_rate=0.3).generate(codes, np.random.default_rng(seed))
    assert first == second


@pytest.mark.parametrize("seed", SEEDS)
def test_different_seeds_give_different_texts(seed: int) -> None:
    gen = TextGenerator(BILINGUAL)
    codes = _codes(500, seed)
    a = gen.generate(codes, np.random.default_rng(seed))
    b = gen.generate(codes, np.random.default_rng(seed + 1))
    differing = np.mean([x != y for x, y in zip(a, b, strict=True)])
    assert differing > 0.9


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_every_class_and_language_produces_text(seed: int) -> None:
    df = TextGenerator(BILINGUAL).corpus(200, np.random.default_rng(seed))
    assert len(df) == 200 * N_CLASSES
    counts = df.groupby(["label", "language"]).size()
    for name in CLASSES:
        for lang in BILINGUAL:
            assert counts.get((name, lang), 0) > 50, (name, lang)
    assert (df["text"].str.len() > 10).all()
    # no unfilled slot or doubled space survives formatting
    assert not df["text"].str.contains(r"[{}]|\s\s", regex=True).any()
    assert list(df.columns) == ["text", "label", "violating", "language", "template_id", "evasion"]
    assert (df["violating"] == df["label"].isin(["violent_threat", "incitement"])).all()


def test_corpus_is_rich() -> None:
    """Many distinct texts and templates per class: nothing a classifier can memorise."""
    gen = TextGenerator(BILINGUAL)
    df = gen.corpus(2000, np.random.default_rng(0))
    for name, group in df.groupby("label"):
        assert group["template_id"].nunique() >= 40, name
        assert group["text"].nunique() >= 0.8 * len(group), name
    words = df["text"].str.split().str.len()
    assert words.min() <= 8 and words.max() >= 20


@pytest.mark.parametrize("seed", SEEDS)
def test_heldout_templates_never_appear_in_train_split(seed: int) -> None:
    gen = TextGenerator(BILINGUAL)
    heldout_ids = {t.template_id for t in gen.templates if t.heldout}
    train_ids = {t.template_id for t in gen.templates if not t.heldout}
    train = gen.corpus(1000, np.random.default_rng(seed), split="train")
    heldout = gen.corpus(1000, np.random.default_rng(seed), split="heldout")
    assert set(train["template_id"]).isdisjoint(heldout_ids)
    assert set(heldout["template_id"]) <= heldout_ids
    # every held-out template is actually used, and the train split covers most train templates
    assert set(heldout["template_id"]) == heldout_ids
    assert len(set(train["template_id"])) > 0.95 * len(train_ids)


def test_heldout_share_is_about_a_quarter_per_class_and_language() -> None:
    gen = TextGenerator(BILINGUAL)
    for lang in BILINGUAL:
        for code in range(N_CLASSES):
            mine = [t for t in gen.templates if t.language == lang and t.class_code == code]
            share = np.mean([t.heldout for t in mine])
            assert 0.15 <= share <= 0.35, (lang, code, share)


def test_split_is_a_property_of_the_template_id() -> None:
    """Loading a language alone or with another must not change its split."""
    alone = {t.template_id: t.heldout for t in TextGenerator({"fr": 1.0}).templates}
    mixed = {t.template_id: t.heldout for t in TextGenerator(BILINGUAL).templates}
    assert all(mixed[k] == v for k, v in alone.items())


@pytest.mark.parametrize("seed", SEEDS)
def test_evasion_changes_texts(seed: int) -> None:
    codes = _codes(1000, seed)
    plain = TextGenerator(BILINGUAL, evasion_rate=0.0).generate(codes, np.random.default_rng(seed))
    evaded = TextGenerator(BILINGUAL, evasion_rate=1.0).generate(codes, np.random.default_rng(seed))
    # template and slot draws come first, so only the evasion differs between the two
    changed = np.mean([a != b for a, b in zip(plain, evaded, strict=True)])
    assert changed > 0.99
    similar = np.mean([abs(len(a) - len(b)) <= 12 for a, b in zip(plain, evaded, strict=True)])
    assert similar > 0.95


@pytest.mark.parametrize("seed", SEEDS)
def test_evasion_rate_is_the_share_of_evading_posts(seed: int) -> None:
    rate, n = 0.3, 4000
    df = TextGenerator(BILINGUAL, evasion_rate=rate).corpus(
        n // N_CLASSES, np.random.default_rng(seed)
    )
    tolerance = 4 * np.sqrt(rate * (1 - rate) / n)
    assert abs(df["evasion"].mean() - rate) < tolerance
    none = TextGenerator(BILINGUAL).corpus(100, np.random.default_rng(seed))
    assert not none["evasion"].any()


def test_evasion_hides_trigger_words() -> None:
    codes = np.zeros(3000, dtype=np.int8)  # violent threats: full of trigger words
    gen = TextGenerator(evasion_rate=1.0)
    texts = gen.generate(codes, np.random.default_rng(3))
    plain = TextGenerator().generate(codes, np.random.default_rng(3))
    kinds = {
        "emoji": any(ch in t for t in texts for ch in "🔫💀🔪💣🔥🪢"),
        "leet": any(w in t.lower() for t in texts for w in ("k1ll", "5h007", "d34d", "r0p3")),
        "spacing": any(w in t.lower() for t in texts for w in ("k i l l", "k.i.l.l", "s-h-o-o-t")),
    }
    assert all(kinds.values()), kinds
    trigger = "kill"
    assert sum(trigger in t.lower() for t in texts) < sum(trigger in t.lower() for t in plain)


def test_class_codes_must_be_valid() -> None:
    gen = TextGenerator()
    with pytest.raises(ValueError, match="class codes"):
        gen.generate(np.array([0, 5], dtype=np.int8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="split"):
        gen.generate(np.array([0], dtype=np.int8), np.random.default_rng(0), split="test")  # type: ignore[arg-type]
    assert gen.generate(np.array([], dtype=np.int8), np.random.default_rng(0)) == []


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(DataFileError, match="no bundled lexicon for language 'xx'"):
        TextGenerator({"xx": 1.0})
    with pytest.raises(ValueError, match="evasion_rate"):
        TextGenerator(evasion_rate=1.5)
    with pytest.raises(ValueError, match="language weights"):
        TextGenerator({"en": -1.0})


def _write_lexicon(directory: Path, classes_block: str) -> Path:
    path = directory / "en.yaml"
    path.write_text(
        "slots:\n  who: [the mayor, the cat]\nclasses:\n" + classes_block, encoding="utf-8"
    )
    return path


def test_custom_lexicon_dir_is_used(tmp_path: Path) -> None:
    block = "".join(
        f"  {name}:\n    - '{name} one {{who}}'\n    - '{name} two {{who_2}}'\n" for name in CLASSES
    )
    _write_lexicon(tmp_path, block)
    gen = TextGenerator(lexicon_dir=tmp_path)
    texts = gen.generate(np.array([4, 4, 0], dtype=np.int8), np.random.default_rng(0))
    assert texts[0].startswith("Benign") and texts[2].startswith("Violent_threat")


def test_lexicon_with_unknown_slot_names_the_file_and_template(tmp_path: Path) -> None:
    block = "".join(f"  {name}:\n    - 'a {{who}}'\n    - 'b {{who}}'\n" for name in CLASSES)
    block = block.replace("'b {who}'", "'b {weapon}'", 1)
    path = _write_lexicon(tmp_path, block)
    with pytest.raises(DataFileError, match=r"en\.yaml: template en\.violent_threat\.001 .*weapon"):
        load_lexicon("en", tmp_path)
    assert path.exists()


def test_lexicon_missing_a_class_is_refused_by_a_generator_that_needs_it(
    tmp_path: Path,
) -> None:
    _write_lexicon(tmp_path, "  benign:\n    - 'a'\n    - 'b'\n")
    assert load_lexicon("en", tmp_path).classes == ("benign",)
    with pytest.raises(DataFileError, match=r"no templates for class\(es\) \[.*'violent_threat'\]"):
        TextGenerator(lexicon_dir=tmp_path)


def test_lexicon_class_names_must_be_identifiers(tmp_path: Path) -> None:
    _write_lexicon(tmp_path, "  Bad Name:\n    - 'a'\n    - 'b'\n")
    with pytest.raises(DataFileError, match=r"en\.yaml: class names must be snake_case"):
        load_lexicon("en", tmp_path)
