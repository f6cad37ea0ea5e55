"""Redaction and summaries of uv's build output."""

from fnhost.builder import uv

URL = "https://deploy-bot:p%40ss-w0rd@pkgs.example.com/simple"


def test_redact_removes_credentials_in_every_spelling() -> None:
    output = f"fetching {URL}\nauth failed for deploy-bot with password p@ss-w0rd (p%40ss-w0rd)\n"
    redacted = uv.redact(output, [URL, "https://pypi.org/simple"])
    assert "https://***@pkgs.example.com/simple" in redacted
    for secret in ("deploy-bot", "p@ss-w0rd", "p%40ss-w0rd"):
        assert secret not in redacted


def test_redact_leaves_urls_without_credentials_alone() -> None:
    output = "fetching https://pypi.org/simple/tabulate/"
    assert uv.redact(output, ["https://pypi.org/simple"]) == output


def test_summary_names_the_missing_package_and_the_hint() -> None:
    output = (
        "Using Python 3.11.7 environment at: /envs/x\n"
        "error: No solution found when resolving dependencies\n"
        "  cause: Because tabulate was not found in the package registry and you require "
        "tabulate==0.9.0, we can conclude that your requirements are unsatisfiable.\n"
        "\n"
        "hint: An index URL (http://127.0.0.1:1/simple) could not be queried due to a lack of "
        "valid authentication credentials (401 Unauthorized)\n"
    )
    assert uv.summary(output) == (
        "Could not install the requirements: tabulate was not found in the package index "
        "(An index URL (http://127.0.0.1:1/simple) could not be queried due to a lack of valid "
        "authentication credentials (401 Unauthorized))"
    )


def test_summary_keeps_the_most_specific_cause_of_an_error_chain() -> None:
    output = (
        "  \u00d7 Failed to build `broken==1.0`\n"
        "  \u251c\u2500\u25b6 The build backend returned an error\n"
        "  \u2570\u2500\u25b6 Call to `setuptools.build_meta.build_wheel` failed (exit status: 1)\n"
    )
    assert uv.summary(output) == (
        "Could not install the requirements: Call to `setuptools.build_meta.build_wheel` "
        "failed (exit status: 1)"
    )


def test_summary_of_unrecognised_output_is_its_last_line() -> None:
    assert uv.summary("something odd\nreally odd\n") == (
        "Could not install the requirements: really odd"
    )
    assert uv.summary("") == "Could not install the requirements: uv failed"


def test_summary_joins_messages_uv_wrapped() -> None:
    output = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because fnhost-no-such-package-q7x was not found in the package\n"
        "  registry and you require fnhost-no-such-package-q7x==1.0, we can\n"
        "  conclude that your requirements are unsatisfiable.\n"
    )
    assert uv.summary(output) == (
        "Could not install the requirements: fnhost-no-such-package-q7x was not found in the "
        "package index"
    )
    wrapped_chain = (
        "  \u00d7 Failed to build `broken==1.0`\n"
        "  \u2570\u2500\u25b6 Call to `setuptools.build_meta.build_wheel` failed\n"
        "      (exit status: 1)\n"
    )
    assert uv.summary(wrapped_chain) == (
        "Could not install the requirements: Call to `setuptools.build_meta.build_wheel` "
        "failed (exit status: 1)"
    )
