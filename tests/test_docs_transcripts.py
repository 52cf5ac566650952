"""The docs never drift from the product: every console transcript in README.md and docs/**/*.md
(a ```text block with `NAME@CHAT>` lines) is replayed against a fresh demo and must print what it
shows. Also: mkdocs.yml's nav lists every page, and README.md stays short."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.console.session import ConsoleSession
from bot.app import App
from bot.config import Config
from bot.demo import DEMO_COMMUNITY, seed_demo
from core.clock import ManualClock

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
# The demo's "now": the sandbox clock a fresh `make demo` would show on this date.
DEMO_NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PROMPT = re.compile(r"^(?P<name>[^\s@>]+)@(?P<chat>[^\s>]+)> ?(?P<line>.*)$")
BLOCK = re.compile(r"^```text\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A line of only "..." in a transcript stands for any number of lines the page leaves out; a line
# ending in "..." for any line that starts with what comes before (a random code, say).
ELIDED = "..."


@dataclass(frozen=True)
class Transcript:
    page: str
    number: int  # 1-based, among the page's transcripts
    lines: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.page}#{self.number}"


def transcripts(page: Path) -> list[Transcript]:
    found = [b for b in BLOCK.findall(page.read_text(encoding="utf-8")) if _is_transcript(b)]
    name = str(page.relative_to(ROOT))
    return [Transcript(name, n, tuple(b.rstrip("\n").splitlines())) for n, b in enumerate(found, 1)]


def _is_transcript(block: str) -> bool:
    return any(PROMPT.match(line) for line in block.splitlines())


ALL = [t for page in PAGES for t in transcripts(page)]


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` equals ``actual``, an ELIDED line matching any run of lines (even none)."""
    if not expected:
        return not actual
    if expected[0] == ELIDED:
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and _same(expected[0], actual[0]) and matches(expected[1:], actual[1:])


def _same(expected: str, actual: str) -> bool:
    if expected.endswith(ELIDED):
        return actual.startswith(expected.removesuffix(ELIDED))
    return expected == actual


async def replay(app: App, clock: ManualClock, transcript: Transcript) -> list[str]:
    """Type the transcript's lines as its prompts say; return it with the printed lines in place
    of the expected ones. A prompt naming another member or chat than the session's switches to
    them first, silently (the page shows only what matters)."""
    output: list[str] = []
    session = await ConsoleSession.open(
        app, clock, community=DEMO_COMMUNITY, locale="en", write=output.append, member="Ana"
    )
    result: list[str] = []
    for line in transcript.lines:
        typed = PROMPT.match(line)
        if typed is None:
            continue
        name, chat = typed["name"], typed["chat"]
        if session.where.member != name:
            await session.handle_line(f":as {name}")
        if session.where.label != chat:
            await session.handle_line(":dm" if chat == "dm" else f":in {chat}")
        output.clear()
        await session.handle_line(typed["line"])
        result.append(line)
        result.extend(output)
    return result


def _expected_with_elisions(transcript: Transcript) -> list[str]:
    return [line for line in transcript.lines if line.strip()]


@pytest.fixture
async def demo(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[App, ManualClock]]:
    """A fresh demo community on a fresh database (conftest's db_url: SQLite, or PostgreSQL)."""
    config = Config(database_url=db_url, data_dir=tmp_path / "data", community=DEMO_COMMUNITY)
    clock = ManualClock(DEMO_NOW)
    app = await App.open(config, clock=clock)
    await seed_demo(app)
    yield app, clock
    await app.close()


def test_the_pages_hold_transcripts() -> None:
    pages = {t.page for t in ALL}
    assert {"README.md", "docs/console.md"} <= pages and len(ALL) >= 9, [t.id for t in ALL]


@pytest.mark.parametrize("transcript", ALL, ids=[t.id for t in ALL])
async def test_a_transcript_prints_what_the_page_shows(
    demo: tuple[App, ManualClock], transcript: Transcript
) -> None:
    app, clock = demo
    actual = await replay(app, clock, transcript)
    expected = _expected_with_elisions(transcript)
    assert matches(expected, actual), "\n".join(["the console printed:", *actual])


def test_elided_lines_match_any_run() -> None:
    assert matches(["a", ELIDED, "d"], ["a", "b", "c", "d"])
    assert matches(["a", ELIDED, "d"], ["a", "d"])
    assert not matches(["a", ELIDED, "d"], ["a", "b"])
    assert not matches(["a"], ["a", "b"])
    assert matches(["code ref_..."], ["code ref_x1"])
    assert not matches(["code ref_..."], ["code other"])


NAV_PAGE = re.compile(r"^\s*-\s*(?:[^:]+:\s*)?(?P<page>[\w./-]+\.md)\s*$")


def test_the_nav_lists_every_page() -> None:
    """mkdocs --strict only warns about pages left out of the nav (as info); this fails on it."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]
    listed = [m["page"] for line in nav.splitlines() if (m := NAV_PAGE.match(line))]
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(set(listed)) == on_disk
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_the_readme_is_short() -> None:
    assert (ROOT / "README.md").stat().st_size <= 12 * 1024


def test_the_readmes_links_into_the_docs_exist() -> None:
    """README.md is read on the forge, outside mkdocs: its relative links are checked here."""
    targets = re.findall(r"\]\((?!https?:)([^)#]+)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert targets
    assert [t for t in targets if not (ROOT / t).exists()] == []
