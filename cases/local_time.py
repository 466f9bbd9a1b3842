"""The contact centre's local time: China Standard Time (UTC+8, no daylight saving). Case numbers count
by its calendar day, and the dates and times users type (deadlines, search days) are read in it."""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")  # case numbers use the centre's calendar day
