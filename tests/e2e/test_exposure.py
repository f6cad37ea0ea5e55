"""Exposed safely: HTTPS served by fnhost itself, forwarded headers believed from trusted
proxies only, and a loud warning for plain HTTP beyond loopback."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import FUNCTIONS
from tests.servers import RunningServer, free_port, wait_until

pytestmark = pytest.mark.e2e


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fnhost test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


# Run as a user would: a script of its own, trusting the CA through SSL_CERT_FILE (the
# cognite-sdk 8 reads it, as it reads no other setting of ours).
SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from cognite.client import ClientConfig, CogniteClient, global_config
    from cognite.client.credentials import Token
    from cognite.client.data_classes import FileMetadataWrite

    global_config.disable_pypi_version_check = True
    url, token, ok_folder, callback_folder = sys.argv[1:]
    client = CogniteClient(ClientConfig(
        client_name="tls-test", project="tls", base_url=url, credentials=Token(token)))
    ok = client.functions.create(name="ok", folder=ok_folder)
    back = client.functions.create(
        name="back", folder=callback_folder, env_vars={"SSL_CERT_FILE": "ca.pem"})
    print(json.dumps({
        "ok": ok.call(data={"x": 1}, wait=True).get_response(),
        "back": back.call(wait=True).get_response(),
        "upload_url": client.files.create(FileMetadataWrite(name="f.zip"))[1],
    }))
    """
)


def test_https_with_a_self_signed_certificate_through_the_sdk(
    make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server = make_server(
        {"FNHOST_TLS_CERT_FILE": str(cert_file), "FNHOST_TLS_KEY_FILE": str(key_file)},
        start=False,
    )
    server.ca_file = cert_file
    server.start()
    # The function that calls back ships the CA and points its client at it.
    callback_folder = tmp_path / "calls_back"
    shutil.copytree(FUNCTIONS / "calls_back", callback_folder)
    shutil.copy(cert_file, callback_folder / "ca.pem")

    run = subprocess.run(
        [
            sys.executable,
            "-c",
            SDK_SCRIPT,
            server.url,
            server.token,
            str(FUNCTIONS / "ok"),
            str(callback_folder),
        ],
        env={**os.environ, "SSL_CERT_FILE": str(cert_file)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["ok"] == {"x": 2}
    assert result["back"] == {"functions": 2, "base_url": server.url}
    assert result["upload_url"].startswith(f"https://127.0.0.1:{server.port}/api/v1/files/upload/")
    # Nothing is served in clear text on that port.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "fnhost.example.com"}


@pytest.mark.parametrize(
    ("allow", "trusted"), [("127.0.0.1", True), ("", False), ("10.1.2.3/32", False)]
)
def test_forwarded_headers_only_from_trusted_proxies(
    make_server: Callable[..., RunningServer], allow: str, trusted: bool
) -> None:
    server = make_server({"FNHOST_FORWARDED_ALLOW_IPS": allow})
    with server.http() as http:
        created = http.post("/api/v1/projects/proxy/files", json={"name": "a"}, headers=FORWARDED)
        links = http.post(
            "/api/v1/projects/proxy/files/downloadlink",
            json={"items": [{"id": created.json()["id"]}]},
            headers=FORWARDED,
        )
    upload_url = created.json()["uploadUrl"]
    download_url = links.json()["items"][0]["downloadUrl"]
    if trusted:
        assert upload_url.startswith("https://fnhost.example.com/api/v1/files/upload/")
        assert download_url.startswith("https://fnhost.example.com/api/v1/files/download/")
    else:
        assert upload_url.startswith(f"http://127.0.0.1:{server.port}/api/v1/files/upload/")
        assert download_url.startswith(f"http://127.0.0.1:{server.port}/api/v1/files/download/")


def test_plain_http_beyond_loopback_warns_at_start(tmp_path: Path) -> None:
    """`fnhost serve --host 0.0.0.0` in a network namespace of its own (only a loopback
    device, which is down), so that nothing outside this test can reach it."""
    unshare = shutil.which("unshare")
    namespaced = (
        unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0
    )
    if not namespaced:
        if os.environ.get("CI"):
            pytest.fail("unshare --net is needed for this test")
        pytest.skip("unshare --net is not available")
    command = [
        unshare,
        "--net",
        sys.executable,
        "-m",
        "fnhost",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FNHOST_SANDBOX": "none"},
        )
    try:
        wait_until(lambda: "Application startup complete" in log.read_text(), timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert "WARNING fnhost.cli.serve: fnhost listens on 0.0.0.0:" in text  # the log line
    assert "WARNING: fnhost listens on 0.0.0.0:" in text  # the console
    assert "over plain HTTP: bearer tokens and client secrets cross the network" in text
