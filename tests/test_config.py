"""feedsync.yaml parsing: checked fully, naming the key path, before any work (A8, E5, E7, E8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsync.config import Config, check_file_name, load_config, parse_config
from feedsync.errors import ConfigError, ExitCode


def _load(tmp_path: Path, text: str, name: str = "feedsync.yaml") -> Config:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.exit_code is ExitCode.USAGE
    return caught.value


def test_empty_file_is_the_default_config(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert config.channels == () and config.defaults == {}
    assert config.output_dir == tmp_path / "out"


def test_a_full_config_loads(tmp_path: Path) -> None:
    config = _load(tmp_path, """\
version: 1
catalog: {path: data/catalog.tsv, format: tsv, encoding: cp1252, delimiter: "\\t"}
defaults: {currency: "USD", condition: "new"}
output_dir: feeds
template_dirs: [my_channels]
channels:
  google:
    outputs: [xml, tsv]
    files: {xml: g.xml}
    target: {country: "DE", currency: "EUR", language: "de"}
  google-US: {template: google}
gate: {max_drop_ratio: 0.2}
state_dir: state
keep_feeds: 3
""")
    assert config.catalog.format == "tsv" and config.catalog.encoding == "cp1252"
    assert config.catalog.delimiter == "\t"
    assert config.defaults == {"currency": "USD", "condition": "new"}
    google, google_us = config.channels
    assert google.name == "google" and google.template == "google"
    assert google.outputs == ("xml", "tsv") and google.files == {"xml": "g.xml"}
    assert google.market == {"country": "DE", "currency": "EUR", "language": "de"}
    assert google_us.name == "google-US" and google_us.template == "google"
    assert google_us.outputs is None
    assert config.keep_feeds == 3


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    config = _load(folder, "catalog: data/c.csv\noutput_dir: out\ntemplate_dirs: [t, /abs/t]\n"
                   "state_dir: ../state\n")
    assert config.catalog.path == folder / "data" / "c.csv"
    assert config.output_dir == folder / "out"
    assert config.template_dirs == (folder / "t", Path("/abs/t"))
    assert config.state_dir == folder / ".." / "state"


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = _load(tmp_path, "output_dir: ~/feeds\n")
    assert config.output_dir == tmp_path / "home" / "feeds"


def test_channels_as_a_list_of_names(tmp_path: Path) -> None:
    config = _load(tmp_path, "channels: [google, meta]\n")
    assert [c.name for c in config.channels] == ["google", "meta"]


@pytest.mark.parametrize("text, key, suggestion", [
    ("ouput_dir: out\n", "ouput_dir", "output_dir"),
    ("catalog: {path: c.csv, encodng: latin-1}\n", "catalog.encodng", "encoding"),
    ("channels: {google: {output: [xml]}}\n", "channels.google.output", "outputs"),
    ("channels: {google: {target: {countri: DE}}}\n", "channels.google.target.countri",
     "country"),
    ("defaultz: {}\n", "defaultz", "defaults"),
])
def test_unknown_keys_name_the_path_and_suggest(tmp_path: Path, text: str, key: str,
                                                suggestion: str) -> None:
    error = _error(tmp_path, text)
    assert error.key == key
    assert error.tip is not None and f"did you mean {suggestion!r}" in error.tip
    assert error.file == str(tmp_path / "feedsync.yaml")


def test_an_unknown_key_without_a_near_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    error = _error(tmp_path, "zzzzzz: 1\n")
    assert error.tip is not None and "allowed keys:" in error.tip and "channels" in error.tip


@pytest.mark.parametrize("text, key", [
    ("defaults: {country: NO}\n", "defaults.country"),            # YAML 1.1: false
    ("defaults: {condition: off}\n", "defaults.condition"),       # YAML 1.1: false
    ("defaults: {gtin: 00123456}\n", "defaults.gtin"),            # octal int
    ("defaults: {mpn: 012}\n", "defaults.mpn"),                   # octal int
    ("defaults: {price: 1.50}\n", "defaults.price"),              # float
    ("channels: {google: {target: {country: NO}}}\n", "channels.google.target.country"),
    ("catalog: {path: c.csv, format: yes}\n", "catalog.format"),
])
def test_yaml_type_traps_are_refused_with_a_tip_to_quote(tmp_path: Path, text: str,
                                                         key: str) -> None:
    error = _error(tmp_path, text)
    assert error.key == key
    assert error.tip is not None and "quote" in error.tip


def test_quoted_values_are_text(tmp_path: Path) -> None:
    config = _load(tmp_path, 'defaults: {country: "NO", gtin: "00123456", mpn: "012"}\n')
    assert config.defaults == {"country": "NO", "gtin": "00123456", "mpn": "012"}


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    error = _error(tmp_path, "output_dir: a\ncatalog: c.csv\noutput_dir: b\n")
    assert "duplicate key 'output_dir'" in error.message
    assert "line 1" in error.message and "line 3" in error.message
    assert error.line == 3


def test_nested_duplicate_keys(tmp_path: Path) -> None:
    error = _error(tmp_path, "channels:\n  google:\n    outputs: [xml]\n    outputs: [tsv]\n")
    assert "line 3" in error.message and "line 4" in error.message


def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    error = _error(tmp_path, f"defaults: !!python/object/new:os.system [\"touch {canary}\"]\n")
    assert error.line == 1
    assert "python/object" in error.message
    assert not canary.exists()


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    error = _error(tmp_path, "version: 1\ncatalog: c.csv\nchannels: [google\noutput_dir: out\n")
    assert error.line is not None and error.line >= 3
    assert error.message.startswith("invalid YAML")


def test_a_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    error = _error(tmp_path, "- google\n- meta\n")
    assert "mapping" in error.message


def test_missing_and_undecodable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("defaults: {brand: \"Café\"}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin)
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


@pytest.mark.parametrize("text, key", [
    ("password: hunter2\n", "password"),
    ("channels: {google: {destinations: [{url: 'sftp://h/', password: hunter2}]}}\n",
     "channels.google.destinations[0].password"),
    ("gate: {token: hunter2}\n", "gate.token"),
    ("channels: {google: {destinations: [{url: 'https://h/', API_KEY: hunter2}]}}\n",
     "channels.google.destinations[0].API_KEY"),
    ("channels: {google: {destinations: [{url: 'sftp://h/', key_passphrase: hunter2}]}}\n",
     "channels.google.destinations[0].key_passphrase"),
])
def test_inline_secrets_are_refused_without_echoing_them(tmp_path: Path, text: str,
                                                         key: str) -> None:
    error = _error(tmp_path, text)
    assert error.key == key
    assert "secret" in error.message
    assert error.tip is not None and "_env" in error.tip and "_file" in error.tip
    assert "hunter2" not in str(error) and "hunter2" not in error.tip
    assert "hunter2" not in repr(error.to_dict())


def test_secret_references_are_accepted(tmp_path: Path) -> None:
    config = _load(tmp_path, "channels: {google: {destinations: [{url: 'sftp://h/', "
                   "password_env: SFTP_PASSWORD, key_passphrase_file: /run/secret}]}}\n")
    assert config.channels[0].destinations[0]["password_env"] == "SFTP_PASSWORD"


@pytest.mark.parametrize("name", ["../../x.xml", "/etc/x.xml", "sub/x.xml", "..", ".",
                                  "a\x00b.xml", "a\nb.xml", "a\rb.xml", "a\\b.xml", "",
                                  ".feedsync-google.xml.1.abc.tmp"])
def test_file_names_must_be_plain(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_file_name(name, "feedsync.yaml", "channels.google.files.xml")
    assert caught.value.key == "channels.google.files.xml"


@pytest.mark.parametrize("name", ["google.xml", "google-DE.tsv", "feed_1.csv", ".hidden.xml"])
def test_plain_file_names_pass(tmp_path: Path, name: str) -> None:
    config = _load(tmp_path, f"channels: {{google: {{files: {{xml: '{name}'}}}}}}\n")
    assert [dict(c.files) for c in config.channels] == [{"xml": name}]


def test_file_names_in_config_are_checked(tmp_path: Path) -> None:
    error = _error(tmp_path, "channels: {google: {files: {xml: ../../x.xml}}}\n")
    assert error.key == "channels.google.files.xml"
    assert "../../x.xml" in error.message


@pytest.mark.parametrize("text, key", [
    ("version: 2\n", "version"),
    ("catalog: {path: c.csv, format: xls}\n", "catalog.format"),
    ("catalog: {path: c.csv, delimiter: ';;'}\n", "catalog.delimiter"),
    ("catalog: {path: c.csv, encoding: klingon-8}\n", "catalog.encoding"),
    ("keep_feeds: -1\n", "keep_feeds"),
    ("keep_feeds: true\n", "keep_feeds"),
    ("channels: {'../evil': {}}\n", "channels.../evil"),
    ("channels: {google: {outputs: xml}}\n", "channels.google.outputs"),
    ("channels: 7\n", "channels"),
    ("defaults: [currency]\n", "defaults"),
    ('output_dir: "a\\0b"\n', "output_dir"),
    ("template_dirs: t\n", "template_dirs"),
])
def test_wrong_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    assert _error(tmp_path, text).key == key


def test_parse_config_without_a_file_resolves_against_cwd(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_config({"catalog": "c.csv"})
    assert config.catalog.path == tmp_path / "c.csv"
    with pytest.raises(ConfigError) as caught:
        parse_config({"ouput_dir": "x"})
    assert caught.value.file == "<config>"


def test_short_rows_takes_error_or_pad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\ncatalog: {path: c.csv, short_rows: pad}\n", encoding="utf-8")
    assert load_config(good).catalog.short_rows == "pad"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncatalog: {path: c.csv, short_rows: yes}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert caught.value.key == "catalog.short_rows"
