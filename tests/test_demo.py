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
