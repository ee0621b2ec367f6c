"""`feedsync explain`: why a product is, or is not, in each channel's feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from feedsync.errors import ExitCode

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
