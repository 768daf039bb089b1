"""Cost of the hard-block screen (``compliance.hardblock.screen_text``) per text.

Run: ``.venv/bin/python -m bench.hardblock`` (``--runs N`` timed repetitions per case, default 200).

What is timed: the CPU time of one call of ``screen_text`` (``time.process_time``, so other processes on a
shared machine do not count) on a typical caption, a long caption and hostile inputs, the mean over
``--runs`` calls after one warm-up call (the lists compile once per process; that compile is
reported separately); and one pass over each test corpus (``tests/compliance/corpus``), as texts per
second. Pure Python and ``re``: no database, no Django settings.
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from pathlib import Path

from compliance import hardblock

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "compliance" / "corpus"

TYPICAL = (
    "New lingerie set just dropped 🔥 Red lace, candlelight and a little surprise at the end 😘 "
    "Link in bio! #lingerie #redlace #newset"
)
LONG = (
    "Fresh lingerie set dropping tonight, nude and explicit, sexy and hot. MILF vibes, stepmom roleplay, "
    "petite babe. 18+ only. I'm 24 and 16 hours away; fifteen minutes of fame. Link in bio #newset "
)
CASES = {
    "typical caption (128 chars)": TYPICAL,
    "caption with a hit (hashtag, 54 chars)": "New set tonight 🔥 #hotsixteenschoolgirl #lingerie",
    "obfuscated hit (t>e>e>n, invisible chars)": "hot t>e>e>n pics, t\u034fe\ufe0fe\u3164n vibes",
    "long caption (2,000 chars)": (LONG * 20)[:2000],
    "hostile: 't' + 2,000 'e'": "t" + "e" * 2000,
    "hostile: 2,000 '1'": "1" * 2000,
    "hostile: 'kid ' × 500 (500 hits)": "kid " * 500,
}


# The screen remembers the texts it has read (a caption comes back for every target of its post);
# what is timed here is a first reading, without that memory.
_first_reading = hardblock._screen.__wrapped__


def _cpu_ms(text: str, runs: int) -> float:
    _first_reading(text, ())
    started = time.process_time()
    for _ in range(runs):
        _first_reading(text, ())
    return (time.process_time() - started) / runs * 1000


def _cached_us(text: str, runs: int) -> float:
    hardblock.screen_text(text)
    started = time.process_time()
    for _ in range(runs):
        hardblock.screen_text(text)
    return (time.process_time() - started) / runs * 1_000_000


def _corpus(name: str) -> list[str]:
    texts = []
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            text = line.split(" | ", 2)[2]
            texts.append(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    started = time.process_time()
    hardblock._builtin()
    compile_ms = (time.process_time() - started) * 1000
    print(f"Python {platform.python_version()}, {platform.machine()}; lists compiled once in {compile_ms:.0f} ms\n")
    print("| text | CPU per call |")
    print("|---|---:|")
    for label, text in CASES.items():
        print(f"| {label} | {_cpu_ms(text, args.runs):.3f} ms |")
    print(f"\nThe typical caption read again (remembered): {_cached_us(TYPICAL, args.runs * 10):.1f} µs\n")
    for name in ("adversarial.txt", "innocent.txt"):
        texts = _corpus(name)
        started = time.process_time()
        for text in texts:
            _first_reading(text, ())
        elapsed = time.process_time() - started
        print(f"{name}: {len(texts)} texts in {elapsed * 1000:.0f} ms ({len(texts) / elapsed:,.0f} texts/s)")


if __name__ == "__main__":
    main()
