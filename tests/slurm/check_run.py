"""Check a workflow run through profiles/slurm against the scheduler's records.

Used by ``tests/slurm/run-test.sh`` after the tiny workflow ran on the test cluster:
prints one line per SLURM job (job ID, Snakemake rule(s), state, GPUs allocated) and
exits non-zero, naming what failed, unless

- every rule of the local reference run (but ``all``) ran in at least one SLURM job,
- every SLURM job of the run completed, but the one the harness cancelled,
- the GPU rules (training, evaluation, inference) got a GPU from SLURM and no other job did,
- the cancelled job was a ``training`` job that was running when cancelled, and a later
  ``training`` job completed,
- every job has a line in SLURM's job-completion log, and
- the CDS table of the SLURM run equals, byte for byte, the one of the local run.

Run with the cluster's SLURM_CONF in the environment (``scontrol`` is queried).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GPU_RULES",
    "SlurmJob",
    "check",
    "local_rules",
    "main",
    "query_jobs",
    "rules_of",
]

#: Rules that declare ``resources: gpu=1`` in the workflow.
GPU_RULES = ("training", "evaluation", "inference")

_SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: ([^)]+)\)")
_LOCAL_RULE = re.compile(r"^(?:local)?rule (\w+):", re.MULTILINE)
_TABLE = Path("results") / "publish" / "table7.dat"


@dataclass(frozen=True)
class SlurmJob:
    """One SLURM job as ``scontrol -d show job`` reports it.

    Attributes
    ----------
    job_id : int
        SLURM job ID.
    comment : str
        The plugin's comment: ``rule_RULE[_wildcards_...]`` or ``rule_GROUP_RULE1_RULE2``.
    state : str
        SLURM job state (COMPLETED, CANCELLED, FAILED, ...).
    exit_code : str
        ``EXIT:SIGNAL`` as SLURM reports it.
    gpus : int
        GPUs allocated to the job (from ``JOB_GRES=gpu:N``), 0 when none.
    run_seconds : int
        Wall time the job ran, in seconds.
    """

    job_id: int
    comment: str
    state: str
    exit_code: str
    gpus: int
    run_seconds: int


def _seconds(value: str) -> int:
    """Seconds of a SLURM duration ``[D-]HH:MM:SS`` or ``MM:SS``."""
    days, _, clock = value.rpartition("-")
    total = 0
    for part in clock.split(":"):
        total = 60 * total + int(part)
    return total + 86400 * int(days or 0)


def _scontrol(job_id: int) -> SlurmJob | None:
    """The job as slurmctld reports it, None once it has forgotten it (MinJobAge)."""
    out = subprocess.run(
        ["scontrol", "-d", "show", "job", "-o", str(job_id)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    fields = dict(m.split("=", 1) for m in re.findall(r"(?:^|(?<=\s))\w+=\S*", out))
    if "JobState" not in fields:
        return None
    gres = re.search(r"gpu(?::[\w.]+)?:(\d+)", fields.get("JOB_GRES", ""))
    return SlurmJob(
        job_id=job_id,
        comment=fields.get("Comment", ""),
        state=fields["JobState"],
        exit_code=fields.get("ExitCode", ""),
        gpus=int(gres.group(1)) if gres else 0,
        run_seconds=_seconds(fields.get("RunTime", "0")),
    )


def _sacct(job_id: int) -> SlurmJob | None:
    """The job as SLURM accounting (slurmdbd) reports it, None without accounting."""
    proc = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", str(job_id)]
        + ["-o", "JobIDRaw,Comment,State,ExitCode,AllocTRES,ElapsedRaw"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.strip()]
    rows = [row for row in rows if len(row) == 6 and row[0] == str(job_id)]
    if proc.returncode != 0 or not rows:
        return None
    _, comment, state, exit_code, tres, elapsed = rows[-1]
    gres = re.search(r"gres/gpu=(\d+)", tres)
    return SlurmJob(
        job_id=job_id,
        comment=comment,
        state=state.split()[0],
        exit_code=exit_code,
        gpus=int(gres.group(1)) if gres else 0,
        run_seconds=int(elapsed or 0),
    )


def query_jobs(job_ids: list[int], *, records: str = "scontrol") -> dict[int, SlurmJob]:
    """Ask SLURM about each job: slurmctld (``scontrol``) or accounting (``sacct``).

    Parameters
    ----------
    job_ids : list of int
        SLURM job IDs.
    records : {"scontrol", "sacct"}
        ``scontrol``: slurmctld, and accounting for the jobs it has forgotten;
        ``sacct``: accounting (slurmdbd) only.

    Returns
    -------
    dict of int to SlurmJob
        The jobs SLURM has a record of; slurmctld keeps finished jobs MinJobAge seconds,
        accounting keeps them for good.
    """
    jobs = {}
    for job_id in job_ids:
        job = _sacct(job_id) if records == "sacct" else _scontrol(job_id) or _sacct(job_id)
        if job is not None:
            jobs[job_id] = job
    return jobs


def rules_of(comment: str, rules: set[str]) -> set[str]:
    """The rules of ``rules`` that a job's comment names.

    Parameters
    ----------
    comment : str
        ``rule_RULE``, ``rule_RULE_wildcards_...`` or, for a group job,
        ``rule_GROUP_RULE1_RULE2...``.
    rules : set of str
        Rule names of the workflow.

    Returns
    -------
    set of str
    """
    name = comment.removeprefix("rule_").split("_wildcards_")[0]
    if name in rules:  # one rule's job: its name exactly (training, not training_set)
        return {name}
    tokens = name.split("_")
    spans = []
    for rule in rules:
        parts = rule.split("_")
        for i in range(len(tokens) - len(parts) + 1):
            if tokens[i : i + len(parts)] == parts:
                spans.append((i, i + len(parts), rule))
    # a rule whose tokens lie inside a longer match is part of that name (training_set)
    return {
        r
        for a, b, r in spans
        if not any(a2 <= a and b <= b2 and (b2 - a2) > (b - a) for a2, b2, _ in spans)
    }


def local_rules(log: Path) -> set[str]:
    """Rules a local Snakemake run executed, from its log (``rule X:`` headers)."""
    return set(_LOCAL_RULE.findall(log.read_text())) - {"all"}


def check(
    *,
    slurm_dir: Path,
    slurm_log: Path,
    local_dir: Path,
    local_log: Path,
    jobcomp: Path,
    cancelled: int | None,
    records: str = "scontrol",
) -> list[str]:
    """Run every check; print the job table.

    Parameters
    ----------
    slurm_dir, local_dir : Path
        Working directories of the SLURM run and of the local reference run.
    slurm_log, local_log : Path
        Their Snakemake logs (stdout and stderr).
    jobcomp : Path
        SLURM's job-completion log (JobCompType=jobcomp/filetxt).
    cancelled : int or None
        SLURM job ID the harness cancelled with scancel, None when it cancelled none.
    records : {"scontrol", "sacct"}
        Where the job records come from (see `query_jobs`).

    Returns
    -------
    list of str
        The failures, empty when every check passed.
    """
    failures = []
    rules = local_rules(local_log)
    text = slurm_log.read_text()
    submitted = [int(m.group(1)) for m in _SUBMITTED.finditer(text)]
    if not submitted:
        return [f"{slurm_log}: no job was submitted to SLURM"]
    jobs = query_jobs(submitted, records=records)
    print(f"job records from {records}")
    completions = (
        set(re.findall(r"JobId=(\d+) ", jobcomp.read_text())) if jobcomp.exists() else set()
    )

    print(f"{'SLURM job':>9}  {'state':<10} {'GPUs':>4} {'run s':>5}  rule(s) [comment]")
    ran = set()
    for job_id in submitted:
        job = jobs.get(job_id)
        if job is None:
            failures.append(f"SLURM job {job_id}: {records} has no record of it")
            continue
        names = rules_of(job.comment, rules)
        print(
            f"{job_id:>9}  {job.state:<10} {job.gpus:>4} {job.run_seconds:>5}  "
            f"{','.join(sorted(names)) or '?'} [{job.comment}]"
        )
        if str(job_id) not in completions:
            failures.append(f"SLURM job {job_id}: no line in the job-completion log {jobcomp}")
        if job_id == cancelled:
            if not job.state.startswith("CANCELLED"):
                failures.append(f"SLURM job {job_id} was cancelled but is {job.state}")
            continue
        if job.state != "COMPLETED" or job.exit_code != "0:0":
            failures.append(f"SLURM job {job_id} ({job.comment}): {job.state} {job.exit_code}")
            continue
        ran |= names
        wants_gpu = bool(names & set(GPU_RULES))
        if wants_gpu and job.gpus < 1:
            failures.append(f"SLURM job {job_id} ({job.comment}) runs a GPU rule but got no GPU")
        if not wants_gpu and job.gpus:
            failures.append(f"SLURM job {job_id} ({job.comment}) got {job.gpus} GPU(s)")
    missing = sorted(rules - ran)
    if missing:
        failures.append(f"rules that ran locally but in no completed SLURM job: {missing}")

    if cancelled is not None:
        job = jobs.get(cancelled)
        if job is None or not job.comment.startswith("rule_training_wildcards"):
            failures.append(f"cancelled SLURM job {cancelled} is not a training job: {job}")
        elif job.run_seconds < 1:
            failures.append(f"cancelled SLURM job {cancelled} had not started running")
        # its rerun: a later completed job of the same rule and wildcards
        later = [
            j
            for j in jobs.values()
            if job is not None
            and j.job_id > cancelled
            and j.comment == job.comment
            and j.state == "COMPLETED"
        ]
        if not later:
            failures.append(f"no completed training job after the cancelled SLURM job {cancelled}")
        else:
            print(f"cancelled SLURM job {cancelled}; rerun as SLURM job {later[0].job_id}")

    ours, theirs = slurm_dir / _TABLE, local_dir / _TABLE
    if not ours.is_file() or not theirs.is_file():
        failures.append(f"missing CDS table: {ours} or {theirs}")
    elif (table := ours.read_bytes()) != theirs.read_bytes():
        failures.append(f"{ours} differs from the local run's {theirs}")
    else:
        print(f"{_TABLE}: SLURM run equals local run ({len(table.splitlines())} rows)")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Command line: ``check_run.py --slurm-dir D --slurm-log F ...``; 0 when all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slurm-dir", type=Path, required=True)
    parser.add_argument("--slurm-log", type=Path, required=True)
    parser.add_argument("--local-dir", type=Path, required=True)
    parser.add_argument("--local-log", type=Path, required=True)
    parser.add_argument("--jobcomp", type=Path, required=True)
    parser.add_argument("--cancelled", type=int, default=None)
    parser.add_argument("--records", choices=("scontrol", "sacct"), default="scontrol")
    args = parser.parse_args(argv)
    failures = check(**vars(args))  # the options are named as check's arguments
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
