"""Q&A values: questions, answers, and what asking and accepting did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Question:
    id: int
    asker_id: int
    text: str
    bounty: int
    status: str  # open | answered | expired
    accepted_answer_id: int | None
    hidden: bool
    created_at: datetime
    answers: int = 0
    chat_id: int | None = None  # where it was asked: the chats row,
    thread: str | None = None  # its thread there (a forum topic), if any,
    message_id: str | None = None  # and the /ask message


@dataclass(frozen=True)
class Answer:
    id: int
    question_id: int
    answerer_id: int
    text: str
    votes: int
    hidden: bool


@dataclass(frozen=True)
class Asked:
    """What /ask did: posted the question, or held it back to suggest similar ones."""

    question: Question | None = None
    suggestions: tuple[Question, ...] = ()


@dataclass(frozen=True)
class Accepted:
    question: Question
    answer: Answer
    bounty: int
    bonus: int
