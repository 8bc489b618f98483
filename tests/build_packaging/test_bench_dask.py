"""The benchmark command's Dask section (python -m csoftmax.bench --dask): it starts its own
cluster, checks the results and prints the table."""
import pytest

pytest.importorskip("dask.array")


# with the dashboard off a scheduler still serves /health on port 8787, so the command's own
# cluster, started while another runs (stats_dask/test_dask.py's), moves to another port and says so
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_benchmark_command(capsys):
    """python -m csoftmax.bench --dask on a tiny shape: its own cluster, the check, the table"""
    from csoftmax.bench import cli
    assert cli.main(["--dask", "--quick", "--shapes", "64x400", "-q", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "results checked: True" in out and "| cross_entropy (loss + grad) |" in out
