from __future__ import annotations

from pathlib import Path

import pytest

from posbridge.config import Config, ConfigError, DeviceKind, demo_config, load_config

GOOD = """
[server]
port = 9000
allowed_origins = ["https://pos.example.com"]

[[devices]]
id = "receipt-1"
kind = "receipt_printer"
url = "tcp://192.168.1.50:9100"
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "posbridge.toml"
    path.write_text(text)
    return load_config(path)


def test_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "posbridge.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.server.port == 9000
    assert config.devices[0].kind is DeviceKind.RECEIPT_PRINTER


def test_unknown_keys_are_named_by_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, GOOD + 'colour = "red"\n[jobs]\nretension_hours = 1\n')
    message = str(info.value)
    assert "devices[0].colour: unknown key" in message
    assert "jobs.retension_hours: unknown key" in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"devices\[1\]\.id 'receipt-1' is used twice"):
        _load(tmp_path, GOOD + GOOD.split("\n\n", 1)[1].replace("[server]", ""))


@pytest.mark.parametrize(
    ("url", "fragment"),
    [("bogus", "not a device URL"), ("usb://zz", "VID:PID"), ("gopher://x", "gopher")],
)
def test_bad_urls_are_refused(tmp_path: Path, url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        _load(tmp_path, GOOD.replace("tcp://192.168.1.50:9100", url))


def test_wildcard_origin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exact origin"):
        _load(tmp_path, GOOD.replace("https://pos.example.com", "*"))


def test_bad_toml_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load(tmp_path, "[server\n")


def test_demo_config_is_all_emulators() -> None:
    assert all(d.url.startswith("emu://") for d in demo_config().devices)


def test_kinds_not_driven_yet_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fiscal_cashbox devices are not supported yet"):
        _load(tmp_path, GOOD.replace('"receipt_printer"', '"fiscal_cashbox"'))


def test_label_printer_media_is_checked_and_only_for_label_printers(tmp_path: Path) -> None:
    label = GOOD.replace('"receipt_printer"', '"label_printer"')
    config = _load(tmp_path, label + "[devices.media]\ndpi = 300\nwidth_mm = 101.6\n")
    media = config.devices[0].label_media()
    assert (media.dpi, media.width_dots) == (300, 1200)
    with pytest.raises(ConfigError, match=r"devices\[0\]\.media\.dpi"):
        _load(tmp_path, label + "[devices.media]\ndpi = 250\n")
    with pytest.raises(ConfigError, match="media is only for label printers"):
        _load(tmp_path, GOOD + "[devices.media]\ndpi = 203\n")


def test_hang_tag_pricebooks_and_locale_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hang_tags\.pricebooks.*'a b'"):
        _load(tmp_path, GOOD + '[hang_tags]\npricebooks = ["a b"]\n')
    with pytest.raises(ConfigError, match="unknown locale 'xx_QQ'"):
        _load(tmp_path, GOOD + '[hang_tags]\nlocale = "xx_QQ"\n')


def test_unknown_printer_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"devices\[0\]\.profile"):
        _load(tmp_path, GOOD + 'profile = "TM-T88X"\n')
