import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from skfeat.cli import build_parser, main  # noqa: E402
from skfeat.cli._demo import SUMMARY_KEYS, run_demo  # noqa: E402


def test_demo_smoke_deterministic_and_files(tmp_path, capsys):
    summary = run_demo(tmp_path / "a", epochs=1, seed=3, verbose=False)
    assert set(summary) == {"sgd", "frozen"}
    for method in summary.values():
        assert tuple(method) == SUMMARY_KEYS
        assert method["regime"] in {"MF", "EF"}
        assert 0.0 <= method["cka_mf"] <= 1.0
        assert 0.0 <= method["quality_at_C"] <= 10.0 + 1e-6
        assert 1.0 <= method["D_lambda"]
    # Least squares on frozen random features already classifies digits.
    assert summary["frozen"]["test_accuracy"] > 0.8
    # The command line, same seed: identical summary.json.
    out = tmp_path / "b"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    # Every row of the table is in summary.json, and the other way round.
    table = [line.split()[0] for line in printed.splitlines() if line[:1].isalpha()]
    assert set(SUMMARY_KEYS) <= set(table)
    assert "epoch   1/1" in printed  # one progress line per epoch
    assert "total time" in printed
    first = json.loads((out / "summary.json").read_text())
    assert first == json.loads(json.dumps(summary))
    for name in ("spectrum", "quality", "utility", "training"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert (out / "history.csv").exists()
    # demo -> report in two commands: the run files are read as they are.
    for method in ("sgd", "frozen"):
        run = out / f"run-{method}.npz"
        assert main(["report", str(run), "--out", str(tmp_path / method)]) == 0
        text = (tmp_path / method / "report.md").read_text()
        assert "| Phi |" in text


def test_demo_checks_its_arguments_before_training(tmp_path, capsys):
    args = build_parser().parse_args(["demo"])
    assert (args.out, args.epochs, args.seed) == ("skfeat-demo", 20, 0)
    assert main(["demo", "--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("skfeat demo: error:") for line in err)
    assert "not a folder" in err[1]


def test_demo_process_fails_in_one_line_without_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "skfeat", "demo", "--out", str(blocker)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_demo_reproduces_the_papers_comparison(tmp_path):
    # The main job's claim, at its default length (about 10 s on one thread):
    # SGD reaches the MF regime with fewer effective features than the frozen
    # network, which stays EF (Nam et al. 2024, Figure 3).
    summary = run_demo(tmp_path, verbose=False)
    sgd, frozen = summary["sgd"], summary["frozen"]
    assert (sgd["regime"], frozen["regime"]) == ("MF", "EF")
    assert sgd["cka_mf"] < 0.1 < frozen["cka_mf"]
    for key in ("D_lambda", "D_q", "D_u"):
        assert sgd[key] < frozen[key], key
    assert sgd["quality_at_C"] > frozen["quality_at_C"]
    # float32 features keep what float64 measures (issue: the rank rule): the
    # frozen network's 209 numerically nonzero eigenvalues, to within 2 %.
    assert frozen["rank"] >= 200
