"""Stale Snakemake locks: removed only when no Snakemake process and none of its jobs is alive."""
import subprocess
import sys
import time

from flowbench import locks


def _lock(tmp_path):
    lockdir = tmp_path / ".snakemake" / "locks"
    lockdir.mkdir(parents=True, exist_ok=True)
    f = lockdir / "0.output.lock"
    f.write_text("results/smoke/gmm/ours/paper/seed0/model.pt\n")
    return f


def test_stale_lock_cleared_only_without_other_snakemake(tmp_path, monkeypatch):
    lock = _lock(tmp_path)
    monkeypatch.setattr(locks, "workflow_processes", lambda wd: [(1234, "snakemake")])
    assert not locks.clear_stale_locks(tmp_path)
    assert lock.exists()
    monkeypatch.setattr(locks, "workflow_processes", lambda wd: None)  # cannot tell: keep
    assert not locks.clear_stale_locks(tmp_path)
    assert lock.exists()
    monkeypatch.setattr(locks, "workflow_processes", lambda wd: [])
    assert locks.clear_stale_locks(tmp_path)
    assert not lock.exists()


def test_lock_kept_while_an_orphaned_job_runs(tmp_path):
    """`kill -9` of the Snakemake process alone leaves its jobs running: their lock must stay."""
    lock = _lock(tmp_path)
    scripts = tmp_path / ".snakemake" / "scripts"
    scripts.mkdir(parents=True)
    job = scripts / "tmpab12cd.train_gmm.py"
    job.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(job)], cwd=tmp_path)
    try:
        for _ in range(50):  # until /proc shows the child's command line
            if any(pid == proc.pid for pid, _ in locks.workflow_processes(tmp_path) or []):
                break
            time.sleep(0.1)
        assert (proc.pid, "job") in locks.workflow_processes(tmp_path)
        messages = []
        assert not locks.clear_stale_locks(tmp_path, log=messages.append)
        assert lock.exists()
        assert messages and str(proc.pid) in messages[0] and "still run" in messages[0]
    finally:
        proc.kill()
        proc.wait()
    assert locks.clear_stale_locks(tmp_path)
    assert not lock.exists()


def test_a_job_elsewhere_does_not_hold_this_directory(tmp_path):
    lock = _lock(tmp_path)
    other = tmp_path / "other"
    (other / ".snakemake" / "scripts").mkdir(parents=True)
    job = other / ".snakemake" / "scripts" / "tmpzz.train_gmm.py"
    job.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(job)], cwd=other)
    try:
        time.sleep(0.3)
        assert locks.clear_stale_locks(tmp_path)
        assert not lock.exists()
    finally:
        proc.kill()
        proc.wait()


def test_snakemake_process_detection():
    assert locks._is_snakemake(["/x/.venv/bin/python3", "/x/.venv/bin/snakemake", "--cores", "2"])
    assert locks._is_snakemake(["python", "-m", "snakemake", "--cores", "2"])
    assert not locks._is_snakemake(["python3", "/repo/.snakemake/scripts/tmpab.train_gmm.py"])
    assert not locks._is_snakemake(["python", "-m", "pytest"])
    assert locks._is_job(["python3", "/repo/.snakemake/scripts/tmpab.train_gmm.py"])
    assert not locks._is_job(["python", "-m", "pytest"])
