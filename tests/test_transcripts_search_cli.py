"""`hotline transcripts search` and `hotline transcripts reindex` on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cases.call_records import record_call
from cases.db import Database
from cases.transcript_records import attach_transcript
from hotline_cli.main import main
from telephony.records import CallRecord

TURNS = [{"speaker": "agent", "start": 0.5, "end": 2.0, "text": "您好 请问 有 什么 可以 帮 您"},
         {"speaker": "customer", "start": 3.0, "end": 7.5, "text": "运单 号 SF1234567890 我 要 投诉"}]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    with db.session() as s:
        record_call(s, CallRecord(linkedid="CLI.1", caller="13900001111", outcome="answered",
                                           agent="agent1001", hotline="service", started_at=1_790_000_000.0))
        attach_transcript(s, "CLI.1", engine="vosk-turns", model="m", speaker="mixed", text="",
                                   words_json=json.dumps(TURNS, ensure_ascii=False), duration_s=8.0)
    db.dispose()
    path = tmp_path / "hotline.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "h.db"}"\n', encoding="utf-8")
    return path


def test_search_prints_hits_with_the_match_marked(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "transcripts", "search", "投诉"]) == 0
    out, err = capsys.readouterr()
    assert "CLI.1" in out and "customer@0:03" in out and "[投诉]" in out and "1 hits" in err
    assert main(["--config", str(config), "transcripts", "search", "sf1234*", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out.splitlines()[0])
    assert hit["linkedid"] == "CLI.1" and hit["snippet_html"] == "运单 号 <mark>SF1234</mark>567890 我 要 投诉"
    assert main(["--config", str(config), "transcripts", "search", "投诉", "--speaker", "agent"]) == 0
    assert capsys.readouterr().out == ""


def test_bad_query_and_unmigrated_database_are_one_line_errors(config: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "transcripts", "search", '"投诉']) == 2
    assert capsys.readouterr().err.strip().endswith('hotline transcripts: error: a quote (") is not closed')
    other = tmp_path / "other.toml"
    other.write_text(f'database_url = "sqlite:///{tmp_path / "empty.db"}"\n', encoding="utf-8")
    assert main(["--config", str(other), "transcripts", "search", "投诉"]) == 2
    assert "run `hotline db` first" in capsys.readouterr().err


def test_reindex_rebuilds_the_segments(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "transcripts", "reindex"]) == 0
    assert "2 transcript turns indexed" in capsys.readouterr().out
    assert main(["--config", str(config), "transcripts", "search", "您好"]) == 0
    assert "CLI.1" in capsys.readouterr().out
