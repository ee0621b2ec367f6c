"""`feedsync explain`: why a product is, or is not, in each channel's feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from feedsync.channels.loader import ChannelLibrary
from feedsync.cli import app
from feedsync.errors import ExitCode
from tests.helpers import read_issues

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "examples" / "catalog.csv"


def _explain(*args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "feedsync.cli", "explain", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr


def test_rejected_product_names_rule_field_and_source() -> None:
    code, out, _ = _explain("BAD-GTIN-1", str(CATALOG), "--channel", "google", "--json")
    assert code == ExitCode.OK
    data = json.loads(out)
    [occurrence] = data["occurrences"]
    assert occurrence["source"].endswith("catalog.csv:28")  # its line in the file
    trace = occurrence["channels"]["google"]
    assert trace["outcome"] == "rejected"
    failed = [r for r in trace["rules"] if r["verdict"] == "fail"]
    assert [(r["code"], r["field"]) for r in failed] == [("bad-gtin", "gtin")]
    assert failed[0]["source"] == "https://support.google.com/merchants/answer/6324461"
    assert trace["fields"]["gtin"] == ["4006381333932"]  # up to 10 GTINs: a list
    assert trace["output"] == {}


def test_written_product_shows_its_output_element() -> None:
    code, out, _ = _explain("MUG-350", str(CATALOG), "--channel", "google", "--json")
    data = json.loads(out)
    first, second = data["occurrences"]
    assert first["channels"]["google"]["outcome"] == "written"
    assert first["channels"]["google"]["output"]["xml"].startswith("<item><g:id>MUG-350</g:id>")
    assert second["channels"]["google"]["outcome"] == "rejected"
    assert "duplicate-id" in second["channels"]["google"]["reason"]


def test_human_view_and_filters(tmp_path: Path) -> None:
    config = tmp_path / "feedsync.yaml"
    config.write_text("channels:\n  google:\n    exclude: \"product.brand == 'Acme'\"\n"
                      "  tiktok: {}\n", encoding="utf-8")
    code, out, _ = _explain("PAN-28", str(CATALOG), "--config", str(config))
    assert code == ExitCode.OK
    assert "[google] FILTERED" in out
    assert "[tiktok] WRITTEN" in out
    assert "output csv:" in out


def test_unknown_product_is_a_clear_error() -> None:
    code, out, err = _explain("NOPE-404", str(CATALOG), "--channel", "google")
    assert code == ExitCode.USAGE
    assert "NOPE-404" in err and out == ""


# --- every shipped channel, through the CLI, against what build writes ------------------

CHANNELS = ["google", "microsoft", "meta", "tiktok", "pinterest", "amazon",
            "google_local_inventory"]
GOLDEN = ROOT / "tests" / "golden"


def _cli(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module", params=CHANNELS)
def built(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(channel, config, out): the channel built over examples/ with every output."""
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    settings: dict[str, Any] = {"outputs": list(ChannelLibrary().load(name).outputs)}
    extra = GOLDEN / name / "golden-config.yaml"
    if extra.is_file():  # Amazon's seller id, the local inventory's store stock file
        settings.update(yaml.safe_load(extra.read_text(encoding="utf-8")))
    if "stock" in settings:
        # examples/stores.csv plus one store row the channel rejects (a quantity that is
        # not a number), so this channel has a rejection to explain too.
        stock = folder / "stores.csv"
        text = (ROOT / settings["stock"]["path"]).read_text(encoding="utf-8")
        stock.write_text(text + "HAM-02,KETTLE-1L,lots,,buy,same day\n", encoding="utf-8")
        settings["stock"]["path"] = str(stock)
    config = folder / "feedsync.yaml"
    config.write_text(json.dumps({"channels": {name: settings}}), encoding="utf-8")
    out = folder / "out"
    result = _cli("build", CATALOG, "--config", config, "--out", out)
    assert result.exit_code == ExitCode.OK, result.output
    return name, config, out


def _explained(product_id: str, config: Path) -> dict[str, Any]:
    result = _cli("explain", product_id, CATALOG, "--config", config, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _traces(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """One trace per item: the trace itself, or one per store row of a fan-out channel."""
    return trace["stores"] if "stores" in trace else [trace]


def _assert_written_as_built(trace: dict[str, Any], out: Path, name: str) -> None:
    for output, text in trace["output"].items():
        [path] = [p for p in out.iterdir() if p.name.startswith(name)
                  and not p.name.endswith(".issues.jsonl") and _output_of(p, output)]
        if output == "listings":  # one JSON document: the message is one of its messages
            assert json.loads(text) in json.loads(path.read_bytes())["messages"]
        else:  # one element or row per item: the same bytes, whole lines
            assert ("\n" + text + "\n") in ("\n" + path.read_text(encoding="utf-8")), output


def _output_of(path: Path, output: str) -> bool:
    suffix = {"xml": ".xml", "csv": ".csv", "tsv": (".tsv", ".txt"), "listings": ".json"}
    return path.name.endswith(suffix[output])


def test_every_channel_explains_what_build_wrote(built: tuple[str, Path, Path]) -> None:
    name, config, out = built
    data = _explained("TS-100-NAVY-M", config)
    [occurrence] = data["occurrences"]
    trace = occurrence["channels"][name]
    assert trace["outcome"] == "written"
    for one in _traces(trace):
        assert one["outcome"] == "written"
        assert set(one["output"]) == set(ChannelLibrary().load(name).outputs)
        _assert_written_as_built(one, out, name)
    if name == "google_local_inventory":  # two store rows in examples/stores.csv
        assert [s["store"] for s in trace["stores"]] == ["BER-01", "HAM-02"]


def test_every_channel_explains_a_rejection_as_build_logged_it(
        built: tuple[str, Path, Path]) -> None:
    name, config, out = built
    logged = read_issues(out / f"{name}.issues.jsonl")
    errors = [i for i in logged if i["severity"] == "error" and i["code"] != "duplicate-id"]
    assert errors, "examples/catalog.csv rejects at least one product in every channel"
    first = errors[0]
    data = _explained(first["product_id"], config)
    [occurrence] = [o for o in data["occurrences"]
                    if o["source"].endswith(f":{first['line']}")]
    found = [one for one in _traces(occurrence["channels"][name])
             if one["outcome"] == "rejected"]
    assert found
    explained = {(i["code"], i["field"]) for one in found for i in one["issues"]
                 if i["severity"] == "error"}
    built_codes = {(i["code"], i["field"]) for i in logged
                   if i["line"] == first["line"] and i["severity"] == "error"}
    assert explained == built_codes
    assert all(one["output"] == {} for one in found)


def test_every_channel_explains_the_repeated_id(built: tuple[str, Path, Path]) -> None:
    name, config, _ = built
    first, second = _explained("MUG-350", config)["occurrences"]
    assert first["channels"][name]["outcome"] in ("written", "rejected")
    later = second["channels"][name]
    assert later["outcome"] == "rejected" and later["reason"].startswith("duplicate-id")
    rules = ChannelLibrary().load(name).fields
    id_field = {"amazon": "sku", "tiktok": "sku_id"}.get(name, "id")
    assert later["source"] == rules[id_field].rules[0].source
