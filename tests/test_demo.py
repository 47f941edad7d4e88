import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from skfeat._demo import SUMMARY_KEYS, run_demo  # noqa: E402
from skfeat.cli import build_parser, main  # noqa: E402


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
    assert (
        main(["demo", "--out", str(tmp_path / "b"), "--epochs", "1", "--seed", "3"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "cka_mf" in printed and "regime" in printed
    first = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert first == json.loads(json.dumps(summary))
    for name in ("spectrum", "quality", "utility", "training"):
        assert (tmp_path / "b" / f"{name}.png").stat().st_size > 1000
    assert (tmp_path / "b" / "history.csv").exists()


def test_demo_cli_options():
    args = build_parser().parse_args(["demo"])
    assert (args.out, args.epochs, args.seed) == ("skfeat-demo", 20, 0)
    with pytest.raises(SystemExit):
        main(["demo", "--epochs", "0"])


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
