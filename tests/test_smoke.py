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
