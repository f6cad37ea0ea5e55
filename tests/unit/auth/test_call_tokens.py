from fnhost.auth import call_tokens

KEY = b"k" * 32


def test_a_minted_token_verifies_to_its_claims() -> None:
    token = call_tokens.mint(KEY, call_id=7, session_id=3, expires_ms=2_000)
    assert call_tokens.is_call_token(token)
    assert call_tokens.verify(KEY, token, now_ms=1_000) == call_tokens.CallToken(7, 3, 2_000)


def test_expired_forged_and_tampered_tokens_are_refused() -> None:
    token = call_tokens.mint(KEY, call_id=7, session_id=3, expires_ms=2_000)
    assert call_tokens.verify(KEY, token, now_ms=2_000) is None
    assert call_tokens.verify(b"x" * 32, token, now_ms=1_000) is None
    other_session = token.replace(":3:", ":4:")
    assert call_tokens.verify(KEY, other_session, now_ms=1_000) is None
    assert call_tokens.verify(KEY, "fnc1:garbage", now_ms=1_000) is None
