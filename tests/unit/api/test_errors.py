from fnhost import errors
from fnhost.api.errors import status_of


def test_each_domain_error_has_its_status() -> None:
    assert status_of(errors.InvalidInput()) == 400
    assert status_of(errors.NotFound()) == 404
    assert status_of(errors.Conflict()) == 409
    assert status_of(errors.Unauthenticated()) == 401
    assert status_of(errors.Forbidden()) == 403
    assert status_of(errors.PayloadTooLarge()) == 413


def test_unknown_ids_are_a_400_as_in_cdf() -> None:
    assert status_of(errors.NotFound(missing=[{"id": 1}])) == 400


def test_default_message_is_the_docstring() -> None:
    assert errors.Forbidden().message == "The token lacks the capability this request needs."
