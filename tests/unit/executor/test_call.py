import signal

from fnhost.executor.call import describe_death


def test_deaths_are_explained() -> None:
    assert "killed by SIGKILL" in describe_death(-signal.SIGKILL)
    assert "out of memory" in describe_death(-signal.SIGKILL)
    assert "killed by SIGSEGV" in describe_death(-signal.SIGSEGV)
    assert "exited with code 3" in describe_death(3)
