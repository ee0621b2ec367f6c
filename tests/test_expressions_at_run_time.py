"""Expressions that fail on a product's data at run time (issue 14 item 5, issue 15 item 9).

One product's bad cell is that product's issue (``expression-failed``, naming the
expression's config key) and the build goes on; an expression failing on every product
is a broken template (exit 4) and no feed is replaced; a sandbox violation reached at
run time is a security refusal (exit 9). Through the real CLI, as a subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feedsync.errors import ExitCode
from tests.helpers import COLUMNS, feed_ids, good_row, read_issues, run_cli, write_csv

EXTRA = ["custom_label_0", "key"]


def _catalog(tmp_path: Path, *rows: dict[str, str]) -> Path:
    return write_csv(tmp_path / "catalog.csv", rows, COLUMNS + EXTRA)


def _config(tmp_path: Path, google: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "feedsync.yaml"
    path.write_text(json.dumps({"channels": {"google": google}, **top}), encoding="utf-8")
    return path


def _build(tmp_path: Path, catalog: Path, config: Path,
           *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("build", catalog, "--config", config, "--out", tmp_path / "out",
                             "--json", *extra)
    return code, json.loads(out) if code == ExitCode.OK else {}, err


def _failed(tmp_path: Path, channel: str = "google") -> list[tuple[int, str, str | None]]:
    return [(i["line"], i["product_id"], i["field"])
            for i in read_issues(tmp_path / "out" / f"{channel}.issues.jsonl")
            if i["code"] == "expression-failed"]


def _messages(tmp_path: Path, channel: str = "google") -> list[str]:
    return [i["message"] for i in read_issues(tmp_path / "out" / f"{channel}.issues.jsonl")
            if i["code"] == "expression-failed"]


def test_an_override_failing_on_one_product_rejects_that_product(tmp_path: Path) -> None:
    # `first` of an empty list is undefined: it raises when written (issue 14, item 5).
    catalog = _catalog(tmp_path, good_row("A1", custom_label_0="red|blue"),
                       good_row("A2", custom_label_0=""), good_row("A3", custom_label_0="x"))
    config = _config(tmp_path, {"overrides": {
        "color": "product.custom_label_0 | split_values('|') | first"}})
    code, report, err = _build(tmp_path, catalog, config)
    assert code == ExitCode.OK, err
    google = report["channels"]["google"]
    assert (google["written"], google["rejected"]) == (2, 1)
    assert google["issues"] == {"expression-failed": 1}
    assert _failed(tmp_path) == [(3, "A2", "color")]
    [message] = _messages(tmp_path)
    assert message.startswith("channels.google.overrides.color: ")
    assert feed_ids(tmp_path / "out" / "google.xml") == ["A1", "A3"]


def _channel(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "templates" / "shop"
    folder.mkdir(parents=True)
    (folder / "channel.yaml").write_text(
        "name: shop\ndocs: https://example.com/docs\n"
        "outputs: {csv: {writer: csv, file: shop.csv}}\n" + body, encoding="utf-8")
    return tmp_path / "templates"


def _shop_config(tmp_path: Path, templates: Path, **settings: Any) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(json.dumps({"template_dirs": [str(templates)],
                                "channels": {"shop": settings}}), encoding="utf-8")
    return path


def test_a_channel_field_failing_on_one_product_names_its_file(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "fields:\n  id: product.id\n"
                                   "  per_unit: (1000 // (product.quantity | int)) | string\n")
    catalog = _catalog(tmp_path, good_row("A1", quantity="4"), good_row("A2", quantity="0"))
    code, report, err = _build(tmp_path, catalog, _shop_config(tmp_path, templates))
    assert code == ExitCode.OK, err
    assert (report["channels"]["shop"]["written"], report["channels"]["shop"]["rejected"]) \
        == (1, 1)
    assert _failed(tmp_path, "shop") == [(3, "A2", "per_unit")]
    [message] = _messages(tmp_path, "shop")
    assert "shop/channel.yaml: fields.per_unit.value: ZeroDivisionError" in message
    rows = (tmp_path / "out" / "shop.csv").read_text(encoding="utf-8").splitlines()
    assert rows == ["id,per_unit", "A1,250"]


def test_an_item_check_failing_on_one_product(tmp_path: Path) -> None:
    templates = _channel(tmp_path, "fields:\n  id: product.id\n  quantity: product.quantity\n"
                         "checks:\n  - {code: few-units, assert: 12 // (item.quantity | int) < 3,"
                         " message: too few, source: https://example.com/rule}\n")
    catalog = _catalog(tmp_path, good_row("A1", quantity="4"), good_row("A2", quantity="0"))
    code, report, err = _build(tmp_path, catalog, _shop_config(tmp_path, templates))
    assert code == ExitCode.OK, err
    assert _failed(tmp_path, "shop") == [(3, "A2", None)]
    assert "channel.yaml: checks[0]" in _messages(tmp_path, "shop")[0]
    assert report["channels"]["shop"]["issues"] == {"expression-failed": 1, "few-units": 1}


def test_an_include_filter_failing_on_one_product(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, good_row("A1", quantity="4"), good_row("A2", quantity="0"))
    config = _config(tmp_path, {"include": "10 // (product.quantity | int) > 1"})
    code, report, err = _build(tmp_path, catalog, config)
    assert code == ExitCode.OK, err
    assert _failed(tmp_path) == [(3, "A2", None)]
    assert _messages(tmp_path)[0].startswith("channels.google.include: ")
    assert report["channels"]["google"]["rejected"] == 1


def test_an_expression_failing_on_every_product_is_a_broken_template(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, good_row("A1", custom_label_0="red"), good_row("A2"))
    out = tmp_path / "out"
    code, _, err = run_cli("build", catalog, "--channel", "google", "--out", out)
    assert code == ExitCode.OK, err
    before = (out / "google.xml").read_bytes()
    for google in ({"overrides": {"color": "product.nothing | split_values('|') | first"}},
                   {"include": "product.quantity | int // 0"}):
        config = _config(tmp_path, google)
        code, _, err = run_cli("build", catalog, "--config", config, "--out", out)
        assert code == ExitCode.TEMPLATE, err
        assert "channels.google." in err
        assert (out / "google.xml").read_bytes() == before  # no feed replaced
        assert not [p for p in out.iterdir() if p.name.startswith(".feedsync-")]


def test_a_sandbox_violation_at_run_time_is_a_security_refusal(tmp_path: Path) -> None:
    # The attribute name comes from the data, so only the run can see it (issue 15, item 9).
    catalog = _catalog(tmp_path, good_row("A1", key="upper"), good_row("A2", key="__class__"))
    out = tmp_path / "out"
    for google in ({"overrides": {"title": "product.title | attr(product.key)"}},
                   {"include": "product.title | attr(product.key)"}):
        code, _, err = run_cli("build", catalog, "--config", _config(tmp_path, google),
                               "--out", out)
        assert code == ExitCode.SECURITY, err
        assert "sandbox violation" in err and "A2" in err
        assert not (out / "google.xml").exists()
