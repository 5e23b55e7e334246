"""Faults on disk, done for real: truncated and altered files of each kind, full disks (a tmpfs that fills
up), and SIGKILL / SIGTERM in the middle of each kind of write (BENCH_FAULT, see bench.files). Each case:
one line that names the file, what happens next, nothing damaged trusted, and the same command recovers
to the bytes of an undisturbed run."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, bench_cli

from bench import config, records
from bench.files import damage, save_checked, sha256
from bench.runs.execute import Runtime, execute

pytestmark = pytest.mark.xdist_group("faults")  # one worker trains the module's reference run once

EXE = str(Path(sys.executable).with_name("bench"))


def flip(path: Path, offset: int = -200, count: int = 2) -> None:
    """Invert `count` bytes of a file in place (its size and its format's framing mostly unchanged)."""
    data = bytearray(Path(path).read_bytes())
    start = offset % len(data)
    for i in range(start, min(start + count, len(data))):
        data[i] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])


def temporaries(folder: Path) -> list[Path]:
    return sorted(Path(folder).rglob(".*.tmp"))


def bench_process(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")  # once on the module's one worker (xdist_group), whatever the order
def reference(tmp_path_factory):
    """An undisturbed TINY run: the bytes every recovery must end with."""
    cfg = config.build(overrides=TINY)
    return execute(cfg, Runtime(tmp_path_factory.mktemp("reference"), "cpu", False), say=lambda line: None).run_dir


def finished_copy(reference: Path, tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    shutil.copytree(reference, runs / reference.name)
    return runs / reference.name


# ------------------------------------------------------------------ finished runs: the leaderboard and `bench run`
DAMAGES = {
    "truncated metrics.json": ("metrics.json", truncate, "not valid JSON"),
    "two bad bytes in record.json": ("record.json", lambda p: flip(p, 5), "not valid JSON"),
    "truncated config.json": ("config.json", truncate, "not valid JSON"),
    "metrics.json emptied to {}": ("metrics.json", lambda p: p.write_text("{}"), "lacks val, history"),
}


def test_the_leaderboard_skips_each_damaged_run_names_it_and_counts(fixture_runs, tmp_path):
    folders = sorted(p for p in fixture_runs.iterdir() if (p / "done").exists())
    for folder, (name, damage_it, _) in zip(folders, DAMAGES.values()):
        damage_it(folder / name)
    stray = fixture_runs / "0000000000000000"
    stray.mkdir()
    (stray / "done").write_text("")
    result = bench_cli("leaderboard", "--runs-dir", str(fixture_runs), "--out", str(tmp_path / "lb.md"),
                       "--no-plots")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    for folder, (name, _, problem) in zip(folders, DAMAGES.values()):
        assert any(f"{folder} is damaged ({name}: {problem}" in line and "--force" in line for line in lines), lines
    assert any(f"{stray} is damaged (config.json: missing)" in line for line in lines)
    assert f"5 damaged run folder(s) skipped (named above); {len(folders) - 4} runs read" in lines[-1]
    assert (tmp_path / "lb.md").exists()


def test_a_digest_in_done_catches_a_change_that_still_parses(fixture_runs):
    from bench.report.runs_frame import load_runs

    folder = sorted(p for p in fixture_runs.iterdir() if (p / "done").exists())[0]
    records.finish(folder)  # the marker a run writes now: every file's SHA-256
    metrics = folder / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"val"', '"val" ', 1))  # valid JSON, other bytes
    said = []
    frame = load_runs(fixture_runs, warn=said.append)
    assert folder.name not in set(frame["run"])
    assert "metrics.json: its bytes do not match the SHA-256 recorded in done" in said[0]


@pytest.mark.slow  # trains the reference run
@pytest.mark.parametrize("kind", list(DAMAGES))
def test_bench_run_refuses_its_damaged_finished_run_and_force_redoes_it(reference, tmp_path, kind):
    folder = finished_copy(reference, tmp_path)
    name, damage_it, _ = DAMAGES[kind]
    damage_it(folder / name)
    args = ("run", "--runs-dir", str(folder.parent), *TINY)
    refused = bench_cli(*args)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and f"{folder} is damaged ({name}:" in line and "--force" in line
    redone = bench_cli(*args, "--force")
    assert redone.returncode == 0, redone.stderr
    assert (folder / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()
    assert records.verify(folder)["metrics"] == json.loads((reference / "metrics.json").read_text())


@pytest.mark.slow  # trains the reference run
def test_a_finished_run_records_every_files_digest(reference):
    listed = records.digests(reference)
    assert set(listed) == {p.name for p in reference.iterdir() if p.name != "done"}
    assert all(sha256(reference / name) == digest for name, digest in listed.items())


# ------------------------------------------------------------------ checked files: caches, chunks, checkpoints
def test_a_checked_file_survives_a_kill_at_any_point_of_its_write(tmp_path):
    """save_checked's order of writes: whichever file is in place matches a listed digest."""
    path = tmp_path / "state.bin"
    save_checked(path, lambda tmp: tmp.write_bytes(b"epoch 1"))
    assert damage(path) is None
    listing = path.with_name("state.bin.sha256")
    both = json.dumps(sorted([sha256(path), __import__("hashlib").sha256(b"epoch 2").hexdigest()]))
    listing.write_text(both)  # killed after listing both digests, before the rename: the old file still matches
    assert damage(path) is None
    path.write_bytes(b"epoch 2")  # ... or after the rename: the new one matches
    assert damage(path) is None
    flip(path, 0, 1)
    assert damage(path) == "its bytes do not match its checksum"


def test_a_damaged_dataset_cache_is_said_and_rendered_again(tmp_path, monkeypatch, capsys):
    from bench.datasets.synthetic_cells import SyntheticCells

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    options = SyntheticCells.Options(n_images=40, resolution=32)
    first = SyntheticCells(options).load()
    cached = next((tmp_path / "cache").rglob("images.npy"))
    flip(cached, -100)
    capsys.readouterr()
    again = SyntheticCells(options).load()
    err = capsys.readouterr().err
    assert f"dataset cache {cached.parent} is damaged (images.npy: its bytes do not match its checksum)" in err
    assert again.fingerprint == first.fingerprint and damage(cached) is None


def test_a_damaged_generator_checkpoint_is_said_and_training_starts_again_to_the_same_weights(tmp_path, capsys):
    from bench.datasets.synthetic_cells import SyntheticCells
    from generators.edm import EDM

    data = SyntheticCells(SyntheticCells.Options(n_images=40, resolution=32)).load()
    small = dict(width=16, depth=2, patch=2, epochs=2, batch_size=16, sampling_steps=3)
    whole = EDM(EDM.Options(**small))
    whole.fit(data, seed=0, device=torch.device("cpu"), workdir=tmp_path / "whole")
    EDM(EDM.Options(**{**small, "epochs": 1})).fit(data, seed=0, device=torch.device("cpu"), workdir=tmp_path / "b")
    checkpoint = tmp_path / "b" / EDM.checkpoint_name
    flip(checkpoint, -5000)
    capsys.readouterr()
    again = EDM(EDM.Options(**small))
    again.fit(data, seed=0, device=torch.device("cpu"), workdir=tmp_path / "b")
    err = capsys.readouterr().err
    assert f"checkpoint {checkpoint} is damaged (its bytes do not match its checksum)" in err
    assert "starts again from its first epoch" in err
    for a, b in zip(whole.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_damaged_sampled_chunk_is_sampled_again(tmp_path):
    """An interrupted set build keeps its chunks; one altered on disk is caught by its checksum and redrawn."""
    from bench.synthetic import sets

    cfg = config.build(flags={"generator.name": "real"}, overrides=TINY)
    generator = cfg.generator.create()
    train = cfg.dataset.create().load().subset(np.arange(100))
    generator.fit(train, seed=0, device=torch.device("cpu"))
    labels = train.labels[:60]
    said = []
    chunks = tmp_path / ".chunks"
    sets.SAMPLING_CHUNK, old = 16, sets.SAMPLING_CHUNK
    try:
        clean = sets._sample(generator, cfg, labels, 32, tmp_path / "clean", torch.device("cpu"), said.append)
        sets._sample(generator, cfg, labels, 32, chunks, torch.device("cpu"), said.append)
        flip(chunks / "00001.npy", -10)
        truncate(chunks / "00002.npy")
        said.clear()
        again = sets._sample(generator, cfg, labels, 32, chunks, torch.device("cpu"), said.append)
    finally:
        sets.SAMPLING_CHUNK = old
    assert np.array_equal(again, clean)
    assert any(f"sampled chunk {chunks / '00001.npy'} is damaged (its bytes do not match its checksum)" in line
               for line in said)
    assert any(f"{chunks / '00002.npy'} is damaged" in line for line in said)


def test_a_figure_whose_save_fails_leaves_the_previous_one(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.artist import Artist

    from bench.report.plots import save_figure

    path = tmp_path / "figure.png"
    fig = plt.figure()
    save_figure(fig, path)
    before = path.read_bytes()

    class Interrupted(Artist):
        def draw(self, renderer):
            raise KeyboardInterrupt  # Ctrl-C while the PNG is being drawn

    fig.add_artist(Interrupted())
    with pytest.raises(KeyboardInterrupt):
        save_figure(fig, path)
    plt.close(fig)
    assert path.read_bytes() == before and not temporaries(tmp_path)


def test_a_refused_configuration_leaves_nothing_on_disk(tmp_path):
    result = bench_cli("generate", "--generator", "edm", *TINY, "dataset.resolution=24", "generator.epochs=1",
                       "--synthetic-dir", str(tmp_path / "synthetic"), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2 and "not divisible" in result.stderr
    assert not (tmp_path / "synthetic").exists() or not any((tmp_path / "synthetic").rglob("*"))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


@pytest.mark.slow  # trains the reference run
def test_a_signal_after_the_run_completed_says_it_completed(reference, tmp_path, monkeypatch):
    """SIGTERM arriving while the finished run's table prints: exit 143, and the line says the run is complete."""
    from bench import interrupts
    from bench.cli import run as run_module

    folder = finished_copy(reference, tmp_path)

    def terminated(metrics):
        raise interrupts.Terminated

    monkeypatch.setattr(run_module, "summary_table", terminated)
    monkeypatch.setattr(interrupts, "_completed", None)
    result = bench_cli("run", "--runs-dir", str(folder.parent), *TINY)
    assert result.returncode == 143
    assert f"terminated (SIGTERM); it had completed before the signal: record: {folder}" in result.stderr


# ------------------------------------------------------------------ kills during writes, for real (subprocesses)
@pytest.mark.slow
def test_sigkill_during_each_kind_of_write_then_the_same_command_gives_the_same_bytes(reference, tmp_path):
    """One run killed three times, each time in another write: the checkpoint of its first epoch (its bytes written,
    not yet renamed; the last epoch writes none), metrics.json, the done marker; then the same command finishes it.
    (A kill between the checksum listing and the rename, and a previous file kept intact through a killed write:
    test_a_checked_file_survives_a_kill_at_any_point_of_its_write.)"""
    runs = tmp_path / "runs"
    folder = runs / reference.name
    args = ("run", "--runs-dir", str(runs), *TINY)
    for fault in ("checkpoint.pt:1:KILL", "metrics.json:1:KILL", "done:1:KILL"):
        killed = bench_process(*args, env={"BENCH_FAULT": fault})
        assert killed.returncode == -9, (fault, killed.stderr[-500:])
        assert not (folder / "done").exists() and temporaries(folder), fault  # the killed write's temporary file
        if fault.startswith("checkpoint"):
            assert not (folder / "checkpoint.pt").exists(), fault  # never renamed into place
    resumed = bench_process(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert (folder / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()
    assert not temporaries(folder) and not (folder / "checkpoint.pt").exists()
    log = (folder / "log.txt").read_text()
    assert log.count("--- resumed") == 3 and log.count("temporary file(s) of a killed write removed") == 3
    assert log.index("--- resumed") > log.index("epoch 1/2")  # the killed attempts' lines come first


@pytest.mark.slow
def test_sigterm_during_a_checkpoint_write_keeps_that_epoch(reference, tmp_path):
    runs = tmp_path / "runs"
    folder = runs / reference.name
    args = ("run", "--runs-dir", str(runs), *TINY)
    stopped = bench_process(*args, env={"BENCH_FAULT": "checkpoint.pt:1:TERM"})
    assert stopped.returncode == 143 and "Traceback" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1].startswith("bench: terminated (SIGTERM); finished epochs")
    assert damage(folder / "checkpoint.pt") is None
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["state"]["epoch"] == 1  # the epoch it was writing
    resumed = bench_process(*args, env={"BENCH_FAULT": "metrics.json:1:KILL"})
    assert "resumed from" in resumed.stdout and "after epoch 1" in resumed.stdout
    flip(folder / "checkpoint.pt", -3000)  # a checkpoint altered on disk is caught by its checksum
    again = bench_process(*args)
    assert again.returncode == 0, again.stderr
    assert "is damaged (its bytes do not match its checksum)" in again.stdout
    assert (folder / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()


@pytest.mark.slow
def test_an_interrupted_set_build_with_a_damaged_chunk_is_finished_by_the_same_command(tmp_path):
    """Killed while writing the set's images.npy (every chunk sampled), a chunk then altered on disk: the same command
    redraws that chunk (the fast test above shows a redrawn chunk equals the undisturbed one) and finishes an intact
    set. The fault names the set's folder: a fresh dataset cache writes an images.npy of its own first."""
    from bench.synthetic.sets import load_set

    args = ("generate", "--generator", "real", *TINY, "--runs-dir", str(tmp_path / "runs"))
    synthetic = tmp_path / "synthetic"
    killed = bench_process(*args, "--synthetic-dir", str(synthetic), env={"BENCH_FAULT": "real-*/images.npy:1:KILL"})
    assert killed.returncode == -9
    chunk = next(synthetic.rglob(".chunks/00000.npy"))
    assert temporaries(chunk.parent.parent)  # the killed write's images.npy
    flip(chunk, -50)
    again = bench_process(*args, "--synthetic-dir", str(synthetic))
    assert again.returncode == 0, again.stderr
    assert f"sampled chunk {chunk} is damaged (its bytes do not match its checksum)" in again.stdout
    folder = chunk.parent.parent
    manifest = json.loads((folder / "manifest.json").read_text())
    assert load_set(folder, manifest["key"]) is not None and not temporaries(synthetic)


@pytest.mark.slow
def test_two_runs_sharing_a_new_set_measure_its_fidelity_once(tmp_path):
    args = [EXE, "generate", "--generator", "real", *TINY, "--runs-dir", str(tmp_path / "runs"),
            "--synthetic-dir", str(tmp_path / "synthetic")]
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-400:] for _, err in outputs]
    measured = sum(out.count("fidelity of real-") for out, _ in outputs)
    assert measured == 1, outputs


# ------------------------------------------------------------------ full disks: a tmpfs that fills up
def _in_a_small_tmpfs(folder: Path, size: str, *commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Run `bench` commands with `folder` a tmpfs of `size` (a private mount namespace: root and unshare needed);
    each command is (remount size, args); args starting with "-c" run `python -c` instead."""
    script = [f"mount -t tmpfs -o size={size} tmpfs {folder} || exit 97"]
    for i, (remount, args) in enumerate(commands):
        if remount:
            script.append(f"mount -o remount,size={remount} {folder}")
        quoted = " ".join(shlex.quote(a) for a in [sys.executable if args[0] == "-c" else EXE, *args])
        script.append(f"{quoted} > {folder.parent}/out{i} 2> {folder.parent}/err{i}; echo $? > {folder.parent}/rc{i}")
        script.append(f"find {folder} -name '.*.tmp' > {folder.parent}/tmp{i}; ls -a {folder} > {folder.parent}/ls{i}")
        script.append(f"cp {folder}/*/metrics.json {folder.parent}/metrics{i}.json 2> /dev/null")  # the tmpfs goes
    script.append("exit 0")
    result = subprocess.run(["unshare", "-m", "sh", "-c", "; ".join(script)], capture_output=True, text=True,
                            timeout=900)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root and unshare): {result.stderr.strip()[:200]}")
    read = lambda name: (folder.parent / name).read_text()  # noqa: E731
    return [subprocess.CompletedProcess(args, int(read(f"rc{i}")), read(f"out{i}"), read(f"err{i}"))
            for i, (_, args) in enumerate(commands)]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a tmpfs that fills up needs Linux, root and unshare (CI runs as root)")
def test_a_full_runs_folder_is_one_line_and_the_same_command_resumes_with_room(reference, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    args = ["run", "--runs-dir", str(runs), *TINY]
    full, resumed = _in_a_small_tmpfs(runs, "150m", (None, args), ("1g", args))
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-800:]
    line = full.stderr.strip().splitlines()[-1]
    assert line.startswith(f"bench: error: no space left in {runs / reference.name}")
    assert "needed for two checkpoints of" in line and "written beside the previous one" in line  # before epoch 1's
    assert "run the same command again" in line
    assert not (tmp_path / "tmp0").read_text().strip()  # nothing half-written left
    assert resumed.returncode == 0, resumed.stderr[-800:]
    assert (tmp_path / "metrics1.json").read_bytes() == (reference / "metrics.json").read_bytes()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a tmpfs that fills up needs Linux, root and unshare (CI runs as root)")
def test_a_full_synthetic_folder_is_one_line_and_the_same_command_resumes_with_room(tmp_path):
    synthetic = tmp_path / "synthetic"
    synthetic.mkdir()
    args = ["generate", "--generator", "real", *TINY, "--runs-dir", str(tmp_path / "runs"),
            "--synthetic-dir", str(synthetic)]
    full, resumed = _in_a_small_tmpfs(synthetic, "200k", (None, args), ("100m", args))
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-800:]
    assert "no space left in" in full.stderr and str(synthetic) in full.stderr
    assert not (tmp_path / "tmp0").read_text().strip()
    assert resumed.returncode == 0, resumed.stderr[-800:]


WRITES = {
    "a text file": "write_text(folder / 'x.json', 'a' * 400_000)",
    "a torch checkpoint": "save_checked(folder / 'c.pt', lambda tmp: torch.save({'w': torch.zeros(100_000)}, tmp))",
}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="a tmpfs that fills up needs Linux, root and unshare (CI runs as root)")
@pytest.mark.parametrize("what", list(WRITES))
def test_a_write_that_fills_the_disk_is_disk_full_and_leaves_nothing(tmp_path, what):
    """Where no size was known beforehand: the OSError (ENOSPC) or torch's RuntimeError becomes DiskFull."""
    folder = tmp_path / "small"
    folder.mkdir()
    code = (f"import torch; from pathlib import Path; from bench.files import DiskFull, save_checked, write_text; "
            f"folder = Path('{folder}')\ntry:\n    {WRITES[what]}\nexcept DiskFull as exc:\n    print(exc)")
    (result,) = _in_a_small_tmpfs(folder, "100k", (None, ["-c", code]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"no space left in {folder} (") and "run the same command again" in result.stdout
    assert (tmp_path / "ls0").read_text().split() in ([".", ".."], [".", "..", "c.pt.sha256"])  # nothing half-written
