"""Tests of run files (save_run / load_run) and the ``skfeat report`` command."""

import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from _naive import cka_mf as naive_cka_mf
from _naive import cumulative_projection as naive_cumulative

from skfeat import load_run, save_run, write_report
from skfeat.cli import main
from skfeat.inspection import RunFileError


def _arrays(n=60, m=40, p=6, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y_train = rng.integers(0, n_classes, size=n)
    y_test = rng.integers(0, n_classes, size=m)
    W = rng.normal(size=(n_classes, p))
    Phi_train = np.eye(n_classes)[y_train] @ W + 0.3 * rng.normal(size=(n, p))
    Phi_test = np.eye(n_classes)[y_test] @ W + 0.3 * rng.normal(size=(m, p))
    outputs_test = Phi_test @ rng.normal(size=(p, n_classes))
    return Phi_train, Phi_test, y_train, y_test, outputs_test


def test_save_and_load_round_trip(tmp_path):
    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    hidden = (Phi_train[:, :4] ** 2, Phi_test[:, :4] ** 2)
    path = save_run(
        tmp_path / "run",
        Phi_train,
        Phi_test,
        y_train,
        y_test,
        outputs_test=outputs,
        layers={"hidden": hidden},
    )
    assert path.endswith("run.npz")
    run = load_run(path)
    np.testing.assert_array_equal(run["Phi_train"], Phi_train)
    np.testing.assert_array_equal(run["y_test"], y_test)
    np.testing.assert_array_equal(run["outputs_test"], outputs)
    assert list(run["layers"]) == ["hidden"]
    np.testing.assert_array_equal(run["layers"]["hidden"][1], hidden[1])
    # The layer keys are stored as written in the format.
    with np.load(path) as data:
        assert "layer/hidden/Phi_test" in data.files


def test_save_run_accepts_torch_and_lists(tmp_path):
    torch = pytest.importorskip("torch")
    Phi_train, Phi_test, y_train, y_test, _ = _arrays()
    path = save_run(
        tmp_path / "t.npz",
        torch.from_numpy(Phi_train),
        Phi_test.tolist(),
        y_train,
        list(y_test),
    )
    run = load_run(path)
    np.testing.assert_allclose(run["Phi_train"], Phi_train)
    np.testing.assert_allclose(run["Phi_test"], Phi_test)


def test_save_run_checks_like_load_run(tmp_path):
    Phi_train, Phi_test, y_train, y_test, _ = _arrays()
    with pytest.raises(RunFileError, match="y_test has 39 entries"):
        save_run(tmp_path / "bad", Phi_train, Phi_test, y_train, y_test[:-1])
    with pytest.raises(TypeError, match="pair"):
        save_run(
            tmp_path / "bad", Phi_train, Phi_test, y_train, y_test, layers={"a": 1}
        )
    assert not os.path.exists(tmp_path / "bad.npz")


def _write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _good():
    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    return {
        "Phi_train": Phi_train,
        "Phi_test": Phi_test,
        "y_train": y_train,
        "y_test": y_test,
        "outputs_test": outputs,
    }


def _bad_runs():
    good = _good()
    yield "missing", {k: v for k, v in good.items() if k != "y_train"}, "missing key"
    yield (
        "object",
        {**good, "y_test": np.array([{"a": 1}] * 40, dtype=object)},
        "Python objects",
    )
    yield "features", {**good, "Phi_test": good["Phi_test"][:, :5]}, "6 features"
    yield "rows", {**good, "y_train": good["y_train"][:10]}, "y_train has 10 entries"
    yield (
        "outputs",
        {**good, "outputs_test": good["outputs_test"][:5]},
        "outputs_test has 5 rows",
    )
    nan = good["Phi_train"].copy()
    nan[0, 0] = np.nan
    yield "nan", {**good, "Phi_train": nan}, "NaN"
    yield "1d", {**good, "Phi_train": good["Phi_train"][:, 0]}, "must be 2-D"
    yield "typo", {**good, "phi_extra": good["Phi_train"]}, "unexpected key 'phi_extra'"
    yield (
        "half-layer",
        {**good, "layer/h/Phi_train": good["Phi_train"]},
        "missing key layer/h/Phi_test",
    )
    yield (
        "layer-rows",
        {
            **good,
            "layer/h/Phi_train": good["Phi_train"][:5],
            "layer/h/Phi_test": good["Phi_test"],
        },
        "layer/h/Phi_train has 5 rows",
    )
    yield "strings", {**good, "Phi_train": good["Phi_train"].astype(str)}, "numeric"


@pytest.mark.parametrize(
    "arrays, message",
    [case[1:] for case in _bad_runs()],
    ids=[c[0] for c in _bad_runs()],
)
def test_load_run_rejects_bad_files_with_one_message(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(RunFileError, match=message) as info:
        load_run(path)
    assert "\n" not in str(info.value)


def test_load_run_rejects_non_npz_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a zip file")
    with pytest.raises(RunFileError, match="not an .npz run file"):
        load_run(text)
    single = tmp_path / "one.npy"
    np.save(single, np.ones(3))
    with pytest.raises(RunFileError, match="not an .npz run file"):
        load_run(single)
    with pytest.raises(RunFileError, match="no such file"):
        load_run(tmp_path / "absent.npz")


def test_load_run_truncated_corrupted_and_foreign_members(tmp_path):
    """Regression: BadZipFile, zlib.error and non-.npy members leaked through."""
    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    path = save_run(tmp_path / "run", Phi_train, Phi_test, y_train, y_test)
    data = open(path, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(
        compressed,
        Phi_train=Phi_train,
        Phi_test=Phi_test,
        y_train=y_train,
        y_test=y_test,
    )
    raw = bytearray(compressed.read_bytes())
    start = raw.find(b"Phi_test.npy") + 40
    raw[start : start + 64] = bytes(64)  # the deflate stream of one member
    corrupted = tmp_path / "corrupted.npz"
    corrupted.write_bytes(bytes(raw))
    foreign = tmp_path / "foreign.npz"
    with zipfile.ZipFile(foreign, "w") as archive:
        for key, value in (("Phi_train", Phi_train), ("Phi_test", Phi_test),
                           ("y_train", y_train), ("y_test", y_test)):  # fmt: skip
            buffer = io.BytesIO()
            np.save(buffer, value)
            archive.writestr(f"{key}.npy", buffer.getvalue())
        archive.writestr("notes.txt", "hello")
    for bad in (truncated, corrupted, foreign):
        with pytest.raises(RunFileError) as info:
            load_run(bad)
        assert "\n" not in str(info.value) and str(bad) in str(info.value)
    with pytest.raises(RunFileError, match="not a .npy array"):
        load_run(foreign)


def test_cli_report_on_a_non_npz_file_says_so_in_one_line(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert main(["report", str(text), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an .npz run file" in err[0]


@pytest.mark.parametrize("case", ["missing", "object", "rows", "typo", "nan"])
def test_cli_exits_nonzero_with_one_line(tmp_path, capsys, case):
    arrays, message = {c[0]: c[1:] for c in _bad_runs()}[case]
    path = _write(tmp_path / "bad.npz", **arrays)
    assert main(["report", path, "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("skfeat report: error: ")
    assert message.split("'")[0] in lines[0]
    assert not os.path.exists(tmp_path / "o" / "report.md")


def test_cli_process_prints_no_traceback(tmp_path):
    arrays, _ = {c[0]: c[1:] for c in _bad_runs()}["object"]
    path = _write(tmp_path / "bad.npz", **arrays)
    result = subprocess.run(
        [sys.executable, "-m", "skfeat", "report", path, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "holds Python objects" in result.stderr


def test_cli_help_documents_the_format(capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for key in ("Phi_train", "Phi_test", "y_train", "y_test", "outputs_test"):
        assert key in out
    assert "layer/NAME/Phi_train" in out
    assert "allow_pickle=False" in out


def test_report_writes_markdown_and_plots(tmp_path):
    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    path = save_run(
        tmp_path / "run",
        Phi_train,
        Phi_test,
        y_train,
        y_test,
        outputs_test=outputs,
        layers={"relu": (np.maximum(Phi_train, 0), np.maximum(Phi_test, 0))},
    )
    assert main(["report", path, "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == [
        "layers.png",
        "projection.png",
        "report.md",
        "spectrum.png",
    ]
    text = (out / "report.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| layer"))
    assert header.split("|")[3:-1] == [
        " rank ",
        " D_λ ",
        " Q(C) ",
        " D_q ",
        " U(C) ",
        " D_u ",
        " CKA-MF ",
        " regime ",
        " compression ",
        " NC1 ",
        " TL ",
    ]
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    # The extra layer first (input side), the main feature map last.
    assert [row.split("|")[1].strip() for row in rows] == ["relu", "Phi"]
    rows = rows[1:]
    # D_lambda in the table equals an independent computation.
    s = np.linalg.svd(Phi_train, compute_uv=False) ** 2
    pi = s[1:] / s[1:].sum()
    d_lambda = 1 + np.exp(-np.sum(pi * np.log(pi)))
    assert rows[0].split("|")[4].strip() == f"{d_lambda:.3g}"
    # Q(C), U(C) and CKA-MF equal naive dense computations on the test sample.
    _, s_train, Vt = np.linalg.svd(Phi_train, full_matrices=False)
    E = Phi_test @ Vt.T / (s_train / np.sqrt(len(Phi_train)))
    cells = [cell.strip() for cell in rows[0].split("|")[1:-1]]
    quality = naive_cumulative(E, np.eye(3)[y_test])[2]
    utility = naive_cumulative(E, outputs)[2]
    cka = naive_cka_mf(Phi_test, outputs)
    assert cells[4] == f"{quality:.3g}"
    assert cells[6] == f"{utility:.3g}"
    assert cells[8] == f"{cka:.3g}"
    assert cells[9] == ("MF" if cka <= 0.1 else "EF")
    for image in ("spectrum.png", "projection.png", "layers.png"):
        assert f"]({image})" in text
        assert (out / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## What the numbers mean" in text


def test_report_without_outputs_leaves_utility_out(tmp_path):
    Phi_train, Phi_test, y_train, y_test, _ = _arrays()
    report = write_report(
        {
            "Phi_train": Phi_train,
            "Phi_test": Phi_test,
            "y_train": y_train,
            "y_test": y_test,
            "outputs_test": None,
            "layers": {},
        },
        tmp_path,
    )
    text = open(report, encoding="utf-8").read()
    assert "U(C)" not in text.split("## What")[0]
    assert "need `outputs_test`" in text


def test_report_with_regression_targets(tmp_path):
    rng = np.random.default_rng(2)
    Phi_train = rng.normal(size=(50, 4))
    Phi_test = rng.normal(size=(30, 4))
    y_train = Phi_train @ [1.0, -2.0, 0.0, 0.5]
    y_test = Phi_test @ [1.0, -2.0, 0.0, 0.5]
    path = save_run(tmp_path / "reg", Phi_train, Phi_test, y_train, y_test)
    text = open(write_report(path, tmp_path / "out"), encoding="utf-8").read()
    # One real-valued target: C = t = 1, read at t + 1 = 2 eigenfunctions (the
    # report says so); Q(2) equals a naive computation.
    assert "C = t = 1 target column, Q(C) and U(C) read at t + 1 = 2" in text
    _, s, Vt = np.linalg.svd(Phi_train, full_matrices=False)
    E = Phi_test @ Vt.T / (s / np.sqrt(50))
    row = next(line for line in text.splitlines() if line.startswith("| Phi"))
    quality_at_2 = naive_cumulative(E, y_test[:, None])[1]
    assert row.split("|")[5].strip() == f"{quality_at_2:.3g}"
    # Target linearity of the real targets (exactly linear here), no NC1.
    assert " TL |" in text and "| NC1 |" not in text


def test_n_components_option_limits_the_held_out_measures(tmp_path):
    from skfeat import FeatureSpectrum
    from skfeat.inspection import feature_record

    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    path = save_run(
        tmp_path / "run", Phi_train, Phi_test, y_train, y_test, outputs_test=outputs
    )
    assert (
        main(["report", path, "--out", str(tmp_path / "o"), "--n-components", "2"]) == 0
    )
    text = (tmp_path / "o" / "report.md").read_text()
    cut = feature_record(
        Phi_train, Phi_test, y_test, outputs, spectrum=FeatureSpectrum(2)
    )
    full = feature_record(Phi_train, Phi_test, y_test, outputs)
    assert cut["D_q"] != pytest.approx(full["D_q"])
    assert f"{cut['D_q']:.3g}" in text
    with pytest.raises(SystemExit):
        main(["report", path, "--n-components", "0"])


def test_solver_and_random_state_options_reach_the_spectrum(tmp_path):
    from skfeat import FeatureSpectrum
    from skfeat.inspection import feature_record

    Phi_train, Phi_test, y_train, y_test, outputs = _arrays()
    path = save_run(
        tmp_path / "run", Phi_train, Phi_test, y_train, y_test, outputs_test=outputs
    )
    args = ["--n-components", "3", "--solver", "randomized", "--random-state", "0"]
    assert main(["report", path, "--out", str(tmp_path / "o"), *args]) == 0
    text = (tmp_path / "o" / "report.md").read_text()
    spectrum = FeatureSpectrum(3, solver="randomized", random_state=0)
    record = feature_record(Phi_train, Phi_test, y_test, outputs, spectrum=spectrum)
    assert f"{record['D_q']:.3g}" in text
    # The solver reaches the spectrum: randomized needs a number of eigenpairs.
    assert (
        main(["report", path, "--out", str(tmp_path / "x"), "--solver", "randomized"])
        == 2
    )
    with pytest.raises(SystemExit):
        main(["report", path, "--solver", "lanczos"])
