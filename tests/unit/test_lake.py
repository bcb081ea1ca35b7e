from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from bangfu.lake import Lake


def test_write_is_atomic_and_private(tmp_path):
    lake = Lake(tmp_path / "lake")
    frame = pl.DataFrame({"a": [1, 2, 3]})
    path = lake.write("payments", 2019, "330102", frame)
    assert path == tmp_path / "lake" / "payments" / "year=2019" / "unit=330102" / "data.parquet"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # no temporary file is left next to it
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]
    lake.write("payments", 2019, "330103", pl.DataFrame({"a": [4]}))
    assert lake.read("payments", years=[2019])["a"].to_list() == [1, 2, 3, 4]
    assert lake.read("payments", units=["330103"])["a"].to_list() == [4]
    assert lake.read("payments", years=[2018], schema={"a": pl.Int64}).schema == {"a": pl.Int64}


def test_read_of_many_partitions_whatever_their_columns(tmp_path):
    """Partitions of one schema are read in one scan; partitions whose columns or types
    differ still come back concatenated, missing columns as nulls, types widened."""
    lake = Lake(tmp_path / "lake")
    for u, a in (("330101", [1, 2]), ("330102", [3])):
        lake.write("same", 2019, u, pl.DataFrame({"a": a, "b": ["x"] * len(a)}))
    assert lake.read("same").to_dict(as_series=False) == {"a": [1, 2, 3], "b": ["x", "x", "x"]}
    assert lake.read("same", units=["330102", "330101"])["a"].to_list() == [1, 2, 3]

    lake.write("mixed", 2019, "330101", pl.DataFrame({"a": [1]}))
    lake.write("mixed", 2019, "330102", pl.DataFrame({"a": [2.5], "c": ["new"]}))
    lake.write("mixed", 2019, "330103", pl.DataFrame({"c": ["only c"]}))
    got = lake.read("mixed")
    assert got.schema == {"a": pl.Float64, "c": pl.String}
    assert got.to_dict(as_series=False) == {"a": [1.0, 2.5, None], "c": [None, "new", "only c"]}


def test_rewrite_is_byte_equal(tmp_path):
    lake = Lake(tmp_path)
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    p = lake.write("archive", 2019, "330102", frame)
    first = p.read_bytes()
    lake.write("archive", 2019, "330102", frame)
    assert p.read_bytes() == first


def test_remove_partition(tmp_path):
    lake = Lake(tmp_path)
    lake.write("archive", 2019, "330102", pl.DataFrame({"a": [1]}))
    lake.remove("archive", 2019, "330102")
    assert not lake.has("archive", 2019, "330102")
    assert lake.read("archive").is_empty()


def test_second_run_on_the_same_data_folder_waits(tmp_path):
    import threading
    import time

    from pipelines.home import data_lock

    order: list[str] = []
    said: list[str] = []

    def second():
        with data_lock(tmp_path, said.append):
            order.append("second")

    with data_lock(tmp_path, said.append):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]
    assert len(said) == 1 and "等待" in said[0]


def test_a_zombie_writer_counts_as_dead(tmp_path):
    """A killed run's workers can linger as zombies until init reaps them: their temp files are
    stale all the same, while a live process's are not."""
    import subprocess
    import sys
    import time

    from bangfu.lake import pid_alive

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = f"/proc/{dead.pid}/stat"
        deadline = time.monotonic() + 20
        while Path(stat).read_text().rpartition(")")[2].split()[0] != "Z":  # exited, unreaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert pid_alive(live.pid)
        assert not pid_alive(dead.pid)
    finally:
        live.kill()
        live.wait()
        dead.wait()
    assert not pid_alive(dead.pid)


def test_partition_dirs_limit_a_partial_runs_sweep_to_its_partitions(tmp_path):
    """A partial run sweeps only the partitions asked for; a full run (no scope) the lake."""
    from bangfu.lake import sweep_stale_temp

    lake = Lake(tmp_path / "lake")
    stale_files = {}
    for dataset in ("archive", "payments"):
        for year in (2018, 2019):
            for unit in ("330102", "330103"):
                folder = lake.path(dataset, year, unit).parent
                folder.mkdir(parents=True)
                stale = folder / ".data.parquet.otherhost.1.x.tmp"
                stale.write_bytes(b"x")
                os.utime(stale, (0, 0))  # old: stale whoever wrote it
                stale_files[dataset, year, unit] = stale

    scoped = lake.partition_dirs([2019], ["330103", "999999"])
    assert sorted(scoped) == [lake.path(d, 2019, "330103").parent for d in ("archive", "payments")]
    assert sorted(lake.partition_dirs([2018])) == [
        lake.root / d / "year=2018" for d in ("archive", "payments")
    ]
    assert lake.partition_dirs() == [lake.root]
    assert Lake(tmp_path / "absent").partition_dirs([2019], ["330103"]) == []

    removed = sweep_stale_temp(scoped)
    assert sorted(removed) == sorted(
        stale_files[d, 2019, "330103"] for d in ("archive", "payments")
    )
    assert sum(p.exists() for p in stale_files.values()) == 6
    sweep_stale_temp(lake.partition_dirs())
    assert not any(p.exists() for p in stale_files.values())


def test_present_units_follow_every_rewrite_of_the_status_files(tmp_path):
    """The year's ingest status is kept between reads (the later stages ask for it several
    times per run), yet a status file rewritten, added or removed shows at the next read."""
    from bangfu.frames import INGEST_STATUS_SCHEMA
    from bangfu.stages.reading import present_units

    lake = Lake(tmp_path / "lake")

    def status(unit: str, value: str) -> None:
        row = {"year": [2019], "unit_code": [unit], "status": [value]}
        row |= {"source_file": [f"{unit}.xlsx"], "message": [None]}
        lake.write("ingest_status", 2019, unit, pl.DataFrame(row, schema=INGEST_STATUS_SCHEMA))

    status("330101", "ok")
    status("330102", "ok")
    assert present_units(lake, 2019) == ["330101", "330102"]
    assert present_units(lake, 2019) == ["330101", "330102"]  # kept: same files
    status("330102", "rejected")  # same size, rewritten at once
    assert present_units(lake, 2019) == ["330101"]
    status("330103", "ok")
    assert present_units(lake, 2019) == ["330101", "330103"]
    lake.path("ingest_status", 2019, "330101").unlink()
    assert present_units(lake, 2019) == ["330103"]
    assert present_units(lake, 2019, ["330101", "330102"]) == []
    assert present_units(Lake(tmp_path / "other"), 2019) == []
