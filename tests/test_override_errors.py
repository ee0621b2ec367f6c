"""An override's mistake is the merchant's (issue 14 item 4): exit 2, the merchant's config
file and the key ``channels.google.overrides.title``, never the shipped template; an unknown
filter lists the filters that exist, close matches first; an unquoted URL is told so.
Through the real CLI, as a subprocess.
"""

from __future__ import annotations

from pathlib import Path

from feedsync.errors import ExitCode
from tests.helpers import COLUMNS, error_line, good_row, run_cli, tip_line, write_csv


def _build(tmp_path: Path, overrides: str) -> tuple[int, str]:
    catalog = write_csv(tmp_path / "catalog.csv", [good_row("A1")], COLUMNS)
    config = tmp_path / "shop.yaml"
    config.write_text("channels:\n  google:\n    overrides:\n" + overrides, encoding="utf-8")
    code, _, err = run_cli("build", catalog, "--config", config, "--channel", "google",
                           "--out", tmp_path / "out")
    return code, err


def test_an_unknown_filter_names_the_merchants_key(tmp_path: Path) -> None:
    code, err = _build(tmp_path, "      title: product.title | titlecase\n")
    assert code == ExitCode.USAGE, err
    line = error_line(err)
    assert "shop.yaml" in line and "channels.google.overrides.title" in line
    assert "unknown filter 'titlecase'" in line
    assert "channel_templates" not in err and "Traceback" not in err
    tip = tip_line(err)
    assert "did you mean" in tip and "'title'" in tip
    # close matches first, then every filter there is
    listed = tip.split("available filters: ")[1].split(", ")
    assert listed[0] in {"title", "trim"} and "plain_text" in listed and "money" in listed


def test_an_unquoted_url_is_called_plain_text(tmp_path: Path) -> None:
    code, err = _build(tmp_path, "      image_link: https://cdn.example.com/a.jpg\n")
    assert code == ExitCode.USAGE, err
    line = error_line(err)
    assert "channels.google.overrides.image_link" in line
    assert "not a Jinja expression but plain text" in line
    assert "quote it" in tip_line(err)
    assert "\"'https://cdn.example.com/a.jpg'\"" in tip_line(err)


def test_a_broken_expression_says_it_is_not_valid_jinja(tmp_path: Path) -> None:
    code, err = _build(tmp_path, "      title: \"product.title | truncate_words(\"\n")
    assert code == ExitCode.USAGE, err
    assert "is not a valid Jinja expression" in error_line(err)
    assert "channels.google.overrides.title" in error_line(err)


def test_an_unknown_variable_in_an_override_is_a_config_error(tmp_path: Path) -> None:
    code, err = _build(tmp_path, "      title: produkt.title\n")
    assert code == ExitCode.USAGE, err
    assert "undefined variable 'produkt'" in error_line(err)
    assert "channels.google.overrides.title" in error_line(err)
