"""Recompute every rollup, fan spend and segment, and the best-hours heatmap from the raw rows:
after a bulk import, a rate correction or a change to the rollup rules."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics import rollups


class Command(BaseCommand):
    help = "Rebuild daily rollups (all creators or one), fan segments and best hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--creator", type=int, help="Creator id; default every creator.")
        parser.add_argument("--start", type=date.fromisoformat,
                            help="First local day (YYYY-MM-DD); default: first data.")
        parser.add_argument("--end", type=date.fromisoformat, help="Last local day (YYYY-MM-DD); default: today.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = rollups.rebuild(creator_id=options["creator"], start=options["start"], end=options["end"])
        self.stdout.write(f"{result['rows']} rollup rows in {result['chunks']} chunks; fans {result['fans']}; "
                          f"{result['posting_hours']} best-hour cells")
