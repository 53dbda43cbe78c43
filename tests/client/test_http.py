"""The HTTP transport under a rate limit and without a server: 429 answers are
waited out (``Retry-After``) and retried with the same ``Idempotency-Key``, so no
request is lost or doubled; an unreachable server is one clear error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proteiniq_jupyter.client import Client, ConnectionFailed
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection

from .conftest import Stack, free_port, start_stack, stop_stack

LIMIT = 4


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(
        tmp_path_factory.mktemp("limited"),
        f"--ProteinIQApp.rate_limit={LIMIT}",
        "--ProteinIQApp.rate_limit_window=1",
    )
    yield stack
    stop_stack(stack)


def http_client(url: str, token: str | None, attempts: int = 6) -> Client:
    connection = Connection("http", url, "given to the test")
    return Client(HttpTransport(url, token, connection, attempts=attempts))


def test_rate_limited_submits_are_retried_once_each(limited: Stack) -> None:
    client = http_client(limited.url, limited.token)
    transport = client.transport
    assert isinstance(transport, HttpTransport)
    try:
        made = [client.run("echo", f"call {n}", new=True).id for n in range(2 * LIMIT)]
        assert transport.retried > 0  # the limit was reached and waited out
        assert len(set(made)) == len(made)
        listed = {job.id for job in client.jobs(tool="echo", limit=None)}
        assert listed == set(made)  # every submit made exactly one job
    finally:
        client.close()


def test_an_unreachable_server_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    client = http_client(url, None, attempts=2)
    try:
        with pytest.raises(ConnectionFailed, match=f"cannot reach {url}"):
            client.tools()
    finally:
        client.close()
