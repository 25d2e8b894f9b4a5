"""How many workers a run starts (`evals.executor.plan_jobs`), and what it warns about."""

from __future__ import annotations

from disca_edge.evals.executor import plan_jobs

GB = 10**9


def test_jobs_are_capped_at_the_work_items():
    jobs, warnings = plan_jobs(64, 1, threads=None, cpus=16)
    assert jobs == 1
    assert warnings == [
        "warning: --jobs 64 but only 1 work item(s) (chunks of --chunk scenarios) are left to "
        "do; starting 1 worker(s)"
    ]
    assert plan_jobs(64, 0, threads=None, cpus=16)[0] == 1  # nothing left: one, for the header
    assert plan_jobs(4, 10, threads=None, cpus=16) == (4, [])  # 4 x 4 threads on 16 CPUs


def test_more_threads_than_cpus_is_a_warning():
    jobs, warnings = plan_jobs(8, 100, threads=2, cpus=4)
    assert jobs == 8
    assert warnings == [
        "warning: 8 worker(s) x 2 thread(s) = 16 threads on 4 CPUs: they wait on each other, "
        "slower than fewer; use --jobs 2 or fewer, or fewer --threads"
    ]
    # default threads: the CPUs shared out, at least one each
    assert "12 threads on 4 CPUs" in plan_jobs(12, 100, threads=None, cpus=4)[1][0]
    assert plan_jobs(1, 5, threads=8, cpus=2)[1][0].startswith("warning: 1 worker(s) x 8")
    # a Ray cluster elsewhere: this machine's CPUs and memory say nothing
    assert plan_jobs(12, 100, threads=8, cpus=4, model_bytes=GB, memory_bytes=GB, here=False) == (
        12, []
    )  # fmt: skip


def test_models_that_do_not_fit_in_memory_are_a_warning():
    jobs, warnings = plan_jobs(4, 100, threads=1, cpus=16, model_bytes=4 * GB, memory_bytes=10 * GB)
    assert jobs == 4
    assert warnings == [
        "warning: 4 workers load the model 4 times (4 x 4.0 GB = 16.0 GB) and 10.0 GB of "
        "memory is available; use --jobs 2 or fewer"
    ]
    fits = plan_jobs(2, 100, threads=1, cpus=16, model_bytes=4 * GB, memory_bytes=10 * GB)
    assert fits == (2, [])
    unknown = plan_jobs(4, 100, threads=1, cpus=16, model_bytes=None, memory_bytes=10 * GB)
    assert unknown == (4, [])
