from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input


def test_submit_and_run(service, tools, alice):
    job = service.submit(alice, "echo", [text_input("hello world")], {"repeat": 2})
    assert job.status is JobStatus.PENDING
    assert job.estimated_credits == 40
    run_job(service.runs, tools, job.id)
    view = service.get(alice, job.id)
    assert view.job.status is JobStatus.COMPLETED
    assert view.job.result.fields["echo"] == "hello world hello world"
    assert service.account(alice).available_credits == 460


def test_an_in_process_wait_returns_at_its_deadline_while_a_job_runs(service, tools, alice, gate):
    import threading

    from proteiniq_jupyter.execution.inprocess import InProcessExecutor

    executor = InProcessExecutor(service.runs, tools)
    job = service.submit(alice, "sleep", [text_input("zz")], gate.settings())
    executor.submit(job.id)
    waiting = threading.Thread(target=executor.wait, kwargs={"timeout": 0.2})
    waiting.start()
    waiting.join(60)
    try:
        assert not waiting.is_alive(), "wait(timeout=0.2) went on past its deadline"
        assert not service.get(alice, job.id).job.status.is_terminal
    finally:
        gate.open()
        executor.wait()
        executor.shutdown()
    assert service.get(alice, job.id).job.status is JobStatus.COMPLETED
