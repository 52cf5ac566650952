"""core/links.py: the links a page or a reply offers to open the community elsewhere."""

from __future__ import annotations

import pytest

from core.links import WECHAT_H5_PATH, invitation_link, local_path, mini_app_link, telegram_start_link


def test_telegram_start_links_and_invitations() -> None:
    assert telegram_start_link("hall_bot") == "https://t.me/hall_bot"
    assert telegram_start_link("hall_bot", "ref_abcd2345") == "https://t.me/hall_bot?start=ref_abcd2345"
    assert invitation_link("abcd2345", "hall_bot") == "https://t.me/hall_bot?start=ref_abcd2345"
    assert invitation_link("abcd2345", None) == "/start ref_abcd2345"


def test_the_mini_app_link_needs_https_and_carries_where_to_land() -> None:
    assert mini_app_link(None) is None
    assert mini_app_link("http://127.0.0.1:8080") is None  # Telegram opens Mini Apps over HTTPS only
    assert mini_app_link("https://learn.example/", "/learn/py101/2") == (
        "https://learn.example/learn/app?next=/learn/py101/2"
    )
    assert (
        mini_app_link("https://learn.example", "/me", WECHAT_H5_PATH)
        == "https://learn.example/learn/wechat?next=/me"
    )


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        ("/learn/py101/2", "/learn/py101/2"),
        ("/me", "/me"),
        (None, "/me"),
        ("", "/me"),
        ("//evil.example/x", "/me"),
        ("https://evil.example/", "/me"),
        ("/\\\\evil.example", "/me"),
        ("learn/py101/1", "/me"),
        ("/" + "x" * 300, "/me"),
    ],
)
def test_landing_after_sign_in_stays_on_this_site(then: str | None, expected: str) -> None:
    assert local_path(then) == expected
