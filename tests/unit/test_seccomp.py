import os

from fnhost import seccomp

SOCK_FILTER_BYTES = 8  # struct sock_filter


def test_the_filter_is_a_bpf_program_naming_every_refused_family() -> None:
    program = seccomp.build()  # libseccomp2 is on every machine this suite runs on
    assert program and len(program) % SOCK_FILTER_BYTES == 0
    assert set(seccomp.REFUSED) == {
        "namespaces",
        "mount",
        "ptrace",
        "kexec",
        "modules",
        "bpf",
        "perf",
        "keys",
        "userfaultfd",
    }


def test_each_bubblewrap_gets_the_filter_from_its_start() -> None:
    with seccomp.descriptor(b"12345678") as fd:
        assert fd is not None
        assert os.read(fd, 100) == b"12345678"
    with seccomp.descriptor(None) as fd:
        assert fd is None
