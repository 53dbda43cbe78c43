"""A browser signed in by Jupyter's login cookie must send the XSRF token with
requests that change something; a request without it is told so, not told to
sign in."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest
from jupyter_server.auth import IdentityProvider

from .conftest import API_PREFIX, PiqServer, job_body

pytestmark = pytest.mark.jupyter(identity_provider_class=IdentityProvider)


async def _signed_in_cookies(piq: PiqServer) -> dict[str, str]:
    """The cookies a browser holds after opening the server with its token: the
    login cookie and ``_xsrf``."""
    token = piq.app.identity_provider.token
    url = f"{piq.app.base_url}{API_PREFIX}/account?token={token}"
    reply = await piq.client.fetch(url, raise_error=False)
    assert reply.code == 200, reply.body
    jar: SimpleCookie = SimpleCookie()
    for header in reply.headers.get_list("Set-Cookie"):
        jar.load(header)
    cookies = {name: morsel.value for name, morsel in jar.items()}
    if "_xsrf" not in cookies:  # set by the first page that asks for it
        page = await piq.client.fetch(
            f"{piq.app.base_url}lab",
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
            raise_error=False,
            follow_redirects=False,
        )
        for header in page.headers.get_list("Set-Cookie"):
            jar.load(header)
        cookies = {name: morsel.value for name, morsel in jar.items()}
    return cookies


async def _post_job(piq: PiqServer, cookies: dict[str, str], **headers: str) -> Any:
    import json

    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return await piq.client.fetch(
        f"{piq.app.base_url}{API_PREFIX}/jobs",
        method="POST",
        body=json.dumps(job_body("from the browser")),
        headers={"Cookie": cookie, "Content-Type": "application/json", **headers},
        raise_error=False,
    )


async def test_a_cookie_request_without_the_xsrf_header_is_told_so(piq: PiqServer) -> None:
    import json

    cookies = await _signed_in_cookies(piq)
    login = [name for name in cookies if name != "_xsrf"]
    assert login, f"Jupyter set no login cookie: {cookies}"

    missing = await _post_job(piq, {name: cookies[name] for name in login})
    assert missing.code == 403, missing.body
    error = json.loads(missing.body)["error"]
    assert error["code"] == "forbidden"
    assert "no XSRF token" in error["message"] and "X-XSRFToken" in error["message"]
    assert "sign in" not in error["message"]

    wrong = await _post_job(piq, cookies, **{"X-XSRFToken": "not-the-token"})
    assert wrong.code == 403, wrong.body
    assert "wrong XSRF token" in json.loads(wrong.body)["error"]["message"]

    assert "_xsrf" in cookies, cookies
    accepted = await _post_job(piq, cookies, **{"X-XSRFToken": cookies["_xsrf"]})
    assert accepted.code == 201, accepted.body


async def test_a_request_with_no_cookie_and_no_token_is_asked_to_sign_in(piq: PiqServer) -> None:
    import json

    reply = await _post_job(piq, {})
    assert reply.code == 401
    assert "sign in to Jupyter first" in json.loads(reply.body)["error"]["message"]
