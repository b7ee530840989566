"""`datalake seed`: copy each domain's bundled sample data into landing. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from datalake_platform.lake.storage import LakeStorage


@dataclass
class SeedResult:
    table: str
    files_written: int = 0
    files_unchanged: int = 0
    rows: int = 0

    def add(self, written: bool, rows: int) -> None:
        if written:
            self.files_written += 1
        else:
            self.files_unchanged += 1
        self.rows += rows

    def __str__(self) -> str:
        return f"{self.table}: {self.files_written} files written, {self.files_unchanged} unchanged, {self.rows} data rows"


def seed_all(storage: LakeStorage) -> list[SeedResult]:
    from datalake_platform.domains.images.seed import seed as seed_images
    from datalake_platform.domains.passengers.seed import seed as seed_passengers
    from datalake_platform.domains.posts.seed import seed as seed_posts
    from datalake_platform.domains.transactions.seed import seed as seed_transactions

    return [seed_transactions(storage), seed_passengers(storage), seed_images(storage), *seed_posts(storage)]
