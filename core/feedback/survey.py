"""What an NPS survey push looks like (the push outbox builds it per recipient): the question,
the creator's own or a default one in the recipient's language, with 0–10 buttons whose data
runs ``/nps SCORE #SURVEY`` for whoever presses."""

from __future__ import annotations

from core.i18n import msg
from core.replies import Button, Buttons, Content, Reply, Text

SURVEY_KIND = "nps"  # push_campaigns.kind of a survey
SCORES = range(0, 11)
QUESTION = msg(
    "How likely are you to recommend {community} to a friend? Tap a number from 0 (not at all)"
    " to 10 (very likely), or send /nps SCORE."
)


def question(community: str, text: str | None = None) -> Content:
    """The creator's question, else the default one naming ``community``."""
    return text if text else msg(QUESTION.text, community=community)


def answer_data(survey_id: int, score: int) -> str:
    return f"cmd:/nps {score} #{survey_id}"


def survey_reply(survey_id: int, community: str, text: str | None = None) -> Reply:
    """The survey as pushed: its question and one button per score, in two rows (0–5, 6–10)."""
    buttons = [Button(str(score), data=answer_data(survey_id, score)) for score in SCORES]
    return Reply((Text(question(community, text)), Buttons((tuple(buttons[:6]), tuple(buttons[6:])))))
