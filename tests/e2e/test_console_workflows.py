"""The console's workflows in Chromium: deploy from an upload and watch it build, run with JSON,
a failing call's trace, logs streaming while a call runs, schedules with the server's preview,
the runs timeline."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from playwright.sync_api import expect

from tests.browser import Visit
from tests.conftest import deploy

pytestmark = pytest.mark.e2e
# Imported once at deploy to check it: this keeps the function Deploying long enough to watch.
SLOW_IMPORT = "import time\n\ntime.sleep(2)\n\n\n"
LIVE_MARK = "window.__samePage = true"


def _upload(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    path = tmp_path / name
    if name.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for file, text in files.items():
                archive.writestr(file, text)
        path.write_bytes(buffer.getvalue())
    else:
        (text,) = files.values()
        path.write_text(text)
    return path


def _deploy_form(visit: Visit, project: str, upload: Path, **fields: str) -> None:
    """Fill the deploy form (`fields` by input id) and send it; the function's page opens."""
    page = visit.page
    page.goto(visit.url(f"/console/p/{project}/deploy"))
    code = page.get_by_label("Code: a .zip of the function's folder, or a single handler.py")
    code.set_input_files(upload)
    for field, value in fields.items():
        page.locator(f"#{field}").fill(value)
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_url("**/functions/*")


def test_deploy_from_an_upload_is_followed_live_to_ready(
    visit: Visit, client: CogniteClient, tmp_path: Path
) -> None:
    page = visit.page
    visit.sign_in()
    handler = SLOW_IMPORT + "def handle(data, secrets):\n    return {'keys': sorted(secrets)}\n"
    upload = _upload(tmp_path, "code.zip", {"handler.py": handler, "requirements.txt": ""})
    _deploy_form(
        visit,
        client.config.project,
        upload,
        name="uploaded",
        external_id="uploaded-1",
        env_vars="GREETING=hello",
        secrets="api-key=s3cret",
        cpu="0.5",
    )
    status = page.locator("#function-status")
    assert status.inner_text() in ("Queued", "Deploying")
    page.evaluate(LIVE_MARK)
    expect(status).to_have_text("Ready", timeout=60_000)
    assert page.evaluate("window.__samePage") is True  # followed live, not reloaded
    expect(page.get_by_role("status")).to_have_text("Deployed: it is ready to run.")
    page.reload()
    expect(page.get_by_role("cell", name="GREETING")).to_be_visible()
    expect(page.get_by_role("cell", name="***")).to_be_visible()
    expect(page.get_by_text("s3cret")).to_have_count(0)
    (function,) = [f for f in client.functions.list() if f.external_id == "uploaded-1"]
    assert (function.cpu, function.env_vars) == (0.5, {"GREETING": "hello"})
    assert function.call(data={}).get_response() == {"keys": ["api-key"]}


def test_a_failing_deploy_shows_why_live(
    visit: Visit, client: CogniteClient, tmp_path: Path
) -> None:
    page = visit.page
    visit.sign_in()
    handler = SLOW_IMPORT + "import not_a_module_anywhere\n\n\ndef handle(data):\n    pass\n"
    upload = _upload(tmp_path, "handler.py", {"handler.py": handler})
    _deploy_form(visit, client.config.project, upload, name="broken")
    page.evaluate(LIVE_MARK)
    expect(page.locator("#function-status")).to_have_text("Failed", timeout=60_000)
    assert page.evaluate("window.__samePage") is True
    expect(page.locator("#deploy-message")).to_have_text(
        "Importing handler.py failed: ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    )
    expect(page.locator("#deploy-trace")).to_contain_text("import not_a_module_anywhere")


def test_run_with_json_shows_completed_response_and_logs(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "chatty")
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/functions/{function.id}"))
    data, run = page.get_by_label("Input data (JSON)"), page.get_by_role("button", name="Run")
    data.fill('{"lines": 2,}')
    expect(page.locator("#run-data-problem")).to_contain_text("Not valid JSON")
    expect(run).to_be_disabled()
    data.fill('{"lines": 2}')
    expect(run).to_be_enabled()
    run.click()
    expect(page.locator("#call-status")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#call-response")).to_have_text('{\n  "printed": 2\n}')
    expect(page.locator("#call-logs li")).to_have_count(2)
    expect(page.locator("#call-logs")).to_contain_text("line 1")
    expect(page.get_by_label("Python code fetching this call")).to_contain_text(
        "client.functions.calls.retrieve(call_id="
    )
    (call,) = client.functions.calls.list(function_id=function.id)
    assert call.get_response() == {"printed": 2}


def test_a_failing_calls_trace_is_one_click_from_its_function(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "raises")
    function.call(data={"v": 7})
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/functions/{function.id}"))
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Filter").click()
    page.locator("table a").first.click()
    expect(page.locator("#call-status")).to_have_text("Failed")
    expect(page.locator("#call-error")).to_have_text("ValueError: bad value 7")
    trace = page.get_by_label("Trace", exact=True)
    expect(trace).to_contain_text("Traceback (most recent call last)")
    expect(trace).to_contain_text('raise ValueError(f"bad value {value}")')
    expect(page.locator("#call-logs")).to_contain_text("about to fail")


def test_logs_of_a_running_call_appear_before_it_ends(visit: Visit, client: CogniteClient) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "chatty")
    visit.sign_in()
    # It prints three lines, then lingers 4 s (the shared server's calls may take 5 s).
    visit.run(project, function.id, '{"lines": 3, "linger": 4}')
    expect(page.locator("#call-logs")).to_contain_text("line 2", timeout=10_000)
    # Printed, shown, and the call still runs.
    expect(page.locator("#call-status")).to_have_text("Running", timeout=1)
    expect(page.locator("#call-status")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#call-logs li")).to_have_count(3)
    expect(page.locator("#call-response")).to_have_text('{\n  "printed": 3\n}')


def test_create_and_delete_a_schedule_with_the_servers_preview(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "ok")
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/functions/{function.id}"))
    page.get_by_text("New schedule").click()
    cron = page.get_by_label("Cron expression (5 fields, UTC)")
    preview = page.locator("#cron-preview")
    cron.fill("61 2 * * *")
    expect(preview).to_contain_text("bad minute field '61'")
    expect(cron).to_have_attribute("aria-invalid", "true")
    cron.fill("30 2 * * MON-FRI")
    expect(preview).to_contain_text("At 02:30, Monday through Friday (UTC)")
    expect(preview.locator("li")).to_have_count(5)
    page.get_by_label("Name", exact=True).fill("weekday nights")
    page.get_by_label("Data for each call (JSON, optional)").fill('{"x": 41}')
    page.get_by_role("button", name="Create schedule").click()
    row = page.get_by_role("row").filter(has_text="weekday nights")
    expect(row).to_contain_text("At 02:30, Monday through Friday")
    expect(row.locator("li")).to_have_count(5)
    (schedule,) = client.functions.schedules.list(function_id=function.id)
    assert schedule.cron_expression == "30 2 * * MON-FRI"
    assert client.functions.schedules.get_input_data(id=schedule.id) == {"x": 41}

    row.get_by_role("link", name="Delete schedule weekday nights").click()
    page.get_by_role("button", name="Delete schedule").click()
    expect(page.get_by_text("No schedules.")).to_be_visible()
    assert len(client.functions.schedules.list(function_id=function.id)) == 0


def test_runs_timeline_shows_what_ran_and_what_runs_next(
    visit: Visit, client: CogniteClient
) -> None:
    page, project = visit.page, client.config.project
    ok, raises = deploy(client, "ok"), deploy(client, "raises")
    client.functions.schedules.create(
        name="every ten", cron_expression="*/10 * * * *", function_id=ok.id, data={"x": 1}
    )
    ok.call(data={"x": 1})
    failed = raises.call(data={"v": 2})
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/runs"))
    timeline = page.locator("svg.timeline")
    expect(timeline.locator("circle.mark-completed")).to_have_count(1)
    expect(timeline.locator("circle.mark-failed")).to_have_count(1)
    expect(timeline.locator("circle.mark-scheduled")).to_have_count(24 * 6)
    expect(page.get_by_role("table").first).to_contain_text("every ten")
    past = page.locator("table").last
    expect(past).to_contain_text("Completed")
    expect(past).to_contain_text("ValueError: bad value 2")

    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.get_by_text("Upcoming calls have no status yet")).to_be_visible()
    page.get_by_role("link", name=str(failed.id), exact=True).click()
    expect(page.locator("#call-error")).to_have_text("ValueError: bad value 2")

    page.goto(visit.url(f"/console/p/{project}/runs"))
    page.get_by_label("Function", exact=True).select_option(label="raises")
    page.get_by_role("button", name="Show").click()
    expect(timeline.locator("circle")).to_have_count(1)
    expect(page.get_by_text("Nothing scheduled.")).to_be_visible()


def test_delete_a_function_after_confirming(visit: Visit, client: CogniteClient) -> None:
    page, project = visit.page, client.config.project
    function = deploy(client, "ok")
    visit.sign_in()
    page.goto(visit.url(f"/console/p/{project}/functions/{function.id}"))
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete function ok?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    assert client.functions.retrieve(id=function.id) is not None
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete function").click()
    expect(page.get_by_role("heading", name="Functions")).to_be_visible()
    expect(page.get_by_text("No functions yet.")).to_be_visible()
    assert client.functions.retrieve(id=function.id) is None
