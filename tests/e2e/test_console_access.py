"""The console in Chromium: signing in and out, what a read-only user sees and may do, CSRF,
escaping of everything a user typed or a function printed, accessible names at laptop width."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import pytest
from cognite.client import CogniteClient
from playwright.sync_api import expect

from tests.browser import Visit
from tests.conftest import deploy
from tests.e2e.test_identity import fnhost
from tests.servers import RunningServer

pytestmark = pytest.mark.e2e
COOKIE = "fnhost_console"


def test_sign_in_by_keyboard_and_sign_out_ends_the_session(
    visit: Visit, server: RunningServer, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    deploy(client, "ok")
    # Any console page sends a stranger to the sign-in form, and back there after.
    page.goto(visit.url(f"/console/p/{project}/functions"))
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    page.get_by_label("Token", exact=True).focus()
    page.keyboard.type(server.token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/p/{project}/functions")
    expect(page.get_by_role("link", name="ok", exact=True)).to_be_visible()

    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http here; Secure when the request is https
    assert cookie["path"] == "/console"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to fnhost")).to_be_visible()
    # The old cookie is dead everywhere, not only in this browser.
    replayed = httpx.get(
        visit.url(f"/console/p/{project}/functions"),
        cookies={COOKIE: cookie["value"]},
        headers={"Accept": "text/html"},
    )
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/console/sign-in")

    visit.expect_refusals(401)
    page.get_by_label("Token", exact=True).fill("not-a-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Invalid, revoked or expired bearer token")


def test_a_client_signs_in_picks_a_project_and_is_out_once_revoked(
    visit: Visit, server: RunningServer
) -> None:
    page = visit.page
    first, second = (f"cc-{uuid.uuid4().hex[:8]}" for _ in range(2))
    lines = fnhost(
        server,
        *("client", "create", "--project", first, "--project", second),
        *("--capability", "functionsAcl:READ"),
    )
    client_id, secret = (line.split(": ", 1)[1] for line in lines[-2:])
    page.goto(visit.url("/console/sign-in"))
    page.get_by_label("Client id", exact=True).fill(client_id)
    page.get_by_label("Client secret", exact=True).fill(secret)
    page.get_by_role("button", name="Sign in as the client").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_text(client_id)).to_be_visible()
    # Only its own projects, and no way to open others.
    assert sorted(page.locator(".cards a").all_inner_texts()) == sorted([first, second])
    expect(page.get_by_label("Open a project by name")).to_have_count(0)
    page.get_by_role("link", name=second).click()
    expect(page.get_by_role("heading", name=f"Overview of {second}")).to_be_visible()

    fnhost(server, "client", "revoke", client_id)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to fnhost")).to_be_visible()


def test_a_read_only_user_sees_no_actions_and_is_refused_when_forcing_one(
    visit: Visit, server: RunningServer, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "ok")
    token = fnhost(
        server, "token", "issue", "--project", project, "--capability", "functionsAcl:READ"
    )[-1]
    visit.sign_in(token)
    expect(page).to_have_url(re.compile(f"/console/p/{project}$"))  # its only project
    function_url = visit.url(f"/console/p/{project}/functions/{function.id}")
    page.goto(function_url)
    expect(page.get_by_role("heading", name="ok", exact=True)).to_be_visible()
    for hidden in (
        page.get_by_role("button", name="Run"),
        page.get_by_role("link", name="Delete…"),
        page.get_by_role("link", name="Deploy"),
        page.get_by_text("New schedule"),
    ):
        expect(hidden).to_have_count(0)

    visit.expect_refusals(403)
    csrf = visit.csrf_token()
    forced = {
        f"{function_url}/run": {"data": "{}"},
        f"{function_url}/delete": {},
        f"{function_url}/schedules": {"name": "s", "cron_expression": "* * * * *"},
    }
    for url, form in forced.items():
        refused = page.request.post(url, form={"csrf_token": csrf, **form})
        assert refused.status == 403, url
        assert "You may not" in refused.text()
    assert page.goto(visit.url(f"/console/p/{project}/deploy")).status == 403  # type: ignore[union-attr]
    assert page.goto(visit.url("/console/p/someone-else")).status == 403  # type: ignore[union-attr]
    expect(page.get_by_role("alert")).to_have_text("You have no access to project 'someone-else'")
    # Nothing changed.
    assert client.functions.retrieve(id=function.id) is not None
    assert len(client.functions.calls.list(function_id=function.id)) == 0
    assert len(client.functions.schedules.list(function_id=function.id)) == 0


def test_forms_without_the_sessions_csrf_token_are_refused(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "ok")
    visit.sign_in()
    function_url = visit.url(f"/console/p/{project}/functions/{function.id}")
    page.goto(function_url)
    visit.expect_refusals(403)
    # The page's own form, its token tampered with.
    page.locator("form[action$='/run'] input[name=csrf_token]").evaluate("e => e.value = 'forged'")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("alert")).to_contain_text("security token is missing or out of date")
    # What another site's form could send: the browser's cookie, no token; or a stale one.
    for form in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64}):
        assert page.request.post(f"{function_url}/delete", form=form).status == 403
        assert page.request.post(f"{function_url}/run", form=form).status == 403
    # A sign-in posted from another site is refused too (login CSRF).
    foreign = httpx.post(
        visit.url("/console/sign-in"),
        data={"method": "token", "token": visit.server.token},
        headers={"Origin": "http://elsewhere.example"},
    )
    assert foreign.status_code == 403 and COOKIE not in foreign.cookies
    assert client.functions.retrieve(id=function.id) is not None
    assert len(client.functions.calls.list(function_id=function.id)) == 0


def _no_script_ran(visit: Visit) -> None:
    assert visit.page.evaluate("window.__pwned") is None


def test_what_functions_print_and_users_type_is_shown_as_text(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    name = "<b>hostile</b><script>window.__pwned = 'name'</script>"
    function = deploy(client, "hostile_html", name=name, description="<i>desc</i>")
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/functions/{function.id}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_text("<i>desc</i>")).to_be_visible()
    _no_script_ran(visit)

    # Live: the lines come through the event stream while the call runs.
    visit.run(project, function.id, '{"linger": 1}')
    expect(page.locator("#call-status")).to_have_text("Completed", timeout=30_000)
    logs, response = page.locator("#call-logs"), page.locator("#call-response")
    expect(logs).to_contain_text("<script>window.__pwned = 'log'</script>")
    expect(logs).to_contain_text('<img src="x" onerror="window.__pwned = \'img\'">')
    expect(response).to_contain_text("<script>window.__pwned = 'response'</script>")
    _no_script_ran(visit)
    # Rendered by the server.
    page.reload()
    expect(logs).to_contain_text("<script>window.__pwned = 'log'</script>")
    expect(response).to_contain_text("<script>window.__pwned = 'response'</script>")
    _no_script_ran(visit)

    visit.run(project, function.id, '{"fail": true}')
    expect(page.locator("#call-error")).to_have_text(
        "ValueError: <script>window.__pwned = 'error'</script>", timeout=30_000
    )
    for path in ("functions", "runs", ""):
        page.goto(visit.url(f"/console/p/{project}/{path}".rstrip("/")))
        expect(page.get_by_text(name).first).to_be_attached()
        _no_script_ran(visit)


ACCESSIBLE_NAMES = """() => [...document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary")]
  .filter(e => {
    const name = e.getAttribute("aria-label") || e.getAttribute("aria-labelledby")
      || (e.labels && e.labels.length) || e.textContent.trim();
    return !name;
  })
  .map(e => e.outerHTML)"""


def test_main_pages_name_every_control_fit_a_laptop_and_are_screenshotted(
    visit: Visit, server: RunningServer, tmp_path: Path
) -> None:
    # A project name of its own that reads well in the README's screenshots.
    client = server.client("console-demo")
    page, project = visit.page, client.config.project
    ok = deploy(client, "ok", external_id="add-one", description="Adds one to x")
    raises = deploy(client, "raises")
    chatty = deploy(client, "chatty")
    client.functions.schedules.create(
        name="nightly", cron_expression="30 2 * * *", function_id=ok.id, data={"x": 1}
    )
    client.functions.schedules.create(
        name="every 20 minutes", cron_expression="*/20 * * * *", function_id=chatty.id
    )
    for x in range(3):
        ok.call(data={"x": x})
    raises.call(data={"v": 1})
    call = chatty.call(data={"lines": 4})
    shots = Path(os.environ.get("FNHOST_CONSOLE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(visit.url("/console/sign-in"))
    pages = {"sign-in": "/console/sign-in"}
    visit.sign_in()
    pages |= {
        "overview": f"/console/p/{project}",
        "functions": f"/console/p/{project}/functions",
        "function": f"/console/p/{project}/functions/{ok.id}",
        "call": f"/console/p/{project}/functions/{chatty.id}/calls/{call.id}",
        "runs": f"/console/p/{project}/runs",
        "deploy": f"/console/p/{project}/deploy",
    }
    for name, path in pages.items():
        page.goto(visit.url(path))
        assert page.evaluate(ACCESSIBLE_NAMES) == [], name
        # Usable at laptop width: nothing wider than the window.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        page.screenshot(path=shots / f"{name}.png")
        assert (shots / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
