from fnhost.auth import capabilities as caps
from fnhost.auth.principal import Grant, Principal


def test_principal_capabilities_are_per_project() -> None:
    principal = Principal(
        "user",
        (
            Grant(frozenset({"a"}), frozenset({caps.FUNCTIONS_READ})),
            Grant(frozenset({"b"}), frozenset({caps.FUNCTIONS_WRITE})),
        ),
    )
    assert principal.can("a", caps.FUNCTIONS_READ)
    assert not principal.can("a", caps.FUNCTIONS_WRITE)
    assert principal.can("b", caps.FUNCTIONS_WRITE)
    assert not principal.in_project("c")
    assert principal.projects == {"a", "b"}


def test_principal_with_all_projects_is_in_every_project() -> None:
    principal = Principal.of("admin", projects=None, capabilities=frozenset({caps.FILES_READ}))
    assert principal.all_projects
    assert principal.can("anything", caps.FILES_READ)
    assert principal.capabilities_in("anything") == {caps.FILES_READ}


def test_as_cdf_names_the_project_scope() -> None:
    entries = caps.as_cdf(frozenset({caps.FUNCTIONS_READ, caps.FUNCTIONS_RUN}), frozenset({"p"}))
    assert entries == [
        {
            "functionsAcl": {"actions": ["READ", "RUN"], "scope": {"all": {}}},
            "projectScope": {"projects": ["p"]},
        }
    ]
    assert caps.as_cdf(frozenset({caps.FILES_READ}), None)[0]["projectScope"] == {"allProjects": {}}
