"""Ray is optional: a server that does not select it never loads it, nor does an API replica
(its composition is the same module), nor the dispatcher's command until it runs."""

import subprocess
import sys


def test_the_server_and_its_local_executor_never_import_ray() -> None:
    check = (
        "import sys, fnhost.cli.main, fnhost.cli.server, fnhost.cli.dispatcher\n"
        "import fnhost.executor.local\n"
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray loaded'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
