"""A real single-node SLURM on localhost for the tests: Debian's slurm-wlm and munge, our own config,
ports, state and munge socket in a temporary folder, so nothing of the machine's setup is touched.

`install()` puts the packages in place when they are missing and this user may (root or password-less
sudo, apt-get present); otherwise it says why not, and the test is skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
DAEMONS = ["slurmctld", "slurmd", "munged"]


def _missing() -> list[str]:
    return [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]


def install() -> str | None:
    """None when slurm-wlm and munge are (now) installed, else the reason they cannot be."""
    if not _missing():
        return None
    if shutil.which("apt-get") is None:
        return f"{', '.join(_missing())} not installed and no apt-get to install {' '.join(PACKAGES)}"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode:
        return f"{', '.join(_missing())} not installed and installing {' '.join(PACKAGES)} needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    if subprocess.run(command, env=env, capture_output=True).returncode:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode:
            return f"apt-get could not install {' '.join(PACKAGES)}: {result.stderr.strip()[-300:]}"
    return None if not _missing() else f"{', '.join(_missing())} still missing after installing"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _write_config(root: Path) -> Path:
    host = socket.gethostname().split(".")[0]
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    lines = {
        "ClusterName": "benchtest", "SlurmctldHost": f"{host}(127.0.0.1)", "SlurmUser": user,
        "SlurmdUser": user, "SlurmctldPort": _free_port(), "SlurmdPort": _free_port(),
        "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": f"socket={root}/munge/socket",
        "StateSaveLocation": root / "state", "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid", "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log", "SlurmdLogFile": root / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none", "MpiDefault": "none",
        "JobAcctGatherType": "jobacct_gather/none", "AccountingStorageType": "accounting_storage/none",
        "SelectType": "select/cons_tres", "SelectTypeParameters": "CR_Core_Memory", "ReturnToService": 2,
        "NodeName": f"{host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName": f"debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
    }
    (root / "slurm.conf").write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    (root / "cgroup.conf").write_text("CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n")
    return root / "slurm.conf"


def _start_munge(root: Path) -> subprocess.Popen:
    folder = root / "munge"
    folder.mkdir(mode=0o711)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    return subprocess.Popen([_daemon("munged"), "--foreground", "--force", f"--socket={folder}/socket",
                             f"--key-file={key}", f"--log-file={folder}/munged.log",
                             f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/seed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(check, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text()[-1500:] if log.exists() else "(no log)"
            raise RuntimeError(f"local SLURM: {what} did not happen within {seconds:.0f} s; log:\n{tail}")
        time.sleep(0.5)


@contextmanager
def cluster():
    """Start munged, slurmctld and slurmd; yield the environment that points clients (and submitit) at
    them; stop everything and remove the folder afterwards."""
    root = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # short: the munge socket path is limited
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    conf = _write_config(root)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    daemons = [_start_munge(root)]
    try:
        wait_until(lambda: (root / "munge" / "socket").exists(), 30, "munged start", root / "munge/munged.log")
        daemons.append(subprocess.Popen([_daemon("slurmctld"), "-D", "-c", "-f", str(conf)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        daemons.append(subprocess.Popen([_daemon("slurmd"), "-D", "-f", str(conf)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: _node_idle(env), 60, "the node coming up idle", root / "slurmctld.log")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "-u", subprocess.run(["id", "-un"], capture_output=True,
                        text=True).stdout.strip()], env=env, capture_output=True)
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(root, ignore_errors=True)


def _node_idle(env: dict) -> bool:
    info = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return info.returncode == 0 and "idle" in info.stdout
