"""core/web_sessions/mini_app.py: Telegram Mini App init data, checked as Telegram documents it.
The vectors are built here with that algorithm from a known token, independently of the code."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.web_sessions.mini_app import MiniAppUser, verified_user
from tests.mini_app_fixtures import NOW, TOKEN, init_data


def test_signed_data_names_the_telegram_user() -> None:
    assert verified_user(init_data(signature="c2lnbmF0dXJl"), TOKEN, NOW) == MiniAppUser(
        279058397, "Ana Lee", "zh-hans"
    )


def test_a_user_without_a_name_goes_by_username_or_id() -> None:
    assert verified_user(init_data(user={"id": 7, "username": "zed"}), TOKEN, NOW) == MiniAppUser(
        7, "zed", None
    )
    assert verified_user(init_data(user={"id": 7}), TOKEN, NOW) == MiniAppUser(7, "7", None)


def test_data_signed_with_another_bots_token_is_refused() -> None:
    assert verified_user(init_data(token="654321:other"), TOKEN, NOW) is None


def test_stale_or_future_data_is_refused() -> None:
    assert verified_user(init_data(signed_at=NOW - timedelta(minutes=59)), TOKEN, NOW) is not None
    assert verified_user(init_data(signed_at=NOW - timedelta(hours=2)), TOKEN, NOW) is None
    assert verified_user(init_data(signed_at=NOW + timedelta(hours=1)), TOKEN, NOW) is None


def test_forged_fields_are_refused() -> None:
    genuine = init_data()
    other_user = genuine.replace("279058397", "279058398")
    assert other_user != genuine and verified_user(other_user, TOKEN, NOW) is None
    later = genuine.replace(f"auth_date={int(NOW.timestamp())}", f"auth_date={int(NOW.timestamp()) + 60}")
    assert verified_user(later, TOKEN, NOW) is None
    assert verified_user(genuine + "&user=%7B%22id%22%3A1%7D", TOKEN, NOW) is None  # a key given twice
    unsigned = "&".join(part for part in genuine.split("&") if not part.startswith("hash="))
    assert verified_user(unsigned, TOKEN, NOW) is None


def test_malformed_data_is_refused() -> None:
    for data in ("", "nonsense", "a=1&&b", "hash=00", init_data(user={"name": "no id"})):
        assert verified_user(data, TOKEN, NOW) is None
    assert verified_user(init_data(), "", NOW) is None  # no bot token configured


@given(st.text(max_size=300))
def test_any_text_is_refused_without_raising(data: str) -> None:
    assert verified_user(data, TOKEN, NOW) is None
