"""The HTML run report: galleries with a row per image, escaping, single-file pages, errors."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import yaml
from PIL import Image

from seglab.cli import main
from seglab.errors import DataError
from seglab.evaluation.scoring import score_mask
from seglab.report.gallery import crop, mask_display, worst_first
from seglab.report.html import build_report
from seglab.report.sections import RUN_FILES
from tests.report.browser import screenshot

# names valid on Linux; "/" makes the first a key with a folder: "<script>alert(1)</script>.png"
HOSTILE_TEST = (
    "<script>alert(1)</script>.png",
    "<img src=x onerror=alert(1)>.png",
    "a\"b'c.png",
    "x & y #1.png",
)
HOSTILE_VAL = ("<img src=x onerror=alert(2)>", "q\"u'o#te", "sp ace&amp")


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> tuple[Path, Path]:
    """A writable copy of the tiny run (and its data root)."""
    run, root = tiny_run
    return Path(shutil.copytree(run, tmp_path / "run")), root


class Page(HTMLParser):
    """The parts of a report page the tests check: gallery rows and every ``src``/``href``."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: dict[str, list[dict]] = {"val-row": [], "test-row": []}
        self.imgs: list[dict] = []
        self.links: list[str] = []
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") in self.rows:
            self.rows[attrs["class"]].append({**attrs, "imgs": []})
            self.current = self.rows[attrs["class"]][-1]
        if tag == "img":
            self.imgs.append(attrs)
            if hasattr(self, "current"):
                self.current["imgs"].append(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if name in attrs:
                self.links.append(attrs[name])

    def handle_endtag(self, tag):
        if tag == "tr" and hasattr(self, "current"):
            del self.current


def _keys(rows: list[dict]) -> list[str]:
    """Each row's key, from its images' ``alt`` ("LABEL of KEY"), as the browser reads it."""
    return [row["imgs"][0]["alt"].removeprefix("image of ") for row in rows]


def _dice(rows: list[dict]) -> list[float]:
    return [float(row["data-dice"]) for row in rows]


def _check_links(page: Path, parsed: Page) -> None:
    """Every image link is relative and points at a file; anchors stay in the page."""
    for link in parsed.links:
        if link.startswith("#"):
            continue
        assert not link.startswith(("data:", "/", "http", "file:")), link
        assert (page.parent / unquote(link)).is_file(), link


def write_fake_evaluation(
    run: Path, root: Path, *, split: str = "val", data: Path | None = None
) -> dict[str, float]:
    """``RUN/report/evaluation`` as ``evaluate`` writes it, with predictions that are the truth
    shifted right by 3i pixels for val image i (the Dice falls with i), recorded in
    ``state.json`` so the report reuses it (made from ``data``: pass the same to
    ``build_report``). Returns the Dice per key."""
    folder = run / "report" / "evaluation"
    (folder / "masks").mkdir(parents=True)
    rows, dice = [], {}
    for image in sorted((root / split / "images").glob("*.png")):
        i = int(re.sub(r"\D", "", image.stem))
        truth = np.asarray(Image.open(root / split / "masks" / image.name)) > 0
        pred = np.roll(truth, 3 * i, axis=1)
        scores = score_mask(pred, truth.astype(np.int64))
        Image.fromarray((pred * 255).astype(np.uint8)).save(folder / "masks" / image.name)
        rows.append(
            {"image": image.stem, **scores, "image_path": str(image), "pred": f"masks/{image.name}"}
        )
        dice[image.stem] = scores["dice"]
    with (folder / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    values = np.array(list(dice.values()))
    stats = {"mean": values.mean(), "median": np.median(values), "std": values.std()}
    summary = {"images": len(rows), "skipped": [], "threshold": 0.5, "metrics": {"dice": stats}}
    (folder / "summary.json").write_text(json.dumps(summary, default=float))
    state = {"evaluation": {"data": data and str(data.resolve()), "split": split}}
    (run / "report" / "state.json").write_text(json.dumps(state))
    return dice


def _copy_images(images: list[Path], folder: Path, names: list[str]) -> Path:
    for image, name in zip(images, names, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / name)
    return folder


# -- from files ----------------------------------------------------------------------------------


def test_report_from_evaluation_files_sorts_worst_first(run_copy):
    run, root = run_copy
    dice = write_fake_evaluation(run, root)
    page = build_report(run)
    assert page == run / "report.html"
    parsed = Page(page.read_text())
    rows = parsed.rows["val-row"]
    assert len(rows) == 6
    assert _dice(rows) == pytest.approx(sorted(dice.values()), abs=1e-6)
    assert _dice(rows)[0] < 0.2 < 0.99 < _dice(rows)[-1]  # shifted 15 px vs not shifted
    assert _keys(rows) == sorted(dice, key=dice.__getitem__)
    assert [img["alt"].split(" of ")[0] for img in rows[0]["imgs"]] == [
        "image", "truth", "prediction", "crop"
    ]  # fmt: skip
    _check_links(page, parsed)
    assert parsed.scripts == 0


def test_header_gives_the_budget_used_and_the_threshold_chosen_on_val(run_copy):
    run, root = run_copy
    write_fake_evaluation(run, root)
    summary = json.loads((run / "summary.json").read_text())
    summary.update(
        time_limit=180.0,
        budget_used=0.9712,
        threshold={"chosen": 0.4, "val_dice": 0.9013, "val_dice_default": 0.8986},
        best_epoch=3,
        epochs_counted_from=1,
    )
    (run / "summary.json").write_text(json.dumps(summary))
    text = " ".join(build_report(run).read_text().split())
    assert "(97% of the 180 s budget)" in text
    assert "threshold 0.4 (chosen on val: Dice 0.901, 0.899 at 0.5)" in text
    assert "epoch 3 of" in text  # counted from 1, as summary.json says
    del summary["epochs_counted_from"]  # a run written before epochs were counted from 1
    (run / "summary.json").write_text(json.dumps(summary))
    assert "epoch 4 of" in " ".join(build_report(run).read_text().split())


def _squares(root: Path, *, size: int, side: int, count: int = 3) -> dict[str, tuple[int, int]]:
    """``root/{train,val}/{images,masks}``: ``size`` px images, each with one bright ``side`` px
    square (mask 255) away from the borders. Returns the ``(top, left)`` of each val square."""
    rng = np.random.default_rng(side)
    places, away = {}, min(20, (size - side) // 2)
    for split in ("train", "val"):
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True)
        for i in range(count):
            top, left = (int(v) for v in rng.integers(away, size - side - away + 1, 2))
            image = rng.normal(40, 8, (size, size, 3)).clip(0, 255).astype(np.uint8)
            image[top : top + side, left : left + side] = 200
            mask = np.zeros((size, size), np.uint8)
            mask[top : top + side, left : left + side] = 255
            Image.fromarray(image).save(root / split / "images" / f"{split}{i}.png")
            Image.fromarray(mask).save(root / split / "masks" / f"{split}{i}.png")
            places[f"{split}{i}"] = (top, left)
    return {key: place for key, place in places.items() if key.startswith("val")}


def test_tiny_objects_get_a_zoom_with_its_box_and_factor(run_copy, tmp_path):
    run, _ = run_copy
    data = tmp_path / "tiny objects"
    places = _squares(data, size=512, side=10)  # 0.04 % of the image: a speck in a thumbnail
    write_fake_evaluation(run, data, data=data)  # predictions shifted 0, 3, 6 px
    page = build_report(run, data=data)
    text = page.read_text()
    parsed = Page(text)
    rows = parsed.rows["val-row"]
    assert len(rows) == 3 and "<th>zoom</th>" in text
    for row in rows:
        key = row["imgs"][0]["alt"].removeprefix("image of ")
        zoom = row["imgs"][-1]
        assert zoom["alt"] == f"zoom of {key}" and zoom["class"] == "zoom"
        assert (page.parent / unquote(zoom["src"])).suffix == ".png"
        top, left = places[key]
        shift = 3 * int(key.removeprefix("val"))
        factor = 256 // (26 + shift)  # 10 px + 8 px on each side, and the shift
        with Image.open(page.parent / unquote(zoom["src"])) as tile:
            assert tile.size == ((26 + shift) * factor, 26 * factor)
        caption = (
            f"x {left - 8}\u2013{left + 17 + shift}, y {top - 8}\u2013{top + 17}, \u00d7{factor}"
        )
        assert caption in text
    _check_links(page, parsed)


def test_large_objects_get_no_zoom(run_copy, tmp_path):
    run, _ = run_copy
    data = tmp_path / "large objects"
    _squares(data, size=64, side=30)
    write_fake_evaluation(run, data, data=data)
    text = build_report(run, data=data).read_text()
    parsed = Page(text)
    assert len(parsed.rows["val-row"]) == 3
    assert all(len(row["imgs"]) == 4 for row in parsed.rows["val-row"])
    for part in ("<th>zoom</th>", '<img class="zoom"', "zoom of", "zoom enlarges"):
        assert part not in text  # no column, no tile, no legend


# -- end to end ----------------------------------------------------------------------------------


def test_report_evaluates_predicts_and_regenerates(run_copy, tmp_path, capsys):
    run, root = run_copy
    val_images = sorted((root / "val" / "images").glob("*.png"))
    test_dir = _copy_images(val_images, tmp_path / "test images", [p.name for p in val_images])
    assert main(["report", str(run), "--test", str(test_dir)]) == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == run / "report.html"
    parsed = Page(page.read_text())
    val, test = parsed.rows["val-row"], parsed.rows["test-row"]
    assert sorted(_keys(val)) == [p.stem for p in val_images]
    assert _dice(val) == sorted(_dice(val)) and min(_dice(val)) > 0.5  # the tiny run is good
    with (run / "report/evaluation/scores.csv").open() as f:
        scores = {row["image"]: float(row["dice"]) for row in csv.DictReader(f)}
    assert dict(zip(_keys(val), _dice(val), strict=True)) == pytest.approx(scores, abs=1e-6)
    below = sum(d < 0.5 for d in scores.values())
    assert f"{below} of 6 images have Dice below 0.5" in " ".join(page.read_text().split())
    assert _keys(test) == [p.name for p in val_images]
    assert all(len(row["imgs"]) == 3 for row in test)  # image | mask | crop
    _check_links(page, parsed)
    scores_time = (run / "report/evaluation/scores.csv").stat().st_mtime_ns

    # again without --test: the evaluation and the test predictions are reused, the page is new
    again = build_report(run)
    parsed = Page(again.read_text())
    assert len(parsed.rows["val-row"]) == 6 and len(parsed.rows["test-row"]) == 6
    assert (run / "report/evaluation/scores.csv").stat().st_mtime_ns == scores_time
    _check_links(again, parsed)

    # new weights: evaluated again
    later = time.time() + 10  # newer than the evaluation, however old the copied run is
    os.utime(run / "model.safetensors", (later, later))
    build_report(run)
    assert (run / "report/evaluation/scores.csv").stat().st_mtime_ns != scores_time


def test_report_with_a_crf_evaluates_and_predicts_refined_masks(run_copy, tmp_path, capsys):
    from seglab.api import evaluate

    run, root = run_copy
    val_images = sorted((root / "val" / "images").glob("*.png"))
    test_dir = _copy_images(val_images[:2], tmp_path / "test", [p.name for p in val_images[:2]])
    args = ["report", str(run), "--test", str(test_dir), "--crf", "--crf-iterations", "2"]
    assert main(args) == 0
    page = Path(capsys.readouterr().out.strip())
    text = " ".join(page.read_text().split())
    assert "masks refined by a dense CRF (2 mean-field iterations)" in text
    summary = json.loads((run / "report/evaluation/summary.json").read_text())
    assert summary["crf"] == {"iterations": 2}
    refined = evaluate(run, out=None, crf=True, crf_iterations=2).summary["metrics"]["dice"]
    assert summary["metrics"]["dice"]["mean"] == pytest.approx(refined["mean"], abs=1e-6)
    assert len(Page(page.read_text()).rows["test-row"]) == 2
    # without --crf: evaluated again as the model predicts, and the CRF's test gallery is
    # not shown as if it were the model's own
    plain = build_report(run)
    assert "dense CRF" not in plain.read_text()
    assert "crf" not in json.loads((run / "report/evaluation/summary.json").read_text())
    assert Page(plain.read_text()).rows["test-row"] == []


def test_single_file_page_embeds_every_image(run_copy, tmp_path):
    run, root = run_copy
    write_fake_evaluation(run, root)
    page = build_report(run, out=tmp_path / "pages" / "one.html", single_file=True, thumb=16)
    moved = Path(shutil.move(page, tmp_path / "moved.html"))
    parsed = Page(moved.read_text())
    assert len(parsed.rows["val-row"]) == 6
    assert len(parsed.imgs) >= 6 * 4 + 3  # gallery tiles and the curves
    for link in parsed.links:
        assert link.startswith(("data:image/png;base64,", "data:image/jpeg;base64,", "#")), link
    tile = next(img["src"] for img in parsed.imgs if img["alt"].startswith("image of"))
    assert tile.startswith("data:image/jpeg;base64,")


def test_relative_links_from_another_folder_are_quoted(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run[0], tmp_path / "my run #1"))
    write_fake_evaluation(run, tiny_run[1])
    page = build_report(run, out=tmp_path / "pages" / "r.html")
    parsed = Page(page.read_text())
    tiles = [link for link in parsed.links if "thumbs" in link]
    assert tiles and all(link.startswith("../my%20run%20%231/report/") for link in tiles)
    _check_links(page, parsed)


# -- hostile names -------------------------------------------------------------------------------


def _hostile_dataset(root: Path, out: Path) -> Path:
    """A copy of the val split whose files have names with HTML, quotes, # and &."""
    for sub in ("images", "masks"):
        (out / "val" / sub).mkdir(parents=True)
        files = sorted((root / "val" / sub).glob("*.png"))[: len(HOSTILE_VAL)]
        for file, name in zip(files, HOSTILE_VAL, strict=True):
            shutil.copy(file, out / "val" / sub / f"{name}.png")
    return out


def test_hostile_file_names_are_escaped(run_copy, tmp_path):
    run, root = run_copy
    data = _hostile_dataset(root, tmp_path / "hostile data")
    images = sorted((root / "val" / "images").glob("*.png"))[: len(HOSTILE_TEST)]
    test_dir = _copy_images(images, tmp_path / "hostile test", list(HOSTILE_TEST))
    (test_dir / "broken<b>.png").write_bytes(b"not a png")
    with pytest.warns(RuntimeWarning, match="broken"):
        page = build_report(run, data=data, test=test_dir)
    text = page.read_text()
    assert "1 unreadable images skipped" in text and "broken&lt;b&gt;.png" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in text
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in text
    assert "a&#34;b&#39;c.png" in text
    for raw in ("<script>alert", "<img src=x", "a\"b'c", "alert(2)>", "<b>"):
        assert raw not in text
    parsed = Page(text)
    assert parsed.scripts == 0
    # the browser reads back exactly the names: nothing broke out of an attribute
    assert sorted(_keys(parsed.rows["test-row"])) == sorted(HOSTILE_TEST)
    assert sorted(_keys(parsed.rows["val-row"])) == sorted(HOSTILE_VAL)
    assert len(parsed.imgs) == len(HOSTILE_VAL) * 4 + len(HOSTILE_TEST) * 3 + 3
    _check_links(page, parsed)
    for tile in (run / "report" / "thumbs").rglob("*"):
        assert re.fullmatch(r"[A-Za-z0-9._-]+", tile.name), tile.name  # safe_name'd


# -- the page in a browser -----------------------------------------------------------------------


@pytest.mark.slow
def test_page_renders_in_headless_chromium(run_copy, tmp_path):
    run, root = run_copy
    write_fake_evaluation(run, root)
    screenshot(build_report(run), tmp_path, height=2400)


# -- bad run folders -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RUN_FILES))
def test_missing_run_file_is_named(tiny_run, tmp_path, name):
    run = Path(shutil.copytree(tiny_run[0], tmp_path / "run"))
    (run / name).unlink()
    with pytest.raises(DataError) as error:
        build_report(run)
    assert error.value.path == str(run / name)
    assert RUN_FILES[name] in str(error.value)
    assert not (run / "report.html").exists()


def test_not_a_run_folder(tmp_path):
    with pytest.raises(DataError, match="not a seglab run folder"):
        build_report(tmp_path)
    with pytest.raises(DataError, match="no such run folder"):
        build_report(tmp_path / "nope")


def test_run_of_another_version_says_so(run_copy):
    run, _ = run_copy
    info = json.loads((run / "model.json").read_text())
    (run / "model.json").write_text(json.dumps({**info, "format": "seglab.model/99"}))
    with pytest.raises(DataError, match="another seglab version") as error:
        build_report(run)
    assert error.value.path.endswith("model.json")


def test_moved_dataset_is_said_on_the_page(run_copy, tmp_path):
    run, root = run_copy
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["path"] = str(tmp_path / "gone")
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    text = build_report(run).read_text()
    assert "cannot be opened any more" in text and "--data PATH" in text
    assert len(Page(text).rows["val-row"]) == 0
    assert main(["report", str(run), "--data", str(tmp_path / "also gone")]) == 2
    parsed = Page(build_report(run, data=root).read_text())
    assert len(parsed.rows["val-row"]) == 6


# -- gallery pieces ------------------------------------------------------------------------------


def test_crop_and_mask_display():
    image = np.full((4, 4, 3), 200, np.uint8)
    mask = np.array([[0, 1, 2, 255]] * 4)
    cropped = crop(image, mask)
    assert (cropped[:, 0] == 0).all() and (cropped[:, 1:3] == 200).all()
    assert (cropped[:, 3] == 0).all()  # ignored pixels are not the object
    binary = mask_display(mask.clip(0, 1), 2)
    assert (binary[:, 0] == 0).all() and (binary[:, 1] == 255).all()
    colours = mask_display(mask, 3)
    assert (colours[:, 0] == 0).all()
    assert len({tuple(c) for c in colours[0]}) == 4  # background, two classes, ignore


def test_worst_first_puts_unscored_rows_last():
    from seglab.report.gallery import GalleryRow

    rows = [GalleryRow(k, [], {"dice": d}) for k, d in (("a", 0.9), ("b", math.nan), ("c", 0.1))]
    assert [r.key for r in worst_first(rows)] == ["c", "a", "b"]


def test_config_of_another_version_says_so(run_copy):
    run, _ = run_copy
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["layout"] = "v9"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DataError, match="does not fit this seglab version") as error:
        build_report(run)
    assert error.value.path == str(run / "config.yaml") and error.value.field == "data"


def test_per_class_metrics_table():
    from seglab.report.sections import metrics_table

    stats = {"mean": 0.5, "median": 0.4, "std": 0.1, "min": 0.0, "max": 1.0}
    summary = {
        "metrics": {"dice": stats, "iou": {**stats, "mean": 0.3}},
        "per_class": {
            "cat": {"dice": {**stats, "mean": 0.7}, "iou": stats},
            "dog": {"dice": stats},
        },
    }
    table = metrics_table(summary, multiclass=True)
    assert table["overall"][1] == ("iou", 0.3, 0.4, 0.1, 0.0, 1.0)
    assert table["per_class"]["metrics"] == ["dice", "iou"]
    (cat, cat_cells), (dog, dog_cells) = table["per_class"]["rows"]
    assert (cat, cat_cells[0]) == ("cat", (0.7, 0.1))
    assert dog == "dog" and math.isnan(dog_cells[1][0])
    assert metrics_table(summary, multiclass=False)["per_class"] is None  # binary: the overall
