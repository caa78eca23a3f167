"""Every format file proves itself: each [[sample]] parses to its `expect` values (STYLE.md section 4)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from flakehunt.formats import FormatDefinitionError, load_format_file, load_formats
from flakehunt.formats.loader import builtin_dir
from flakehunt.ingest import detect
from flakehunt.ingest.detect import detection_order, parse_sample_text

FORMATS = load_formats(extra_dir=builtin_dir() / "no-such-folder")
SAMPLES = [
    pytest.param(fmt, index, id=f"{name}-{index}")
    for name, fmt in sorted(FORMATS.items())
    for index in range(len(fmt.samples))
]


@pytest.mark.parametrize(("fmt", "index"), SAMPLES)
def test_sample_gives_expected_values(fmt, index):
    sample = fmt.samples[index]
    exchanges, rejects = parse_sample_text(fmt, sample.header, sample.line)
    assert rejects.height == 0, rejects.to_dicts()
    row = exchanges.row(0, named=True)
    got = {key: row[key].isoformat() if key == "ts" else row[key] for key in sample.expect}
    assert got == sample.expect
    assert row["format"] == fmt.name and row["line"] >= 1


def test_every_brief_format_is_declared():
    wanted = {
        "cloudfront", "cloudfront_realtime", "cloudflare_logpush", "fastly_json", "fastly_common",
        "akamai_datastream2", "gcp_loadbalancer", "azure_frontdoor", "nginx_combined", "nginx_main",
        "nginx_combined_request_id", "apache_common", "apache_combined", "apache_vhost_combined",
        "json_lines",
    }  # fmt: skip
    assert wanted <= set(FORMATS)


def test_file_name_is_format_name():
    for path in builtin_dir().glob("*.toml"):
        assert load_format_file(path).name == path.stem


def test_generic_formats_are_tried_after_specific_ones():
    order = detection_order(FORMATS)
    assert (
        order.index("nginx_combined_request_id") < order.index("nginx_main") < order.index("nginx_combined")
    )
    assert order.index("apache_common") < order.index("apache_combined")
    assert order.index("fastly_json") < order.index("json_lines")


def test_format_without_samples_is_rejected(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[format]\nname = "mine"\ntitle = "t"\nurl = "u"\nfile_type = "ndjson"\n'
        'timestamp = { field = "t" }\n[fields]\nip = "client_ip"\n'
    )
    with pytest.raises(FormatDefinitionError, match="has no \\[\\[sample\\]\\]"):
        load_format_file(path)


def test_unknown_column_is_rejected(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[format]\nname = "mine"\ntitle = "t"\nurl = "u"\nfile_type = "ndjson"\n'
        'timestamp = { field = "t" }\n[fields]\nip = "clientip"\n[[sample]]\nline = "{}"\n'
    )
    with pytest.raises(FormatDefinitionError, match="unknown column 'clientip'"):
        load_format_file(path)


def test_user_folder_overlays_builtin(tmp_path):
    text = (
        (builtin_dir() / "json_lines.toml")
        .read_text()
        .replace('title = "Generic JSON lines (common key names; see --map)"', 'title = "our app log"')
    )
    (tmp_path / "json_lines.toml").write_text(text)
    formats = load_formats(extra_dir=tmp_path)
    assert formats["json_lines"].title == "our app log"
    assert formats["json_lines"].origin.endswith("json_lines.toml")
    assert formats["cloudfront"].origin == "built-in"


def test_detection_order_is_saved_and_worked_out_again_when_the_formats_change(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(detect, "_ORDER_CACHE", {})
    order = detection_order(FORMATS)
    [saved] = (tmp_path / "flakehunt" / "detection-order").glob("*.json")
    assert json.loads(saved.read_text()) == order
    saved.write_text(json.dumps(order[::-1]))  # a saved order is taken as it is ...
    monkeypatch.setattr(detect, "_ORDER_CACHE", {})
    assert detection_order(FORMATS) == order[::-1]
    changed = {**FORMATS, "nginx_main": replace(FORMATS["nginx_main"], title="changed")}
    assert detection_order(changed) == order  # ... for the formats it was worked out for only
    saved.write_text("[not json")
    monkeypatch.setattr(detect, "_ORDER_CACHE", {})
    assert detection_order(FORMATS) == order


def test_detection_order_without_a_writable_cache_folder(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    monkeypatch.setattr(detect, "_ORDER_CACHE", {})
    assert detection_order(FORMATS).index("apache_common") < detection_order(FORMATS).index("apache_combined")
