"""The shop tests' world: a community with a creator and two learners, and a course (the
``shop`` fixture in conftest.py builds it)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog.models import Course
from core.members.models import Community, Member


@dataclass
class Shop:
    community: Community
    mei: Member  # creator
    ana: Member
    ben: Member
    course: Course  # py101, $19.99, two lessons (the second opens 2 days after purchase)
