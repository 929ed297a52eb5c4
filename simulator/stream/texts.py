"""Synthetic post texts for every content class, in several languages.

The corpus feeds two things: the classifier (trained and validated on it) and
the engine (which gives every simulated post a text to score). Lexicons and
templates live in YAML data files (``simulator/data/lexicons/<language>.yaml``),
never in code, so the grammar can grow without touching this module.

A template is a format string whose fields name slot lists (targets, verbs,
places, times...). Templates of each class and language are split once and for
all into a *train* and a *held-out* set (about 75/25, decided by a hash of the
template id), so a classifier can be trained on some phrasings and measured on
phrasings it never saw -- the honest estimate of how it generalises.

Generation is vectorised: the language, template, every slot filler and the
evasion choice of a whole batch come from a handful of array draws on the
caller's generator; the only per-post Python work is one ``str.format`` (plus
the string surgery for the posts that evade).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import string
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from simulator.errors import DataFileError
from simulator.taxonomy import DEFAULT, Taxonomy

Split = Literal["all", "train", "heldout"]
SPLITS: tuple[Split, ...] = ("all", "train", "heldout")

HELDOUT_SHARE = 0.25
"""Share of each (language, class) template list kept out of training."""

_SLOT_SUFFIX = re.compile(r"_\d+$")
_CLASS_NAME = re.compile(r"[a-z][a-z0-9_]*")
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
_N_EVASION_OPS = 5


@dataclass(frozen=True)
class Template:
    """One compiled template: a positional format string and its slot lists."""

    template_id: str
    language: str
    class_code: int
    """The class's code: in a :class:`Lexicon`, its position in the file's ``classes``;
    in a :class:`TextGenerator`, its code in the generator's taxonomy."""
    fmt: str
    slots: tuple[str, ...]
    heldout: bool


@dataclass(frozen=True)
class _Evasion:
    """How posts of one language hide their trigger words."""

    pattern: re.Pattern[str] | None
    emoji: dict[str, tuple[str, ...]]
    append: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    """A language's slot lists and compiled templates, as read from its YAML file."""

    language: str
    source: str
    slots: dict[str, np.ndarray]
    templates: tuple[Template, ...]
    evasion: _Evasion
    classes: tuple[str, ...] = ()
    """The classes the file has templates for, in the file's order."""


def _fail(source: str, message: str) -> DataFileError:
    return DataFileError(f"{source}: {message}")


def _str_list(value: Any, source: str, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(source, f"{where} must be a non-empty list of strings")
    out: list[str] = []
    for i, item in enumerate(value):
        if item is None:
            item = ""
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise _fail(source, f"{where}[{i}] must be a string, found {type(item).__name__}")
        out.append(str(item))
    return out


def _compile_template(
    text: str, template_id: str, slots: Mapping[str, np.ndarray], source: str
) -> tuple[str, tuple[str, ...]]:
    """Turn ``"{person} will {vverb}"`` into ``("{0} will {1}", ("person", "vverb"))``."""
    fields: dict[str, int] = {}
    bases: list[str] = []
    parts: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise _fail(source, f"template {template_id} is not a valid format string: {exc}") from exc
    for literal, name, spec, conversion in parsed:
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if spec or conversion:
            raise _fail(source, f"template {template_id}: field {{{name}}} takes no format spec")
        base = _SLOT_SUFFIX.sub("", name)
        if base not in slots:
            raise _fail(
                source,
                f"template {template_id} uses slot {{{name}}} but the lexicon has no "
                f"slot list {base!r}",
            )
        if name not in fields:
            fields[name] = len(bases)
            bases.append(base)
        parts.append("{" + str(fields[name]) + "}")
    return "".join(parts), tuple(bases)


def _heldout_ids(ids: list[str]) -> set[str]:
    """The held-out quarter of a template list: lowest CRC32 of the id, stable forever."""
    n_heldout = max(1, round(len(ids) * HELDOUT_SHARE))
    ranked = sorted(ids, key=lambda tid: (zlib.crc32(tid.encode("utf-8")), tid))
    return set(ranked[:n_heldout])


def _parse_evasion(raw: Any, source: str) -> _Evasion:
    if raw is None:
        return _Evasion(None, {}, ("😈",))
    if not isinstance(raw, dict):
        raise _fail(source, "'evasion' must be a mapping")
    words = _str_list(raw.get("words", ["__none__"]), source, "evasion.words")
    stems = sorted({w.lower() for w in words}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + r")\w*", re.IGNORECASE)
    emoji_raw = raw.get("emoji", {}) or {}
    if not isinstance(emoji_raw, dict):
        raise _fail(source, "'evasion.emoji' must map word stems to lists of emoji")
    emoji = {
        str(k).lower(): tuple(_str_list(v, source, f"evasion.emoji.{k}"))
        for k, v in emoji_raw.items()
    }
    append = tuple(_str_list(raw.get("append", ["😈"]), source, "evasion.append"))
    return _Evasion(pattern, emoji, append)


def parse_lexicon(raw: Any, language: str, source: str) -> Lexicon:
    """Validate a lexicon document (already YAML-decoded) and compile its templates."""
    if not isinstance(raw, dict):
        raise _fail(source, "a lexicon file must hold a mapping with 'slots' and 'classes'")
    slots_raw = raw.get("slots")
    if not isinstance(slots_raw, dict) or not slots_raw:
        raise _fail(source, "'slots' must be a non-empty mapping of slot name -> list of strings")
    slots = {
        str(name): np.array(_str_list(values, source, f"slots.{name}"), dtype=object)
        for name, values in slots_raw.items()
    }
    classes_raw = raw.get("classes")
    if not isinstance(classes_raw, dict) or not classes_raw:
        raise _fail(source, "'classes' must map each class name to a list of templates")
    bad = [str(k) for k in classes_raw if not _CLASS_NAME.fullmatch(str(k))]
    if bad:
        raise _fail(source, f"class names must be snake_case identifiers, found {bad}")
    templates: list[Template] = []
    names = tuple(str(k) for k in classes_raw)
    for code, name in enumerate(names):
        texts = _str_list(classes_raw[name], source, f"classes.{name}")
        if len(texts) < 2:
            raise _fail(source, f"class {name!r} needs at least 2 templates (train and held-out)")
        ids = [f"{language}.{name}.{i:03d}" for i in range(len(texts))]
        heldout = _heldout_ids(ids)
        for tid, text in zip(ids, texts, strict=True):
            fmt, bases = _compile_template(text, tid, slots, source)
            templates.append(Template(tid, language, code, fmt, bases, tid in heldout))
    evasion = _parse_evasion(raw.get("evasion"), source)
    return Lexicon(language, source, slots, tuple(templates), evasion, names)


def _read_lexicon(text: str, language: str, source: str) -> Lexicon:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, f"not valid YAML: {exc}") from exc
    return parse_lexicon(raw, language, source)


@lru_cache(maxsize=16)
def _bundled_lexicon(language: str) -> Lexicon:
    resource = resources.files("simulator").joinpath("data", "lexicons", f"{language}.yaml")
    source = f"simulator/data/lexicons/{language}.yaml"
    if not resource.is_file():
        raise DataFileError(f"{source}: no bundled lexicon for language {language!r}")
    return _read_lexicon(resource.read_text(encoding="utf-8"), language, source)


def load_lexicon(language: str, lexicon_dir: Path | None = None) -> Lexicon:
    """The lexicon of ``language``: bundled, or ``<lexicon_dir>/<language>.yaml``."""
    if lexicon_dir is None:
        return _bundled_lexicon(language)
    path = Path(lexicon_dir) / f"{language}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(
            f"{path}: cannot read lexicon for language {language!r}: {exc}"
        ) from exc
    return _read_lexicon(text, language, str(path))


def missing_classes(lexicons: tuple[Lexicon, ...], taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """``(lexicon file, class)`` for each class of ``taxonomy`` a lexicon has no templates for."""
    return [
        (lex.source, name)
        for lex in lexicons
        for name in taxonomy.classes
        if name not in lex.classes
    ]


def corpus_gaps(languages: tuple[str, ...], taxonomy: Taxonomy) -> str | None:
    """Why the bundled corpus cannot give texts of every class of ``taxonomy`` in
    ``languages`` (a message naming the classes and lexicon files), or None if it can.
    A language without a bundled lexicon is left to the generator to refuse."""
    lexicons = []
    for language in languages:
        try:
            lexicons.append(_bundled_lexicon(language))
        except DataFileError:
            continue
    missing = missing_classes(tuple(lexicons), taxonomy)
    return corpus_gap_message(missing) if missing else None


def check_classes(lexicons: tuple[Lexicon, ...], taxonomy: Taxonomy) -> None:
    """A :class:`~simulator.errors.DataFileError` naming the classes of ``taxonomy`` some
    lexicon has no templates for, and the files; nothing when every class has some."""
    missing = missing_classes(lexicons, taxonomy)
    if missing:
        raise DataFileError(corpus_gap_message(missing))


def corpus_gap_message(missing: list[tuple[str, str]]) -> str:
    """What to say when the corpus lacks classes (``(lexicon file, class)`` pairs)."""
    classes = sorted({name for _, name in missing})
    files = sorted({source for source, _ in missing})
    return (
        f"the text corpus has no templates for class(es) {classes} in {', '.join(files)}: "
        "add them under `classes:` in those lexicon files, or use `texts: {mode: sampled}` "
        "with a card per area"
    )


def _evade(text: str, ev: _Evasion, u: np.ndarray) -> str:
    """Obfuscate one word of ``text`` the way evaders do; ``u`` holds 4 uniforms."""
    matches = list(ev.pattern.finditer(text)) if ev.pattern is not None else []
    if not matches:
        matches = [m for m in re.finditer(r"\w{4,}", text)] or list(re.finditer(r"\w+", text))
    if not matches:
        return text + ev.append[int(u[3] * len(ev.append))]
    m = matches[int(u[1] * len(matches))]
    word = m.group(0)
    op = int(u[0] * _N_EVASION_OPS)
    k = 1 + int(u[2] * max(1, len(word) - 2))  # an inner position
    if op == 0:  # misspelling: drop, double or swap a letter
        kind = int(u[3] * 3)
        if kind == 0 and len(word) > 3:
            new = word[:k] + word[k + 1 :]
        elif kind == 1 or len(word) < 3:
            new = word[:k] + word[k - 1] + word[k:]
        else:
            k = min(k, len(word) - 2)
            new = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    elif op == 1:  # spacing
        sep = (" ", ".", "-", "_")[int(u[3] * 4)]
        new = sep.join(word)
    elif op == 2:  # leetspeak
        new = word.lower().translate(_LEET)
        if new == word.lower():
            new = word[:k] + "*" + word[k + 1 :]
    elif op == 3:  # emoji in place of the word, or after it
        lowered = word.lower()
        keys = [key for key in ev.emoji if lowered.startswith(key)]
        if keys:
            choices = ev.emoji[max(keys, key=len)]
            new = choices[int(u[3] * len(choices))]
        else:
            new = word + " " + ev.append[int(u[3] * len(ev.append))]
    else:  # censoring with symbols
        new = word[:k] + ("*", "#", "@")[int(u[3] * 3)] + word[k + 1 :]
    return text[: m.start()] + new + text[m.end() :]


def _tidy(text: str) -> str:
    """Collapse the spaces an empty slot leaves and capitalise the first letter."""
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class GeneratedTexts:
    """Texts with the draws that made them (aligned arrays)."""

    texts: list[str]
    template_index: np.ndarray
    language_index: np.ndarray
    evasion: np.ndarray


class TextGenerator:
    """Draws post texts of given classes from the lexicons of several languages.

    >>> gen = TextGenerator({"en": 0.8, "fr": 0.2}, evasion_rate=0.1)
    >>> texts = gen.generate(np.array([0, 4], dtype=np.int8), np.random.default_rng(1))
    >>> len(texts)
    2
    """

    def __init__(
        self,
        languages: Mapping[str, float] | None = None,
        evasion_rate: float = 0.0,
        lexicon_dir: Path | None = None,
        taxonomy: Taxonomy = DEFAULT,
    ) -> None:
        languages = dict(languages) if languages is not None else {"en": 1.0}
        if not languages:
            raise ValueError("languages must name at least one language")
        weights = np.array([float(w) for w in languages.values()], dtype=float)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(
                f"language weights must be non-negative with a positive sum, got {languages}"
            )
        if not 0.0 <= float(evasion_rate) <= 1.0:
            raise ValueError(f"evasion_rate must be within [0, 1], got {evasion_rate}")
        self._languages: tuple[str, ...] = tuple(languages)
        self._weights = weights / weights.sum()
        self._evasion_rate = float(evasion_rate)
        self._taxonomy = taxonomy
        self._lexicons = tuple(load_lexicon(lang, lexicon_dir) for lang in self._languages)
        check_classes(self._lexicons, taxonomy)
        n_classes = taxonomy.n_classes
        # Only the taxonomy's classes, language by language in the taxonomy's class order
        # (each class's templates in file order), so that a class the taxonomy lacks changes
        # no draw: not the slot draws' width, not a pool.
        self._templates: tuple[Template, ...] = tuple(
            dataclasses.replace(t, class_code=code)
            for lex in self._lexicons
            for code, name in enumerate(taxonomy.classes)
            for t in lex.templates
            if lex.classes[t.class_code] == name
        )
        self._slot_arrays: tuple[tuple[np.ndarray, ...], ...] = tuple(
            tuple(self._lexicons[self._languages.index(t.language)].slots[s] for s in t.slots)
            for t in self._templates
        )
        self._template_lang = np.array(
            [self._languages.index(t.language) for t in self._templates], dtype=np.int64
        )
        self._max_fields = max((len(t.slots) for t in self._templates), default=0)
        # pools[split][lang * n_classes + class] -> global template indices
        self._pools: dict[str, list[np.ndarray]] = {}
        for split in SPLITS:
            pools: list[np.ndarray] = []
            for li in range(len(self._languages)):
                for code in range(n_classes):
                    idx = [
                        i
                        for i, t in enumerate(self._templates)
                        if self._template_lang[i] == li
                        and t.class_code == code
                        and (split == "all" or t.heldout == (split == "heldout"))
                    ]
                    pools.append(np.array(idx, dtype=np.int64))
            self._pools[split] = pools

    @property
    def taxonomy(self) -> Taxonomy:
        """The classes whose codes :meth:`generate` takes."""
        return self._taxonomy

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    @property
    def language_weights(self) -> np.ndarray:
        return self._weights.copy()

    @property
    def evasion_rate(self) -> float:
        return self._evasion_rate

    @property
    def templates(self) -> tuple[Template, ...]:
        """Every compiled template of the taxonomy's classes, in a stable order (language,
        class, index); ``class_code`` is the class's code in the taxonomy."""
        return self._templates

    def generate(
        self, classes: np.ndarray, rng: np.random.Generator, split: Split = "all"
    ) -> list[str]:
        """One text per entry of ``classes`` (int8 class codes).

        ``split="train"`` draws only training templates, ``"heldout"`` only
        held-out ones, ``"all"`` any. Every random choice comes from ``rng``.
        """
        return self.draw(classes, rng, split).texts

    def draw(
        self, classes: np.ndarray, rng: np.random.Generator, split: Split = "all"
    ) -> GeneratedTexts:
        """Like :meth:`generate`, also returning the template, language and evasion draws."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        codes = np.asarray(classes)
        if codes.ndim != 1:
            raise ValueError(f"classes must be a 1-d array of class codes, got shape {codes.shape}")
        n = int(codes.shape[0])
        n_classes = self._taxonomy.n_classes
        if n and (codes.min() < 0 or codes.max() >= n_classes):
            raise ValueError(f"class codes must lie in [0, {n_classes - 1}]")
        codes = codes.astype(np.int64, copy=False)
        n_lang = len(self._languages)
        lang: np.ndarray = (
            rng.choice(n_lang, size=n, p=self._weights) if n_lang > 1 else np.zeros(n, np.int64)
        )
        u_template: np.ndarray = rng.random(n)
        u_slots: np.ndarray = rng.random((n, self._max_fields))
        evading: np.ndarray = rng.random(n) < self._evasion_rate
        u_evasion = rng.random((int(evading.sum()), 4))

        pools = self._pools[split]
        template = np.empty(n, dtype=np.int64)
        group = lang * n_classes + codes
        for g in np.unique(group):
            rows = np.flatnonzero(group == g)
            pool = pools[int(g)]
            template[rows] = pool[(u_template[rows] * len(pool)).astype(np.int64)]

        texts: list[str] = [""] * n
        order = np.argsort(template, kind="stable")
        sorted_t = template[order]
        starts = np.flatnonzero(np.r_[True, sorted_t[1:] != sorted_t[:-1]]) if n else np.empty(0)
        for a, b in itertools.pairwise([*starts.tolist(), n]):
            rows = order[a:b]
            t = int(sorted_t[a])
            fmt = self._templates[t].fmt
            columns = [
                values[(u_slots[rows, j] * len(values)).astype(np.int64)]
                for j, values in enumerate(self._slot_arrays[t])
            ]
            if columns:
                made = [_tidy(fmt.format(*fill)) for fill in zip(*columns, strict=True)]
            else:
                made = [_tidy(fmt.format())] * len(rows)
            for i, text in zip(rows.tolist(), made, strict=True):
                texts[i] = text

        for k, i in enumerate(np.flatnonzero(evading).tolist()):
            ev = self._lexicons[int(lang[i])].evasion
            texts[i] = _evade(texts[i], ev, u_evasion[k])
        return GeneratedTexts(texts, template, lang, evading)

    def corpus(
        self, n_per_class: int, rng: np.random.Generator, split: Split = "all"
    ) -> pd.DataFrame:
        """A shuffled, labelled corpus of ``n_per_class`` texts of every class.

        Columns: text, label (class name), violating (bool), language,
        template_id (str), evasion (bool).
        """
        if n_per_class < 0:
            raise ValueError(f"n_per_class must be non-negative, got {n_per_class}")
        tax = self._taxonomy
        codes = np.repeat(np.arange(tax.n_classes, dtype=np.int8), n_per_class)
        codes = codes[rng.permutation(codes.shape[0])]
        drawn = self.draw(codes, rng, split)
        ids = np.array([t.template_id for t in self._templates], dtype=object)
        return pd.DataFrame(
            {
                "text": drawn.texts,
                "label": np.array(tax.classes, dtype=object)[codes],
                "violating": tax.violating[codes],
                "language": np.array(self._languages, dtype=object)[drawn.language_index],
                "template_id": ids[drawn.template_index],
                "evasion": drawn.evasion,
            }
        )
