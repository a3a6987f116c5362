from tasder_plugin.demo import demo_rows, format_table, main, pruned


def test_demo_shows_exact_series_and_sparse_capture():
    rows = {(r["tensor"], r["series"]): r for r in demo_rows(rows=32, cols=128)}
    dense, sparse = "32x128 0% sparse", "32x128 95% sparse"
    assert rows[(dense, "2:4+2:4")]["relative_error"] == 0.0
    assert rows[(dense, "2:4")]["kept_energy"] < rows[(dense, "2:4+1:8")]["kept_energy"] < 1
    # a 95%-sparse tensor loses far less to one 2:4 term than a dense one
    assert rows[(sparse, "2:4")]["kept_energy"] > rows[(dense, "2:4")]["kept_energy"] + 0.1
    assert "kept_energy" in format_table(list(rows.values()))


def test_pruning_reaches_the_requested_sparsity():
    import torch

    w = torch.randn(64, 64)
    assert abs((pruned(w, 0.8) == 0).float().mean().item() - 0.8) < 1e-3


def test_main_prints_the_table(capsys):
    main(["--seed", "1"])
    out = capsys.readouterr().out
    assert "2:4+1:8" in out and "95% sparse" in out
