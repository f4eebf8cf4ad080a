#!/usr/bin/env python3
"""A run directory of SECONDS seconds, built from tests/fixtures/smoke-run by repeating its
per-second intervals and timeline points with shifted times: what `surge report` reads back
after a long soak, for measuring its memory (benches/README.md, "Reading a long run back").

    benches/long_run_dir.py OUT SECONDS
"""
import json
import pathlib
import shutil
import sys

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "smoke-run"


def long_log(text, seconds):
    header = [l for l in text.splitlines() if not l.startswith("Tag=")]
    lines = [l for l in text.splitlines() if l.startswith("Tag=")]
    out = list(header)
    for second in range(seconds):
        tag, _start, length, rest = lines[second % len(lines)].split(",", 3)
        out.append(f"{tag},{second:.3f},{length},{rest}")
    return "\n".join(out) + "\n"


def main():
    out, seconds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for log in FIXTURE.glob("*.hlog"):
        text = log.read_text()
        if log.name != "totals.hlog":
            text = long_log(text, seconds)
        (out / log.name).write_text(text)
    summary = json.loads((FIXTURE / "summary.json").read_text())
    points = summary["timeline"]
    summary["timeline"] = [dict(points[s % len(points)], t=s + 1.0) for s in range(seconds)]
    summary["startup"]["run_time_s"] = float(seconds)
    (out / "summary.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
