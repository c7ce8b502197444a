"""``seglab data convert --to rle-csv --out FILE.csv``: one CSV file for a dataset with one
labelled split; with several, a clear error that --out must be a folder, and nothing written."""

from __future__ import annotations

from seglab.cli import main
from tests.data.convert.test_convert import make_coco_dataset, make_split_dataset


def test_rle_csv_to_a_csv_file_or_a_clear_error(tmp_path, capsys):
    one = make_split_dataset(tmp_path / "one")  # train (COCO) + test (images only)
    out = tmp_path / "train.csv"
    assert main(["data", "convert", str(one), "--to", "rle-csv", "--out", str(out)]) == 0
    assert out.is_file() and out.read_text().startswith("img_id,class,rle_mask\n")
    assert main(["data", "convert", str(one), "--to", "rle-csv", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err

    for split in ("train", "val"):
        make_coco_dataset(tmp_path / "two" / split)
    out = tmp_path / "masks.csv"
    assert main(["data", "convert", str(tmp_path / "two"), "--to", "rle-csv",
                 "--out", str(out)]) == 2  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())  # unwrapped
    assert "--out must be a folder" in err and "(train, val)" in err
    assert not out.exists()
    folder = tmp_path / "csv"
    assert main(["data", "convert", str(tmp_path / "two"), "--to", "rle-csv",
                 "--out", str(folder)]) == 0  # fmt: skip
    assert sorted(p.name for p in folder.iterdir()) == ["train.csv", "val.csv"]


def test_convert_help_says_what_out_is(capsys):
    assert main(["data", "convert", "--help"]) == 0
    assert ".csv file" in " ".join(capsys.readouterr().out.split())
