"""Download links and uploads refuse what is not theirs, whatever the URL holds."""

from __future__ import annotations

from pathlib import Path

from tests.integration.apps import in_process, upload_code


async def test_download_link_with_non_ascii_token_is_a_404(tmp_path: Path) -> None:
    # Found by the fuzz run: the token was compared as str, which compare_digest refuses for
    # non-ASCII text (a 500).
    async with in_process(tmp_path) as app:
        file_id = await upload_code(app, "files")
        response = await app.http.get(f"/api/v1/files/download/{file_id}/%E1%9A%9B6")
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": 404,
            "message": "Unknown or expired download link",
        }


async def test_upload_past_its_limit_is_a_413_and_stores_nothing(tmp_path: Path) -> None:
    async with in_process(tmp_path, upload_max_bytes=1000) as app:
        created = await app.http.post("/api/v1/projects/files/files", json={"name": "a.zip"})
        before = await app.snapshot()
        response = await app.http.put(created.json()["uploadUrl"], content=b"0" * 1001)
        assert response.status_code == 413
        assert "FNHOST_UPLOAD_MAX_BYTES" in response.json()["error"]["message"]
        assert await app.snapshot() == before
