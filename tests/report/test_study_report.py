"""The research report of a study (``seglab report STUDY``): the best trial, the hypotheses
grouped by choice, the trials, the verdicts and the error analysis of the best model, from a
study folder written here as ``seglab tune`` writes one, over real tiny runs."""

from __future__ import annotations

import csv
import html
import json
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from seglab.cli import main
from seglab.errors import ConfigError, DataError
from seglab.evaluation.scoring import score_mask
from seglab.report.study import build_study_report
from tests.builders import tiny_instance_run, tiny_train_settings, write_discs
from tests.report.browser import screenshot

SPACE = {
    "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "adamw"], "path": "optimizer"},
    "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True, "path": "lr"},
}
TRIALS = (  # number, optimizer, lr, state
    (0, "adam", 0.01, "COMPLETE"),
    (1, "sgd", 0.05, "COMPLETE"),
    (2, "adamw", 0.01, "PRUNED"),
    (3, "adam", 0.003, "COMPLETE"),
    (4, "sgd", 0.01, "FAIL"),
)
LR_BINS = (  # the thirds of 1e-3..1e-1 on a log scale, labelled as seglab tune labels them
    ("0.001..0.0046", 1e-3, 10 ** (-7 / 3)),
    ("0.0046..0.022", 10 ** (-7 / 3), 10 ** (-5 / 3)),
    ("0.022..0.1", 10 ** (-5 / 3), 1e-1),
)
OOM = "CUDA out of memory <while allocating & growing>"


# -- a study folder as seglab tune writes it ----------------------------------------------------


def _label(param: str, value) -> str:
    if param == "optimizer":
        return str(value)
    return next(label for label, _, high in LR_BINS if value <= high)


def write_study(
    folder: Path,
    rows: list[dict],
    *,
    data: Path,
    space: dict | None = None,
    task: str = "semantic",
    monitor: str = "val_dice",
    baseline: float | None = None,
    importances: dict | None = None,
) -> dict:
    """``study.json``, ``study.csv`` and ``confidence.csv`` of ``rows`` (``number``, ``state``,
    ``score``, ``seconds``, ``pruned_at``, ``run``, ``error``, ``params``) by the contract of
    ``seglab tune``: the best is the highest complete score, the confidence groups the
    complete trials by value (``lr``: by :data:`LR_BINS`). Returns ``study.json``'s content."""
    space = SPACE if space is None else space
    done = [r for r in rows if r["state"] == "COMPLETE" and r["score"] is not None]
    best = max(done, key=lambda r: r["score"]) if done else None
    states = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
    counts = {s.lower(): sum(r["state"] == s for r in rows) for s in states}
    default_importances = {"optimizer": 0.75, "lr": 0.25} if len(done) > 1 else {}
    meta = {
        "name": "tiny study",
        "seglab_version": "test",
        "direction": "maximize",
        "monitor": monitor,
        "task": task,
        "data": str(data),
        "time_limit": 600.0,
        "trial_time": 60.0,
        "trials": len(rows),
        "folds": None,
        "seed": 0,
        "pruner": "median",
        "sampler": "tpe",
        "storage": "journal.log",
        "space": space,
        "fixed": {"augment": "none", "batch_size": 4, "model.name": "unet"},
        "started": "2025-01-01T00:00:00+00:00",
        "finished": "2025-01-01T00:10:00+00:00",
        "counts": counts,
        "best": best and {k: best[k] for k in ("number", "score", "run", "params")},
        "importances": importances if importances is not None else default_importances,
        "baseline": None if baseline is None else {"score": baseline, "run": "baseline"},
    }
    (folder / "study.json").write_text(json.dumps(meta, indent=1))
    with (folder / "study.csv").open("w", newline="") as f:
        columns = ["number", "state", "score", "score_std", "seconds", "pruned_at", "run", "error"]
        writer = csv.DictWriter(f, fieldnames=[*columns, *space])
        writer.writeheader()
        for r in rows:
            cells = {k: "" if r.get(k) is None else r[k] for k in columns}
            writer.writerow({**cells, **{p: r["params"].get(p, "") for p in space}})
    with (folder / "confidence.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["param", "value", "is_best", "trials", "mean", "std"])
        for param in space:
            groups: dict[str, list[float]] = {}
            for r in done:
                groups.setdefault(_label(param, r["params"][param]), []).append(r["score"])
            for label, scores in groups.items():
                is_best = best is not None and label == _label(param, best["params"][param])
                std = statistics.stdev(scores) if len(scores) > 1 else ""
                mean = statistics.fmean(scores)
                writer.writerow([param, label, str(is_best).lower(), len(scores), mean, std])
    return meta


def expected_groups(rows: list[dict], param: str) -> dict[str, dict]:
    """Each value's complete trials, mean and std, worked out from the rows."""
    out: dict[str, dict] = {}
    for r in rows:
        label = _label(param, r["params"][param])
        group = out.setdefault(label, {"scores": [], "numbers": []})
        group["numbers"].append(r["number"])
        if r["state"] == "COMPLETE":
            group["scores"].append(r["score"])
    for group in out.values():
        scores = group["scores"]
        group["trials"] = len(scores)
        group["mean"] = statistics.fmean(scores) if scores else None
        group["std"] = statistics.stdev(scores) if len(scores) > 1 else None
    return out


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """``(study, data root, rows)``: trials 0-3 real tiny runs (Adam, SGD, AdamW) on 32 px
    discs under ``study/trials/trial-00N``, trial 2 pruned, trial 4 failed before its run
    folder was made. Read-only: copy it (``_copy``)."""
    from seglab.api import train

    base = tmp_path_factory.mktemp("study")
    root = write_discs(base / "discs", splits={"train": 8, "val": 4})
    study = base / "study"
    rows = []
    for number, optimizer, lr, state in TRIALS:
        run = f"trials/trial-{number:03d}"
        row = {"number": number, "state": state, "score": None, "seconds": 0.5, "pruned_at": None,
               "run": run, "error": "", "params": {"optimizer": optimizer, "lr": lr}}  # fmt: skip
        if state == "FAIL":
            rows.append({**row, "error": OOM})
            continue
        # 6 epochs: long enough for the optimizers to differ (2 leave every val Dice at 0)
        settings = tiny_train_settings(root, study / "trials", optimizer=optimizer, lr=lr, epochs=6)
        result = train(print_fn=None, **settings, name=f"trial-{number:03d}")
        summary = json.loads((result.run_dir / "summary.json").read_text())
        if state == "PRUNED":
            summary["status"] = "pruned"
            (result.run_dir / "summary.json").write_text(json.dumps(summary))
            row["pruned_at"] = 0.5
        rows.append({**row, "score": summary["best_score"], "seconds": summary["seconds"]})
    write_study(study, rows, data=root, baseline=0.1)
    return study, root, rows


def _copy(trained_study, tmp_path) -> tuple[Path, Path, list[dict]]:
    study, root, rows = trained_study
    return Path(shutil.copytree(study, tmp_path / "study")), root, rows


class Page(HTMLParser):
    """The elements of a study page the tests read, by class: their attributes and text."""

    CLASSES = ("value-row", "trial-row", "worst-row", "false-alarm-row", "miss-row",
               "verdict-row", "reason-row", "importance-row")  # fmt: skip

    def __init__(self, text: str):
        super().__init__()
        self.rows: dict[str, list[dict]] = {c: [] for c in self.CLASSES}
        self.tables: list[dict] = []  # hypothesis tables: {"param", "rows"}
        self.ids: dict[str, dict] = {}
        self.links: list[str] = []
        self.current: dict | None = None
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids[attrs["id"]] = attrs
        if tag == "table" and "hypothesis" in (attrs.get("class") or ""):
            self.tables.append({"param": attrs["data-param"], "rows": []})
        kind = (attrs.get("class") or "").split(" ")[0]
        if tag == "tr" and kind in self.rows:
            self.current = {**attrs, "text": "", "imgs": []}
            self.rows[kind].append(self.current)
            if kind == "value-row":
                self.tables[-1]["rows"].append(self.current)
        if tag == "img" and self.current is not None:
            self.current["imgs"].append(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if name in attrs:
                self.links.append(attrs[name])

    def handle_endtag(self, tag):
        if tag == "tr":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


def _num(text: str) -> float | None:
    return None if text in ("", "\u2013") else float(text)


def _check_hypotheses(page: Page, rows: list[dict]) -> None:
    tables = {t["param"]: t["rows"] for t in page.tables}
    assert list(tables) == ["optimizer", "lr"]
    for param, shown in tables.items():
        expected = expected_groups(rows, param)
        assert {r["data-value"] for r in shown} == set(expected), param
        for row in shown:
            want = expected[row["data-value"]]
            assert int(row["data-trials"]) == want["trials"], (param, row["data-value"])
            assert _num(row["data-mean"]) == pytest.approx(want["mean"], abs=1e-6)
            assert _num(row["data-std"]) == pytest.approx(want["std"], abs=1e-6)
            assert row["data-numbers"].split() == [str(n) for n in want["numbers"]]


# -- from a real study ---------------------------------------------------------------------------


@pytest.mark.slow
def test_study_report_names_the_best_trial_and_groups_each_choice(trained_study, tmp_path):
    study, _, rows = _copy(trained_study, tmp_path)
    page = build_study_report(study)
    assert page == study / "report.html"
    text = page.read_text()
    parsed = Page(text)
    best = max((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: r["score"])
    card = parsed.ids["best-card"]
    assert int(card["data-trial"]) == best["number"]
    assert float(card["data-score"]) == pytest.approx(best["score"], abs=1e-6)
    assert int(parsed.ids["best"]["data-trial"]) == best["number"]
    assert f"Trial {best['number']} scored" in text
    for title in ("Optimizers", "Learning rate", "Hypotheses", "Overfitting"):
        assert title in text
    _check_hypotheses(parsed, rows)
    adamw = next(r for r in parsed.tables[0]["rows"] if r["data-value"] == "adamw")
    assert (adamw["data-trials"], adamw["data-numbers"]) == ("0", "2")  # pruned: shown, not scored
    # one row per trial, in order, with its state; the failure's reason escaped, not markup
    trials = parsed.rows["trial-row"]
    assert [(int(r["data-number"]), r["data-state"]) for r in trials] == [
        (r["number"], r["state"]) for r in rows
    ]
    assert OOM in trials[4]["text"] and "<while" not in text
    assert "is-best" in trials[best["number"]]["class"]
    # the plots of each varied choice, and every link relative and there
    assert sorted(p.name for p in (study / "report" / "hypotheses").glob("*.png")) == [
        "lr.png", "optimizer.png"
    ]  # fmt: skip
    for link in parsed.links:
        if not link.startswith("#"):
            assert not link.startswith(("data:", "/", "http")), link
            assert (page.parent / unquote(link)).exists(), link
    assert parsed.scripts == 0
    # the verdicts of the 4 finished trials, and the best's reasons, most important first
    assert [int(r["data-number"]) for r in parsed.rows["verdict-row"]] == [0, 1, 2, 3]
    assert [r["data-param"] for r in parsed.rows["reason-row"]] == ["optimizer", "lr"]
    assert [r["data-param"] for r in parsed.rows["importance-row"]] == ["optimizer", "lr"]
    assert "baseline-card" in parsed.ids


@pytest.mark.slow
def test_error_analysis_puts_the_worst_image_first_with_its_counts(trained_study, tmp_path):
    study, root, _ = _copy(trained_study, tmp_path)
    parsed = Page(build_study_report(study).read_text())
    evaluation = study / "report" / "evaluation"
    with (evaluation / "scores.csv").open() as f:
        scores = {r["image"]: r for r in csv.DictReader(f)}
    worst = parsed.rows["worst-row"]
    assert len(worst) == len(scores) == 4
    dice = [float(r["data-dice"]) for r in worst]
    assert dice == sorted(dice)
    assert dice[0] == pytest.approx(min(float(s["dice"]) for s in scores.values()), abs=1e-6)
    for row in worst:
        truth = np.asarray(Image.open(root / "val" / "masks" / f"{row['data-key']}.png"))
        pred = np.asarray(Image.open(evaluation / scores[row["data-key"]]["pred"]))
        assert int(row["data-false-alarms"]) == _untouched(pred > 0, truth > 0)
        assert int(row["data-misses"]) == _untouched(truth > 0, pred > 0)
        assert int(row["data-fp"]) == np.count_nonzero((pred > 0) & (truth == 0))
        assert int(row["data-fn"]) == np.count_nonzero((truth > 0) & (pred == 0))
        assert [i["alt"].split(" of ")[0] for i in row["imgs"]] == [
            "image", "truth", "prediction", "crop", "errors"
        ]  # fmt: skip
    made = (evaluation / "summary.json").stat().st_mtime
    build_study_report(study)  # reused while newer than the best model
    assert (evaluation / "summary.json").stat().st_mtime == made


def _untouched(mask: np.ndarray, other: np.ndarray) -> int:
    """The 8-connected components of ``mask`` with no pixel in ``other``."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    return sum(1 for i in range(1, count + 1) if not (other & (labels == i)).any())


def _blob(truth: np.ndarray, corner: int) -> tuple[slice, slice]:
    """A 3 x 3 square in a corner of the image, 2 px away from any true pixel."""
    h, w = truth.shape
    ys = slice(1, 4) if corner in (0, 1) else slice(h - 4, h - 1)
    xs = slice(1, 4) if corner in (0, 2) else slice(w - 4, w - 1)
    grown = ndimage.binary_dilation(truth > 0, iterations=2)
    assert not grown[ys, xs].any(), "the disc reaches into the corner"
    return ys, xs


def write_known_evaluation(study: Path, root: Path, best_run: Path) -> dict[str, dict]:
    """``STUDY/report/evaluation`` as ``evaluate`` writes it, with predictions whose errors are
    known: val0 the truth and one false blob, val1 nothing (a miss), val2 the truth, val3 the
    truth and two false blobs. Marked current for ``best_run``. Returns the masks per key."""
    folder = study / "report" / "evaluation"
    (folder / "masks").mkdir(parents=True)
    out, rows = {}, []
    for i in range(4):
        key = f"val{i}"
        truth = np.asarray(Image.open(root / "val" / "masks" / f"{key}.png")) > 0
        pred = truth.copy() if i != 1 else np.zeros_like(truth)
        for corner in {0: [0], 3: [0, 3]}.get(i, []):
            pred[_blob(truth, corner)] = True
        Image.fromarray((pred * 255).astype(np.uint8)).save(folder / "masks" / f"{key}.png")
        image = root / "val" / "images" / f"{key}.png"
        scores = score_mask(pred, truth.astype(np.int64))
        rows.append({"image": key, **scores, "image_path": str(image), "pred": f"masks/{key}.png"})
        out[key] = {"truth": truth, "pred": pred, "dice": scores["dice"]}
    with (folder / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    mean = float(np.mean([o["dice"] for o in out.values()]))
    summary = {"images": 4, "skipped": [], "threshold": 0.5, "metrics": {"dice": {"mean": mean}}}
    (folder / "summary.json").write_text(json.dumps(summary))
    state = {"evaluation": {"data": None, "split": "val"}, "best_run": str(best_run.resolve())}
    (study / "report" / "state.json").write_text(json.dumps(state))
    return out


@pytest.mark.slow
def test_false_alarms_and_misses_are_counted_from_the_masks(trained_study, tmp_path):
    study, root, _ = _copy(trained_study, tmp_path)
    best = json.loads((study / "study.json").read_text())["best"]
    known = write_known_evaluation(study, root, study / best["run"])
    parsed = Page(build_study_report(study).read_text())
    worst = parsed.rows["worst-row"]
    assert worst[0]["data-key"] == "val1"  # nothing predicted: Dice 0
    assert [r["data-key"] for r in worst] == sorted(known, key=lambda k: known[k]["dice"])
    counts = {r["data-key"]: (int(r["data-false-alarms"]), int(r["data-misses"])) for r in worst}
    assert counts == {"val0": (1, 0), "val1": (0, 1), "val2": (0, 0), "val3": (2, 0)}
    assert [r["data-key"] for r in parsed.rows["false-alarm-row"]] == ["val3", "val0"]
    assert [r["data-key"] for r in parsed.rows["miss-row"]] == ["val1"]
    for row in worst:  # the pixels too, computed from the masks
        truth, pred = known[row["data-key"]]["truth"], known[row["data-key"]]["pred"]
        assert int(row["data-fp"]) == np.count_nonzero(pred & ~truth)
        assert int(row["data-fn"]) == np.count_nonzero(truth & ~pred)
    text = " ".join(build_study_report(study).read_text().split())
    assert "3 predicted objects touching no true pixel, in 2 of 4 images" in text
    assert "1 true objects with no predicted pixel, in 1 of 4 images" in text


@pytest.mark.slow
def test_missing_optional_files_leave_the_page_whole(trained_study, tmp_path):
    study, _, rows = _copy(trained_study, tmp_path)
    done = sorted((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: r["score"])
    best, other = study / done[-1]["run"], study / done[0]["run"]
    (study / "confidence.csv").unlink()
    shutil.rmtree(study / "plots", ignore_errors=True)
    (other / "summary.json").unlink()  # a run folder left half-written
    shutil.rmtree(best / "plots")
    parsed = Page(build_study_report(study, single_file=True).read_text())
    _check_hypotheses(parsed, rows)  # computed from study.csv alike
    assert "confidence.csv is missing" in (study / "report.html").read_text()
    kinds = {int(r["data-number"]): r["data-kind"] for r in parsed.rows["verdict-row"]}
    assert sorted(kinds) == [0, 1, 2, 3] and kinds[done[0]["number"]] == "unknown"
    assert (best / "plots" / "loss.png").is_file()  # the best trial's curves drawn again
    images = [link for link in parsed.links if not link.startswith(("#", "trials/"))]
    assert images and all(link.startswith("data:image/") for link in images)
    (best / "summary.json").unlink()
    text = html.unescape(" ".join(build_study_report(study).read_text().split()))
    assert text.count("The best trial's run cannot be read") == 2  # best approach, errors
    assert "summary.json: missing" in text


@pytest.mark.slow
def test_a_folds_trial_is_analysed_on_its_first_fold(trained_study, tmp_path):
    study, _, _ = _copy(trained_study, tmp_path)
    best = json.loads((study / "study.json").read_text())["best"]
    trial = study / best["run"]
    folds = tmp_path / "folds"
    shutil.copytree(trial, folds / "fold-1")
    shutil.copytree(trial, folds / "fold-2")
    (folds / "folds.json").write_text(json.dumps({"folds": 2, "monitor": "val_dice", "runs": []}))
    shutil.rmtree(trial)
    shutil.move(folds, trial)
    text = html.unescape(" ".join(build_study_report(study).read_text().split()))
    assert "The best trial's model (fold 1 of 2) evaluated on its val split (4 images" in text
    assert len(Page(text).rows["worst-row"]) == 4


@pytest.mark.slow
def test_page_renders_in_headless_chromium(trained_study, tmp_path):
    study, _, _ = _copy(trained_study, tmp_path)
    screenshot(build_study_report(study), tmp_path, height=3000)


# -- studies without a finished trial, and bad files (no training) -------------------------------


def _unfinished(tmp_path: Path) -> Path:
    """A study whose trials failed or are still running (one run folder with its config only)."""
    root = write_discs(tmp_path / "discs")
    study = tmp_path / "study"
    (study / "trials" / "trial-001").mkdir(parents=True)
    (study / "trials" / "trial-001" / "config.yaml").write_text(f"data:\n  path: {root}\n")
    rows = [
        {"number": 0, "state": "FAIL", "score": None, "seconds": 1.0, "run": "trials/trial-000",
         "error": OOM, "params": {"optimizer": "adam", "lr": 0.01}},
        {"number": 1, "state": "RUNNING", "score": None, "seconds": None, "run": "trials/trial-001",
         "error": "", "params": {"optimizer": "sgd", "lr": 0.05}},
    ]  # fmt: skip
    meta = write_study(study, rows, data=root)
    meta["finished"] = None
    (study / "study.json").write_text(json.dumps(meta))
    return study


def test_a_study_without_a_finished_trial_says_why_each_part_is_empty(tmp_path):
    study = _unfinished(tmp_path)
    text = " ".join(build_study_report(study).read_text().split())
    parsed = Page(text)
    assert "No best trial yet: 1 failed, 1 running of 2 trials, and none complete" in text
    assert parsed.ids["best-card"]["data-trial"] == ""
    assert "No importances yet" in text and "No finished trial has a verdict yet" in text
    assert "running (1 trial now)" in text
    assert [r["data-state"] for r in parsed.rows["trial-row"]] == ["FAIL", "RUNNING"]
    assert all(r["data-trials"] == "0" for r in parsed.rows["value-row"])
    assert "worst-row" not in text and 'id="worst"' not in text
    assert "Classes:" in text  # the data set, from the running trial's config


def test_cli_reports_a_study_and_refuses_a_test_gallery(tmp_path, capsys):
    study = _unfinished(tmp_path)
    assert main(["report", str(study), "--out", str(tmp_path / "page.html")]) == 0
    assert (tmp_path / "page.html").is_file()
    assert capsys.readouterr().out.strip().endswith("page.html")
    assert main(["report", str(study), "--test", str(tmp_path)]) == 2
    assert "is a study; run `seglab report` on the best trial's" in capsys.readouterr().err
    assert main(["report", str(study), "--crf"]) == 2
    assert "--crf: " in capsys.readouterr().err
    from seglab.api import report

    with pytest.raises(ConfigError, match="--test"):
        report(study, test=tmp_path)


def _break(study: Path, name: str, change) -> None:
    path = study / name
    if name.endswith(".json"):
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    else:
        path.write_text(change(path.read_text()))


BAD_FILES = [
    ("study.json", lambda m: {**m, "direction": "up"}, "direction", "maximize, minimize"),
    ("study.json", lambda m: {k: v for k, v in m.items() if k != "task"}, "task", "missing"),
    (
        "study.json",
        lambda m: {**m, "space": {"lr": {"type": "float", "low": "small"}}},
        "space.lr.low",
        "expected a number",
    ),
    (
        "study.json",
        lambda m: {**m, "best": {"number": "one", "score": 0.5}},
        "best.number",
        "whole",
    ),
    ("study.csv", lambda t: t.replace("FAIL", "BROKEN"), "line 2, column state", "BROKEN"),
    ("study.csv", lambda t: t.replace("1.0,", "x,", 1), "line 2, column seconds", "'x' is not"),
    ("study.csv", lambda t: t.replace("state", "status", 1), "column state", "no such column"),
    ("confidence.csv", lambda t: t + "optimizer,adam,maybe,1,0.5,\n", "column is_best", "maybe"),
]


@pytest.mark.parametrize(("name", "change", "field", "words"), BAD_FILES)
def test_a_malformed_file_is_named_with_its_field(tmp_path, name, change, field, words):
    study = _unfinished(tmp_path)
    _break(study, name, change)
    with pytest.raises(DataError, match=words) as error:
        build_study_report(study)
    assert error.value.path == str(study / name)
    assert field in error.value.field
    assert "seglab tune" in str(error.value)
    assert not (study / "report.html").exists()


def test_a_study_json_that_is_not_json_or_is_missing(tmp_path):
    study = _unfinished(tmp_path)
    (study / "study.csv").unlink()
    with pytest.raises(DataError, match="were not written") as error:
        build_study_report(study)
    assert error.value.path == str(study / "study.csv")
    (study / "study.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read the study") as error:
        build_study_report(study)
    assert error.value.path == str(study / "study.json")


# -- an instance study ---------------------------------------------------------------------------


def test_an_instance_study_analyses_objects_missed_and_false(tmp_path):
    from tests.evaluation.objects import write_objects_dataset

    root = write_objects_dataset(tmp_path / "data")
    study = tmp_path / "study"
    rows = []
    for number, optimizer in enumerate(("adam", "sgd")):
        run = tiny_instance_run(study / "trials" / f"trial-{number:03d}", seed=number)
        (run / "config.yaml").write_text(
            json.dumps({"task": "instance", "data": {"path": str(root)}})
        )  # JSON is YAML
        (run / "metrics.csv").write_text("epoch,lr,train_loss,val_loss,val_dice,val_ap,seconds\n"
                                         f"1,0.01,1,1,0.5,{0.2 + number / 10},1.5\n")  # fmt: skip
        verdict = {"kind": "too short", "message": "Train for more epochs."}
        (run / "summary.json").write_text(json.dumps({"status": "completed", "verdict": verdict}))
        rows.append({"number": number, "state": "COMPLETE", "score": 0.2 + number / 10,
                     "seconds": 1.5, "run": f"trials/trial-{number:03d}", "error": "",
                     "params": {"optimizer": optimizer}})  # fmt: skip
    space = {"optimizer": SPACE["optimizer"]}
    write_study(study, rows, data=root, space=space, task="instance", monitor="val_ap",
                importances={"optimizer": 1.0})  # fmt: skip
    parsed = Page(build_study_report(study, split="all").read_text())
    with (study / "report" / "evaluation" / "scores.csv").open() as f:
        scores = {r["image"]: r for r in csv.DictReader(f)}
    worst = parsed.rows["worst-row"]
    assert len(worst) == len(scores) and len(worst) > 0
    maps = [float(r["data-dsb-map"]) for r in worst]
    assert maps == sorted(maps)
    for row in worst:
        assert int(row["data-false"]) == int(float(scores[row["data-key"]]["false"]))
        assert int(row["data-missed"]) == int(float(scores[row["data-key"]]["missed"]))
    by_false = sorted((-int(float(s["false"])), k) for k, s in scores.items() if float(s["false"]))
    shown = [r["data-key"] for r in parsed.rows["false-alarm-row"]]
    assert [-n for n, _ in by_false][: len(shown)] == [
        int(r["data-false"]) for r in parsed.rows["false-alarm-row"]
    ]
    assert "DSB mean AP" in (study / "report.html").read_text()


# -- values and bins -----------------------------------------------------------------------------


def test_values_near_a_bin_edge_fall_where_seglab_tune_counted_them(tmp_path):
    from seglab.report.study_data import ConfidenceRow, Param, Study, Trial
    from seglab.report.study_sections import value_groups

    # tune's thirds of 3e-4..1e-2 on a log scale: edges 3e-4, 9.655e-4, 3.107e-3, 1e-2, which
    # its labels round to 2 digits; 0.00097 is above the true edge, so in the second third
    lr = Param("lr", "float", "lr", low=3e-4, high=1e-2, log=True)
    values = {0: "0.0005", 1: "0.00097", 2: "0.005", 3: "0.0009"}
    trials = [Trial(n, "COMPLETE", 0.5 + n / 10, None, 1.0, None, "", "", {"lr": v})
              for n, v in values.items()]  # fmt: skip
    labels = {"0.0003..0.00097": (0, 3), "0.00097..0.0031": (1,), "0.0031..0.01": (2,)}
    rows = [ConfidenceRow("lr", label, False, len(numbers), 0.0, None)
            for label, numbers in labels.items()]  # fmt: skip
    meta = {"direction": "maximize", "best": None}
    for confidence in (rows, None):  # from confidence.csv, and computed without it
        study = Study(tmp_path, meta, {"lr": lr}, trials, confidence)
        groups, _ = value_groups(study, lr)
        found = {g.label: tuple(sorted(t.number for t in g.members)) for g in groups}
        assert found == labels
        best = {g.label: g.best for g in groups}
        assert best == {"0.0003..0.00097": 0.8, "0.00097..0.0031": 0.6, "0.0031..0.01": 0.7}
    other = [ConfidenceRow("lr", "0.0001..0.001", False, 3, 0.6, 0.1),
             ConfidenceRow("lr", "0.001..0.01", False, 1, 0.7, None)]  # fmt: skip
    groups, source = value_groups(Study(tmp_path, meta, {"lr": lr}, trials, other), lr)
    assert source == "confidence.csv"  # another binning: its labels, the trials matched to them
    assert {g.label: sorted(t.number for t in g.members) for g in groups} == {
        "0.0001..0.001": [0, 1, 3], "0.001..0.01": [2]
    }  # fmt: skip
