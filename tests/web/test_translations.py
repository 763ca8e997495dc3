"""The Russian catalog: complete, translated, and compiled from its current source.

A message added to the code or a template without its Russian translation fails here: the
catalog is extracted afresh (as `make makemessages` does) into a copy of the project and
compared with the committed one.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

PROJECT_DIR = Path(settings.BASE_DIR)
PO = PROJECT_DIR / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# What `makemessages` reads: the apps and the settings (scripts/messages.sh ignores the rest).
SOURCES = ["manage.py", "referral_api", "users", "invites", "rewards", "web", "locale"]


def untranslated(catalog: polib.POFile) -> list[str]:
    return [
        entry.msgid
        for entry in catalog
        if entry.fuzzy
        or (not entry.msgid_plural and not entry.msgstr)
        or (entry.msgid_plural and not all(entry.msgstr_plural.values()))
    ]


def test_russian_catalog_translates_every_message() -> None:
    catalog = polib.pofile(str(PO))

    assert len(catalog) > 50
    assert untranslated(catalog) == []
    assert catalog.obsolete_entries() == []
    assert not catalog.metadata_is_fuzzy


def test_russian_catalog_has_every_message_of_the_code_and_templates(tmp_path: Path) -> None:
    for name in SOURCES:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)

    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "ru", "--no-obsolete"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    fresh = polib.pofile(str(tmp_path / "locale" / "ru" / "LC_MESSAGES" / "django.po"))
    committed = {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(PO))}
    missing = [msgid for context, msgid in {(e.msgctxt, e.msgid) for e in fresh} - committed]
    assert missing == [], "run `make makemessages` and translate the new entries"
    assert untranslated(fresh) == []


def test_compiled_catalog_is_the_current_one() -> None:
    if not MO.exists():
        pytest.fail(f"{MO} is missing: run `make messages`")
    source = {entry.msgid: entry.msgstr or entry.msgstr_plural for entry in polib.pofile(str(PO))}
    compiled = {
        entry.msgid: entry.msgstr or entry.msgstr_plural
        for entry in polib.mofile(str(MO))
        if entry.msgid
    }

    assert compiled == source, f"{MO} is out of date: run `make messages`"
