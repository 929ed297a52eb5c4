"""Does `classifier train --data`'s pipeline selection beat the plain baseline on real data?

    python benchmarks/classifier_selection.py prepare RAW_DIR OUT_DIR
    python benchmarks/classifier_selection.py run OUT_DIR/*.csv [--seeds 5] [--folds 5]

``run`` takes labelled CSV files (columns ``text`` and ``label``, 0/1; the file's
stem names the dataset and language, e.g. ``germeval18_de.csv``). For each file and
seed it holds back a stratified 25% (as `classifier train` does), fits the plain
baseline -- TF-IDF word 1-2 + char_wb 2-5, logistic regression, sigmoid-calibrated
-- and :func:`~simulator.classifier.selection.select_pipeline` on the other 75%,
and measures both on the held-out 25%. It prints, per file, the mean held-out
ROC-AUC of each, the mean paired difference with a 95% t-interval over seeds
(the splits overlap, so the interval is somewhat too narrow), and the choices.

The corpora are public but not ours to redistribute, so they stay out of the
repository. ``prepare`` turns these checkouts, cloned into RAW_DIR, into the CSVs:

* ``git clone https://github.com/HKUST-KnowComp/MLMA_hate_speech`` (MIT; Ousidhoum
  et al., EMNLP 2019): English, French and Arabic tweets; label 1 unless the
  annotators' single label is ``normal`` (the authors' own binary reading).
* ``git clone https://github.com/uds-lsv/GermEval-2018-Data`` (CC BY 4.0;
  Wiegand et al. 2018): German tweets, training and test sets pooled; label 1
  for ``OFFENSE``.
* ``git clone https://github.com/abullard1/abullardUR-GermEval-Shared-Task-2025``:
  a participant's copy of the GermEval 2025 violence-detection training set (7,783
  German posts, most from a right-wing extremist movement, 2014-2016); label 1
  for "disturbing positive statements about violence" (propensity, calls to,
  support or glorification of violence). The copy states no licence for the data;
  the shared task's terms apply.
* ``git clone https://github.com/JAugusto97/ToLD-Br`` (CC BY-SA 4.0; Leite et al.,
  AACL 2020): Brazilian Portuguese tweets; label 1 when any annotator marked any
  kind of toxicity.

Only the GermEval 2025 set is about violence; the others label hateful, offensive or
toxic posts. Checkouts missing from RAW_DIR are skipped.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from simulator.classifier.selection import (
    BASELINE,
    DEFAULT_FOLDS,
    calibrated,
    candidates_named,
    select_pipeline,
)

VALIDATION_SHARE = 0.25


def _mlma(raw: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    with zipfile.ZipFile(raw / "MLMA_hate_speech" / "hate_speech_mlma.zip") as archive:
        for lang in ("en", "fr", "ar"):
            name = f"hate_speech_mlma/{lang}_dataset.csv"
            table = pd.read_csv(io.BytesIO(archive.read(name)))
            frames[f"mlma_{lang}"] = pd.DataFrame(
                {"text": table["tweet"], "label": (table["sentiment"] != "normal").astype(int)}
            )
    return frames


def _germeval2018(raw: Path) -> dict[str, pd.DataFrame]:
    table = pd.concat(
        pd.read_csv(
            raw / "GermEval-2018-Data" / f"germeval2018.{part}.txt",
            sep="\t",
            header=None,
            quoting=3,
            names=["text", "coarse", "fine"],
        )
        for part in ("training", "test")
    )
    offensive = (table["coarse"] == "OFFENSE").astype(int)
    return {"germeval18_de": pd.DataFrame({"text": table["text"], "label": offensive})}


def _germeval2025_violence(raw: Path) -> dict[str, pd.DataFrame]:
    path = raw / VIO_COPY / "Competition-Solution/data/processed/vio/vio_cleaned_train.csv"
    table = pd.read_csv(path, sep=";")
    violent = table["VIO"].astype(str).str.lower().eq("true").astype(int)
    return {"germeval25vio_de": pd.DataFrame({"text": table["description"], "label": violent})}


def _toldbr(raw: Path) -> dict[str, pd.DataFrame]:
    table = pd.read_csv(raw / "ToLD-Br" / "ToLD-BR.csv")
    toxic = (table.drop(columns="text").sum(axis=1) > 0).astype(int)
    return {"toldbr_pt": pd.DataFrame({"text": table["text"], "label": toxic})}


VIO_COPY = "abullardUR-GermEval-Shared-Task-2025"
CORPORA = {
    "MLMA_hate_speech": _mlma,
    "GermEval-2018-Data": _germeval2018,
    VIO_COPY: _germeval2025_violence,
    "ToLD-Br": _toldbr,
}


def prepare(raw: Path, out: Path) -> list[Path]:
    """Write ``text,label`` CSVs from the checkouts found in ``raw``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder, read in CORPORA.items():
        if not (raw / folder).is_dir():
            print(f"{raw / folder}: not found, skipped", file=sys.stderr)
            continue
        for name, frame in read(raw).items():
            path = out / f"{name}.csv"
            frame.dropna().to_csv(path, index=False)
            written.append(path)
    return written


def _interval(diffs: np.ndarray) -> tuple[float, float]:
    if diffs.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, diffs.size - 1) * diffs.std(ddof=1) / np.sqrt(diffs.size)
    return float(diffs.mean() - half), float(diffs.mean() + half)


def run_file(
    path: Path, seeds: int, folds: int, candidates: list[str] | None, max_rows: int | None
) -> dict[str, object]:
    table = pd.read_csv(path).dropna()
    if max_rows is not None and len(table) > max_rows:
        table = table.sample(n=max_rows, random_state=0)
    texts = table["text"].astype(str).to_numpy(dtype=object)
    y = table["label"].to_numpy() == 1
    (baseline,) = candidates_named([BASELINE])
    base_auc, chosen_auc, choices = [], [], []
    started = time.process_time()
    for seed in range(seeds):
        train, test = train_test_split(
            np.arange(len(y)), test_size=VALIDATION_SHARE, stratify=y, random_state=seed
        )
        x_train, x_test = texts[train].tolist(), texts[test].tolist()
        plain = calibrated(baseline, seed).fit(x_train, y[train])
        base_auc.append(roc_auc_score(y[test], plain.predict_proba(x_test)[:, 1]))
        picked = select_pipeline(x_train, y[train], seed, candidates=candidates, folds=folds)
        chosen_auc.append(roc_auc_score(y[test], picked.pipeline.predict_proba(x_test)[:, 1]))
        choices.append(picked.chosen)
        print(
            f"  {path.stem} seed {seed}: baseline {base_auc[-1]:.4f}, "
            f"{picked.chosen} {chosen_auc[-1]:.4f}",
            file=sys.stderr,
            flush=True,
        )
    diffs = np.asarray(chosen_auc) - np.asarray(base_auc)
    low, high = _interval(diffs)
    return {
        "dataset": path.stem,
        "rows": len(y),
        "violating": float(y.mean()),
        "baseline": float(np.mean(base_auc)),
        "chosen": float(np.mean(chosen_auc)),
        "diff": float(diffs.mean()),
        "low": low,
        "high": high,
        "choices": ", ".join(f"{c} x{choices.count(c)}" for c in dict.fromkeys(choices)),
        "cpu_s": time.process_time() - started,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="build the CSVs from the cloned corpora")
    prep.add_argument("raw", type=Path)
    prep.add_argument("out", type=Path)
    run = sub.add_parser("run", help="baseline vs selection on held-out splits")
    run.add_argument("files", type=Path, nargs="+")
    run.add_argument("--seeds", type=int, default=5)
    run.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    run.add_argument("--candidates", help="comma-separated candidate names (default: all)")
    run.add_argument("--max-rows", type=int, help="subsample larger files to this many rows")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        for path in prepare(args.raw, args.out):
            print(path)
        return
    names = args.candidates.split(",") if args.candidates else None
    print(
        "| dataset | rows | violating | baseline ROC-AUC | selected ROC-AUC "
        "| difference (95% interval) | choices | CPU s |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|")
    for path in args.files:
        r = run_file(path, args.seeds, args.folds, names, args.max_rows)
        print(
            f"| {r['dataset']} | {r['rows']:,} | {r['violating']:.0%} | {r['baseline']:.4f} "
            f"| {r['chosen']:.4f} | {r['diff']:+.4f} ({r['low']:+.4f} to {r['high']:+.4f}) "
            f"| {r['choices']} | {r['cpu_s']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
