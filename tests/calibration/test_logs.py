"""Reading request logs: the plain CSV, the seed's queueing logs and microbenchmarks."""

from __future__ import annotations

import numpy as np
import pytest

from optplace.calibration.logs import (
    PLAIN_COLUMNS,
    LogFormatError,
    detect_format,
    read_log,
    simulated_rows,
    write_plain,
)
from optplace.validation import DATA_DIR, default_queueing_logs

IBIS_HEADER = "model,service_rate,input_rate,rho,vary_rho,expected_time_md1,expected_time_mm1,start_time,end_time,tpu_submit_time,tpu_end_time\n"


def _ibis_row(model: str, start: float, submit: float, end: float, level: float = 0.1, rate: float = 2.0) -> str:
    return f"{model},10,{rate},0.1,{level},1,1,{start},{end},{submit},{end}\n"


def test_ibis_queueing_device_timeline(tmp_path):
    """Service, queue and hand-off are read off the device timeline in completion order."""
    path = tmp_path / "queuing_tpu_toy.csv"
    path.write_text(
        IBIS_HEADER
        + _ibis_row("a", 0.000, 0.001, 0.011)  # idle device: hand-off 1 ms, service 10 ms
        + _ibis_row("b", 0.005, 0.006, 0.031)  # arrives while a is served: queues until 11 ms, service 20 ms
        + _ibis_row("a", 0.100, 0.1005, 0.1105)  # idle again
    )
    assert detect_format(path) == "ibis-queueing"
    log = read_log(path, accelerator_type="tpu")
    np.testing.assert_allclose(log.service_ms, [10.0, 20.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(log.queue_ms, [0.0, 6.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(log.latency_ms, [11.0, 26.0, 10.5], atol=1e-9)
    np.testing.assert_allclose(log.latency_ms - log.queue_ms - log.service_ms, [1.0, 0.0, 0.5], atol=1e-9)
    assert log.accelerator_type.tolist() == ["tpu"] * 3
    assert log.load_point.tolist() == ["vary_rho=0.1"] * 3
    assert log.nominal_rate_rps.tolist() == [2.0] * 3


def test_ibis_queueing_rejects_times_out_of_order(tmp_path):
    """A row whose submission precedes its start names its line."""
    path = tmp_path / "queuing_tpu_bad.csv"
    path.write_text(IBIS_HEADER + _ibis_row("a", 0.0, 0.001, 0.011) + _ibis_row("a", 0.2, 0.1, 0.3))
    with pytest.raises(LogFormatError, match=r":3: times out of order"):
        read_log(path)


def test_released_logs_parse():
    """Every released ibis file reads, with one request per data row."""
    for path in default_queueing_logs():
        log = read_log(path)
        assert len(log) == sum(1 for _ in path.open()) - 1
        assert np.all(log.service_ms > 0) and np.all(log.queue_ms >= 0)
    bench = read_log(DATA_DIR / "edgetpu_fcfs_validation.csv")
    assert bench.format == "ibis-microbenchmark" and len(bench) == 500  # Sequential rows only
    assert set(bench.load_point.tolist()) == {"isolated"}


def test_plain_log_round_trip(tmp_path):
    """A plain log with every column reads back what was written."""
    path = tmp_path / "plain.csv"
    write_plain(
        path,
        [
            ["1.0", "m", "dev1", "12.5", "gpu", "2.0", "10.0", "900", "run1", "cam"],
            ["1.5", "m", "dev1", "10.0", "", "", "", "", "run1", "cam"],
        ],
    )
    log = read_log(path)
    assert log.format == "plain"
    assert log.arrival_ms.tolist() == [1000.0, 1500.0]
    assert log.accelerator_type.tolist() == ["gpu", "coral-edgetpu"]  # empty cell: the default type
    assert log.service_ms[0] == 10.0 and np.isnan(log.service_ms[1])
    assert log.memory_mb[0] == 900.0 and np.isnan(log.memory_mb[1])


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("timestamp_s,model,accelerator,latency_ms,service_time", "1,m,d,5,3", "unknown column"),
        ("timestamp_s,model,accelerator,latency_ms,queue_ms", "1,m,d,5,3", "both queue_ms and service_ms"),
        ("timestamp_s,model,accelerator,latency_ms", "1,m,d,fast", ":2: column latency_ms must be a number"),
        ("timestamp_s,model,accelerator,latency_ms", "1,m,d,-1", "must be >= 0"),
        ("timestamp_s,model,accelerator,latency_ms", "1,,d,5", "column model is empty"),
        ("timestamp_s,model,accelerator,latency_ms,queue_ms,service_ms", "1,m,d,5,3,4", "exceeds latency_ms"),
        ("timestamp_s,model,accelerator,latency_ms", "1,m,d,nan", "finite"),
        ("time,model,latency", "1,m,5", "unknown log format"),
    ],
)
def test_plain_log_errors_name_the_fix(tmp_path, header, row, message):
    """Malformed logs fail with a message naming the line, the column and what to do."""
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n{row}\n")
    with pytest.raises(LogFormatError, match=message):
        read_log(path)


def test_empty_log_is_an_error(tmp_path):
    """A log with a header and no request is an error."""
    path = tmp_path / "empty.csv"
    path.write_text(",".join(PLAIN_COLUMNS) + "\n")
    with pytest.raises(LogFormatError, match="no requests"):
        read_log(path)


def test_simulated_rows_decompose_the_response_time(tmp_path):
    """The simulator's rows satisfy latency = outside + queue + service with the network delay outside."""
    from tests.calibration.conftest import NETWORK_MS, edgetpu_instance, simulated_log

    log = read_log(simulated_log(tmp_path, edgetpu_instance(), requests=300, seed=2))
    np.testing.assert_allclose(log.latency_ms - log.queue_ms - log.service_ms, NETWORK_MS, atol=1e-6)
    assert simulated_rows([]) == []
