"""The three-line promise: observe, run decorated code, flush to a file."""

from __future__ import annotations

import json
from pathlib import Path

from aiobs import observe, observer


class TestThreeLines:
    """observe() → decorated calls → flush() writes one JSON document."""

    def test_writes_session_and_events_to_the_session_file(self, tmp_path: Path) -> None:
        @observe
        def double(x: int) -> int:
            return 2 * x

        session_id = observer.observe(session_name="smoke", labels={"team": "core"})
        assert double(21) == 42
        path = observer.flush()

        assert path == f"{session_id}.json"
        document = json.loads((tmp_path / path).read_text())
        assert [s["name"] for s in document["sessions"]] == ["smoke"]
        assert document["sessions"][0]["labels"]["team"] == "core"
        [event] = document["function_events"]
        assert (event["name"], event["args"], event["result"]) == ("double", [21], 42)
        assert event["session_id"] == session_id
        assert document["trace_tree"][0]["name"] == "double"
