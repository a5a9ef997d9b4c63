"""The docs a newcomer reads: a README that fits on a few screens, a settings reference that is
the settings model's, and no relative link pointing nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli.settings_doc import COMMAND, render

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# [text](target) and <a href="target">, skipping absolute URLs and in-page anchors.
LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")


def test_settings_reference_is_generated_from_the_model():
    committed = (ROOT / "docs" / "settings.md").read_text()
    assert committed == render(), f"docs/settings.md is stale: run `{COMMAND}`"


def test_settings_reference_names_every_setting():
    from nba_backfill.settings import Settings

    text = render()
    for section in ("WAREHOUSE__DATASETS__NBA_ANALYTICS", "RUN__CHUNK_DAYS", "FAULTS__SEED"):
        assert f"`NBA_BACKFILL_{section}`" in text
    for name in Settings.model_fields:
        assert f"`NBA_BACKFILL_{name.upper()}" in text


def test_readme_fits_a_few_screens():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # code is not links
    return [a or b for a, b in LINK.findall(text)]


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose file, or heading anchor, does not exist."""
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z]+:", target):  # http(s):, mailto:
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        missing_anchor = anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or missing_anchor:
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_headings(path: Path):
    assert broken_links(path) == [], path.relative_to(ROOT)


def test_broken_links_are_found(tmp_path: Path):
    (tmp_path / "other.md").write_text("# A heading: with, punctuation\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#a-heading-with-punctuation) [web](https://x.org/y)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) [self](#not-here)\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md", "other.md#nowhere", "#not-here"]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # a `# comment` in code
    for line in text.splitlines():
        if m := re.match(r"^#+\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out
