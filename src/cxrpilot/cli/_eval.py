"""``cxrpilot eval reports|findings|study|simulate-study``: measure reports, finding scores
and reader studies (see docs/evaluation.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cxrpilot.cli._inputs import ENCODING_FIX, add_encoding_option, check_encoding


def register(subparsers: argparse._SubParsersAction) -> None:
    from ._groups import add_group

    sub = add_group(
        subparsers, "eval", "Evaluate generated reports, finding scores or a reader study.",
        "Evaluate generated reports (BLEU, METEOR, ROUGE-L, CIDEr-D, clinical efficacy), "
        "finding scores (AUC with CIs, operating points, calibration) or a reader-study export.",
    )

    p = sub.add_parser(
        "reports", help="Report metrics of generated reports against references.",
        description="BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap; needs java) and clinical efficacy "
        "(the report labeler) of --pred against --ref. Files: .txt (one report per line), .jsonl (strings or "
        "objects with 'id' and 'text'), .json (a list, or an object id -> text) or .csv (columns id, text). "
        "Reports are paired by id when both files have ids, else by order.",
    )
    p.add_argument("--pred", required=True, metavar="FILE", help="generated reports")
    p.add_argument("--ref", required=True, metavar="FILE", help="reference reports")
    p.add_argument("--metrics", nargs="+", default=None, metavar="NAME",
                   help="subset of BLEU-1 BLEU-2 BLEU-3 BLEU-4 METEOR ROUGE-L CIDEr-D (default: all)")
    p.add_argument("--no-clinical", action="store_true", help="skip clinical efficacy (the labeler)")
    p.add_argument("--bertscore-model", metavar="DIR", default=None,
                   help="a local Hugging Face model folder to add BERTScore (nothing is downloaded)")
    p.add_argument("--html", metavar="FILE", default=None, help="also write a self-contained HTML report")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    add_encoding_option(p)
    p.set_defaults(handler=run_reports)

    p = sub.add_parser(
        "findings", help="AUC with CIs, operating points and calibration of finding scores.",
        description="Per finding: ROC AUC with a stratified bootstrap CI, sensitivity/specificity/PPV/NPV at "
        "Youden's or a given threshold (Wilson CIs), expected calibration error, ROC curves. --scores and "
        "--labels are CSV files with an id column (named id, case, image or study, else the first column) "
        "and one column per finding; labels are 1/0, blank = unknown (left out). --scores (and --compare) "
        "may also be the RESULTS folder (or a .parquet file) of 'cxrpilot batch': each label id is matched "
        "to a row by image_id, by source path, or by the end of the source path (e.g. images/x.jpg); "
        "the probabilities of the drafted rows are the scores, failed rows are left out.",
    )
    p.add_argument("--scores", required=True, metavar="CSV|RESULTS")
    p.add_argument("--labels", required=True, metavar="CSV")
    p.add_argument("--findings", nargs="+", default=None, metavar="NAME",
                   help="columns to evaluate (default: every column the two files share)")
    p.add_argument("--threshold", default="youden", help="'youden' (default) or a number")
    p.add_argument("--n-bootstrap", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare", metavar="CSV|RESULTS", default=None,
                   help="scores of a second model: adds DeLong's test per finding")
    p.add_argument("--html", metavar="FILE", default=None)
    p.add_argument("--json", action="store_true")
    add_encoding_option(p)
    p.set_defaults(handler=run_findings)

    p = sub.add_parser(
        "study", help="Analyse a reader-study export (reads.csv + evaluations.csv).",
        description="Reading time (mean ± SD, relative change with a bootstrap CI, mixed model with reader and "
        "case effects), Likert and RADPEER (Wilcoxon / Mann-Whitney, 2b/3b rate), pairwise preference under "
        "a k-of-n rule, inter-rater agreement (Fleiss' kappa, ICC) and draft edits. EXPORT is a folder with "
        "reads.csv and evaluations.csv, or an export .json; the schema is in docs/evaluation.md.",
    )
    p.add_argument("export", metavar="EXPORT")
    p.add_argument("--html", metavar="FILE", default=None, help="write a self-contained HTML report")
    p.add_argument("--json", action="store_true")
    p.add_argument("--k", type=int, default=None, help="evaluators that must agree on a preference "
                   "(default: a majority of the panel)")
    p.add_argument("--n-evaluators", type=int, default=None, help="panel size for the preference rule")
    p.add_argument("--time", choices=("wall", "active"), default="wall",
                   help="reading time: wall = started to signed (default), active = visible and focused")
    p.add_argument("--n-bootstrap", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-mixed-model", action="store_true", help="skip the mixed-effects model (faster)")
    p.set_defaults(handler=run_study)

    p = sub.add_parser(
        "simulate-study", help="Write a simulated reader-study export with known effect sizes.",
        description="Simulate a two-arm reader study (reading times of the published trial: 119.4 s with "
        "the AI draft vs 146.6 s without, -18.5 %%) and write reads.csv and evaluations.csv into OUT.",
    )
    p.add_argument("out", metavar="OUT")
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--readers", type=int, default=8)
    p.add_argument("--evaluators", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=run_simulate)


# ----------------------------------------------------------------------------- helpers


def _read_texts(path: str, encoding: str = "utf-8") -> list[tuple[str | None, str]]:
    from cxrpilot.data import read_csv, read_text
    from cxrpilot.errors import InvalidDatasetError

    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        _, rows = read_csv(path, required=("text",), encoding=encoding, fix=ENCODING_FIX)
        return [(cells.get("id"), cells["text"]) for _, _, cells in rows]
    raw = read_text(path, encoding=encoding, fix=ENCODING_FIX)
    try:
        if suffix == ".json":
            data = json.loads(raw)
            if isinstance(data, dict):
                return [(str(k), str(v)) for k, v in data.items()]
            if isinstance(data, list):
                return [_entry(x, path, i) for i, x in enumerate(data)]
            raise InvalidDatasetError(f"{path}: expected a JSON list of reports or an object id -> report")
        if suffix == ".jsonl":
            return [_entry(json.loads(line), path, i) for i, line in enumerate(raw.splitlines()) if line.strip()]
    except json.JSONDecodeError as exc:
        raise InvalidDatasetError(f"{path}: invalid JSON: {exc}") from exc
    return [(None, line) for line in raw.splitlines()]


def _entry(x: Any, path: str, i: int) -> tuple[str | None, str]:
    from cxrpilot.errors import InvalidDatasetError

    if isinstance(x, str):
        return None, x
    if isinstance(x, dict) and isinstance(x.get("text"), str):
        return (str(x["id"]) if x.get("id") is not None else None), x["text"]
    raise InvalidDatasetError(f"{path}: entry {i + 1} must be a string or an object with 'text' (and 'id')")


def _pair(pred: list[tuple[str | None, str]], ref: list[tuple[str | None, str]], names: tuple[str, str]
          ) -> tuple[list[str], list[str], list[str]]:
    from cxrpilot.errors import InvalidDatasetError

    if all(i is not None for i, _ in pred) and all(i is not None for i, _ in ref):
        ref_by = dict(ref)
        missing = [i for i, _ in pred if i not in ref_by]
        if missing:
            raise InvalidDatasetError(f"{names[1]} has no report for id(s) {missing[:5]} of {names[0]}")
        return [str(i) for i, _ in pred], [t for _, t in pred], [ref_by[i] for i, _ in pred]
    if len(pred) != len(ref):
        raise InvalidDatasetError(f"{names[0]} has {len(pred)} reports but {names[1]} has {len(ref)}; "
                                  "give the same number (paired by order) or ids in both")
    return [str(k) for k in range(len(pred))], [t for _, t in pred], [t for _, t in ref]


def _write_html(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def _dump(obj: Any) -> None:
    from cxrpilot.evaluation import to_jsonable

    print(json.dumps(to_jsonable(obj), indent=2, allow_nan=False))


# ---------------------------------------------------------------------------- commands


def run_reports(args: argparse.Namespace) -> int:
    from cxrpilot.evaluation import clinical_efficacy, report_metrics

    check_encoding(args.encoding)
    _, preds, refs = _pair(_read_texts(args.pred, args.encoding), _read_texts(args.ref, args.encoding),
                           (args.pred, args.ref))
    metrics = report_metrics(preds, refs, metrics=args.metrics, bertscore_model=args.bertscore_model)
    ce = None if args.no_clinical else clinical_efficacy(preds, refs)
    if args.html:
        from cxrpilot.evaluation import render_reports_html

        _write_html(args.html, render_reports_html(metrics, ce, source=f"{args.pred} vs {args.ref}"))
    if args.json:
        _dump({"n": len(preds), "metrics": metrics, "clinical_efficacy": ce})
        return 0
    print(f"{len(preds)} report pairs")
    for k, v in metrics.items():
        print(f"  {k:<13} {v:.4f}")
    if ce is not None:
        print(f"clinical efficacy (labeler: {ce.labeler}):")
        for row in ce.summary:
            print(f"  uncertain as {row['uncertain']:<8} {row['observations']:>2} obs {row['average']:<5} "
                  f"P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}")
    if args.html:
        print(f"wrote {args.html}")
    return 0


def _read_table(path: str, encoding: str = "utf-8") -> tuple[list[str], dict[str, dict[str, str]]]:
    from cxrpilot.data import read_csv
    from cxrpilot.errors import InvalidDatasetError

    cols, table = read_csv(path, encoding=encoding, fix=ENCODING_FIX)
    if len(cols) < 2:
        raise InvalidDatasetError(f"{path}: expected an id column and at least one finding column; "
                                  f"found {', '.join(map(repr, cols)) or 'none'}")
    id_col = next((c for c in ("id", "case", "image", "study") if c in cols), cols[0])
    rows: dict[str, dict[str, str]] = {}
    for number, line, row in table:
        key = row[id_col]
        if key in rows:
            raise InvalidDatasetError(f"{path}: row {number} (line {line}): id {key!r} appears twice")
        rows[key] = row
    return [c for c in cols if c != id_col], rows


def _is_batch_results(path: str) -> bool:
    file = Path(path)
    return file.is_dir() or file.suffix.lower() == ".parquet"


def _read_scores(path: str, labels: dict[str, dict[str, str]], encoding: str = "utf-8"
                 ) -> tuple[list[str], dict[str, dict[str, str]]]:
    """A scores CSV, or the RESULTS of ``cxrpilot batch`` keyed by the label ids they match."""
    if not _is_batch_results(path):
        return _read_table(path, encoding)
    from cxrpilot.batch import read_results
    from cxrpilot.errors import InvalidDatasetError

    table = read_results(path, columns=("source", "image_id", "status", "findings"))
    rows = [r for r in table.to_pylist() if r["status"] == "ok"]
    if not rows:
        raise InvalidDatasetError(f"{path}: no drafted (status 'ok') rows to take scores from")
    probs = [{f["name"]: f["probability"] for f in r["findings"]} for r in rows]
    cols = [name for name in probs[0] if all(p.get(name) is not None for p in probs)]
    exact: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        for key in (r["image_id"], r["source"]):
            if key:
                exact.setdefault(key, i)
        by_name.setdefault(Path(r["source"]).name, []).append(i)
    scores: dict[str, dict[str, str]] = {}
    for key in labels:
        i = exact.get(key)
        if i is None:
            tail = Path(key).parts
            i = next((j for j in by_name.get(Path(key).name, [])
                      if Path(rows[j]["source"]).parts[-len(tail):] == tail), None)
        if i is not None:
            scores[key] = {name: repr(probs[i][name]) for name in cols}
    return cols, scores


def run_findings(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from cxrpilot.errors import InvalidDatasetError
    from cxrpilot.evaluation import (
        delong_test,
        expected_calibration_error,
        roc_auc_ci,
        roc_curve_points,
        threshold_metrics,
    )

    check_encoding(args.encoding)
    label_cols, labels = _read_table(args.labels, args.encoding)
    score_cols, scores = _read_scores(args.scores, labels, args.encoding)
    other = _read_scores(args.compare, labels, args.encoding) if args.compare else None
    findings = args.findings or [c for c in score_cols if c in label_cols]
    if not findings:
        raise InvalidDatasetError(f"{args.scores} and {args.labels} share no finding column; "
                                  f"scores has {score_cols}, labels has {label_cols}")
    ids = [i for i in scores if i in labels]
    if not ids:
        raise InvalidDatasetError(f"no id of {args.scores} is in {args.labels}")
    threshold: Any = args.threshold if args.threshold == "youden" else float(args.threshold)
    results, curves = [], {}
    for name in findings:
        for cols, file in ((score_cols, args.scores), (label_cols, args.labels)):
            if name not in cols:
                raise InvalidDatasetError(f"{file}: no column {name!r}; columns are {cols}")
        y, s, s2 = [], [], []
        for i in ids:
            lab = (labels[i][name] or "").strip()
            if lab == "":
                continue
            if lab not in ("0", "1", "0.0", "1.0"):
                raise InvalidDatasetError(f"{args.labels}: id {i!r}, column {name!r}: {lab!r}; expected 1, 0 or blank")
            try:
                val = float(scores[i][name])
                val2 = float(other[1][i][name]) if other else math.nan
            except (TypeError, ValueError, KeyError) as exc:
                raise InvalidDatasetError(f"score of id {i!r}, column {name!r} is not a number: {exc}") from exc
            y.append(int(float(lab)))
            s.append(val)
            s2.append(val2)
        y_arr, s_arr = np.asarray(y), np.asarray(s)
        row: dict[str, Any] = {"finding": name, "n": int(y_arr.size), "positives": int(y_arr.sum()),
                               "auc": roc_auc_ci(y_arr, s_arr, n_bootstrap=args.n_bootstrap, seed=args.seed)}
        if 0 < y_arr.sum() < y_arr.size:
            row["operating_point"] = threshold_metrics(y_arr, s_arr, threshold=threshold)
            curves[name] = roc_curve_points(y_arr, s_arr)
        if s_arr.size and s_arr.min() >= 0 and s_arr.max() <= 1:
            row["ece"] = expected_calibration_error(y_arr, s_arr)
        if other:
            row["delong_vs_compare"] = delong_test(y_arr, s_arr, np.asarray(s2))
        results.append(row)
    if args.html:
        from cxrpilot.evaluation import render_findings_html

        _write_html(args.html, render_findings_html(results, curves, source=f"{args.scores} vs {args.labels}"))
    if args.json:
        _dump({"findings": results})
        return 0
    for r in results:
        op = r.get("operating_point")
        extra = (f"; at {op.threshold:.3g}: sens {op.sensitivity.estimate:.3f} spec {op.specificity.estimate:.3f}"
                 if op else "")
        dl = r.get("delong_vs_compare")
        extra += f"; DeLong vs --compare AUC {dl.auc_b:.3f}, p = {dl.p:.3g}" if dl else ""
        print(f"{r['finding']:<28} n={r['n']:<6} pos={r['positives']:<5} AUC {r['auc']}{extra}")
    if args.html:
        print(f"wrote {args.html}")
    return 0


def run_study(args: argparse.Namespace) -> int:
    from cxrpilot.evaluation import analyze_study, load_study

    data = load_study(args.export, time=args.time)
    analysis = analyze_study(data, k=args.k, n_evaluators=args.n_evaluators, time=args.time,
                             n_bootstrap=args.n_bootstrap, seed=args.seed, mixed_model=not args.no_mixed_model)
    if args.html:
        from cxrpilot.evaluation import render_study_html

        _write_html(args.html, render_study_html(analysis, data))
    if args.json:
        _dump(analysis)
        return 0
    print("\n".join(analysis.summary_lines()))
    for note in analysis.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.html:
        print(f"wrote {args.html}")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from cxrpilot.evaluation import SimulationSpec, simulate_reader_study, write_study_export

    spec = SimulationSpec(n_cases=args.cases, n_readers=args.readers, n_evaluators=args.evaluators)
    reads, evaluations = simulate_reader_study(spec, seed=args.seed)
    out = write_study_export(args.out, reads, evaluations)
    print(f"wrote {len(reads)} reads and {len(evaluations)} evaluations to {out}")
    return 0
