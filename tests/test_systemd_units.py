"""The shipped systemd unit, sysusers file and udev rules, checked with systemd's tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEMD_DIR = REPO_ROOT / "systemd"
UNIT = SYSTEMD_DIR / "posbridge.service"
RULES = SYSTEMD_DIR / "60-posbridge.rules"
SYSUSERS = SYSTEMD_DIR / "posbridge.sysusers"

MAX_EXPOSURE = 2.5


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


def _unit_with_existing_binary(tmp_path: Path, text: str | None = None) -> Path:
    """A copy of the unit whose ExecStart binary exists on this machine.

    `systemd-analyze verify` rejects a unit whose ExecStart binary is missing, and
    /usr/bin/posbridge is only there on an installed system. Only the binary path is
    replaced (with the venv's console script, or the interpreter when that is not
    installed); every other line is verified as shipped.
    """
    text = UNIT.read_text() if text is None else text
    script = Path(sys.executable).parent / "posbridge"
    binary = script if script.exists() else Path(sys.executable)
    copy = tmp_path / "posbridge.service"
    replaced = text.replace("ExecStart=/usr/bin/posbridge ", f"ExecStart={binary} ")
    assert replaced != text, "ExecStart no longer starts with /usr/bin/posbridge"
    copy.write_text(replaced)
    return copy


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    analyze = _need("systemd-analyze")
    return subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


# --- posbridge.service -----------------------------------------------------------------


@pytest.mark.system
def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    result = _verify(_unit_with_existing_binary(tmp_path))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.system
def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    # Guards the test above against passing vacuously (e.g. verify ignoring the file).
    broken = UNIT.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHom=yes")
    result = _verify(_unit_with_existing_binary(tmp_path, broken))
    assert "ProtectHom" in result.stdout + result.stderr


@pytest.mark.system
def test_security_exposure_is_low() -> None:
    analyze = _need("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    if match is None and "--offline" in result.stderr:
        pytest.skip("systemd-analyze is older than v250 (no security --offline)")
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key, []).append(value)
    return settings


def test_unit_keeps_devices_and_groups_reachable() -> None:
    settings = _unit_settings()
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert settings["ExecStart"] == [
        "/usr/bin/posbridge serve --config /etc/posbridge/posbridge.toml"
    ]
    # PrivateUsers would map lp/dialout/plugdev to nobody; PrivateDevices hides /dev/bus/usb.
    assert settings.get("PrivateUsers", ["no"]) == ["no"]
    assert settings.get("PrivateDevices", ["no"]) == ["no"]
    allowed = {entry.split()[0] for entry in settings["DeviceAllow"]}
    assert {"char-usb_device", "char-usb", "char-ttyUSB", "char-ttyACM", "char-ttyS"} <= allowed
    families = set(settings["RestrictAddressFamilies"][0].split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert set(settings["SupplementaryGroups"][0].split()) == {"lp", "dialout", "plugdev"}


_IMPORT_EVERYTHING = textwrap.dedent(
    """
    import ctypes, importlib, json, pkgutil, sys
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    if sys.argv[1] == "mdwe":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
            print(json.dumps({"unsupported": ctypes.get_errno()}))
            raise SystemExit(0)
    failed = {}
    names = ["usb.core", "usb.backend.libusb1", "serial", "sqlite3", "ssl", "uvicorn",
             "fastapi", "pydantic", "PIL.Image", "jinja2", "websockets", "drivers.escpos._lib",
             "escpos.printer"]
    import drivers, posbridge
    for package in (drivers, posbridge):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):  # importing it would run the CLI
                names.append(info.name)
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            failed[name] = repr(exc)
    # libffi closures are how pyusb hands callbacks to libusb.
    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
    assert callback(1) == 2
    import PIL.Image
    PIL.Image.new("1", (576, 100)).tobytes()
    print(json.dumps({"failed": failed}))
    """
)


@pytest.mark.slow
def test_daemon_runs_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes must not break anything the daemon imports.

    PR_SET_MDWE (Linux >= 6.3) is the kernel's own form of the same rule. Modules
    that fail to import anyway (work in progress elsewhere) are compared against a
    run without the restriction, so only failures caused by it count.
    """
    import json

    def run(mode: str) -> dict[str, object]:
        result = subprocess.run(
            [sys.executable, "-c", _IMPORT_EVERYTHING, mode],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
        )
        assert result.returncode == 0, result.stderr
        parsed: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
        return parsed

    restricted = run("mdwe")
    if "unsupported" in restricted:
        pytest.skip("kernel has no PR_SET_MDWE (needs Linux >= 6.3)")
    assert restricted["failed"] == run("plain")["failed"]


# --- posbridge.sysusers ------------------------------------------------------------------


@pytest.mark.system
def test_sysusers_creates_user_in_device_groups(tmp_path: Path) -> None:
    sysusers = _need("systemd-sysusers")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nlp:x:7:\ndialout:x:20:\n")
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", "-"],
        input=SYSUSERS.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":") for line in (etc / "passwd").read_text().splitlines()
    }
    assert passwd["posbridge"][5] == "/var/lib/posbridge"
    assert passwd["posbridge"][6].endswith("nologin")
    assert 0 < int(passwd["posbridge"][2]) < 1000
    members = {
        fields[0]: fields[3].split(",")
        for fields in (line.split(":") for line in (etc / "group").read_text().splitlines())
    }
    for group in ("lp", "dialout", "plugdev"):  # plugdev is missing above: it gets created
        assert "posbridge" in members[group]
    assert "posbridge" in members


# --- 60-posbridge.rules ------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"\s*(?:,|$)'
)
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ENV", "ATTR", "ATTRS", "DEVPATH"}
_ASSIGN_KEYS = {"ENV", "GROUP", "MODE", "SYMLINK", "GOTO", "LABEL", "IMPORT", "TAG"}
_GRANTS = {"GROUP", "MODE", "SYMLINK"}
_GATE = 'ENV{POSBRIDGE_DEVICE}!="1", GOTO="posbridge_end"'
# Vendors that also make consumer printers/scanners: only listed models may match.
_MIXED_VENDORS = {"04b8"}


def _rules() -> list[tuple[int, str, list[re.Match[str]]]]:
    parsed: list[tuple[int, str, list[re.Match[str]]]] = []
    for number, raw in enumerate(RULES.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens: list[re.Match[str]] = []
        position = 0
        while position < len(line):
            token = _TOKEN.match(line, position)
            assert token is not None, f"line {number}: cannot parse {line[position:]!r}"
            tokens.append(token)
            position = token.end()
        parsed.append((number, line, tokens))
    return parsed


def test_rules_parse_and_jump_to_existing_labels() -> None:
    rules = _rules()
    labels = {t["value"] for _, _, tokens in rules for t in tokens if t["key"] == "LABEL"}
    for number, _, tokens in rules:
        for token in tokens:
            key, op = token["key"], token["op"]
            if op in ("==", "!="):
                assert key in _MATCH_KEYS, f"line {number}: {key} is not a match key"
            else:
                assert key in _ASSIGN_KEYS, f"line {number}: {key} cannot be assigned"
            if key == "GOTO":
                assert token["value"] in labels, f"line {number}: no LABEL {token['value']}"
            if key == "MODE":
                assert token["value"].endswith("0"), f"line {number}: world-accessible"


def test_every_grant_is_behind_a_vendor_match() -> None:
    """No rule can hand out every USB device: grants sit behind the vendor gate."""
    gated = False
    for number, line, tokens in _rules():
        keys = {t["key"] for t in tokens}
        if "LABEL" in keys:
            gated = False
        if line == _GATE:
            gated = True
        if keys & _GRANTS:
            assert gated, f"line {number} grants access without the POSBRIDGE_DEVICE gate"
        sets_flag = any(t["key"] == "ENV" and t["op"] == "=" for t in tokens)
        if sets_flag:
            vendor = [t for t in tokens if t["attr"] == "idVendor" and t["op"] == "=="]
            assert vendor, f"line {number} marks devices without matching idVendor"
            if vendor[0]["value"] in _MIXED_VENDORS:
                assert any(t["attr"] == "idProduct" for t in tokens), f"line {number}"


@pytest.mark.system
def test_rules_pass_udevadm_verify() -> None:
    udevadm = _need("udevadm")
    probe = subprocess.run([udevadm, "verify", "--help"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("udevadm has no verify command (systemd < 253)")
    result = subprocess.run(
        [udevadm, "verify", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Devices as umockdev sees them: a TM-T88V (listed), an Epson inkjet (same vendor, not
# listed), a Honeywell scanner's CDC-ACM port, a Star printer without a serial number
# (named after its port) and a USB stick (nobody's business).
_PCI = "/devices/pci0000:00/0000:00:14.0"
_UMOCKDEV = f"""
P: {_PCI}/usb1/1-1
N: bus/usb/001/002
E: DEVNAME=/dev/bus/usb/001/002
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=1
A: dev=189:1
A: idVendor=04b8
A: idProduct=0e15
A: bcdDevice=0100
A: manufacturer=EPSON
A: product=TM-T88V
A: serial=X5SF012345

P: {_PCI}/usb1/1-2
N: bus/usb/001/003
E: DEVNAME=/dev/bus/usb/001/003
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=2
A: dev=189:2
A: idVendor=04b8
A: idProduct=0883
A: bcdDevice=0100
A: serial=INKJET0001

P: {_PCI}/usb1/1-3/1-3:1.0/tty/ttyACM0
N: ttyACM0
E: DEVNAME=/dev/ttyACM0
E: SUBSYSTEM=tty
E: MAJOR=166
E: MINOR=0
A: dev=166:0

P: {_PCI}/usb1/1-3/1-3:1.0
E: DEVTYPE=usb_interface
E: SUBSYSTEM=usb
E: DRIVER=cdc_acm
A: bInterfaceClass=02
A: bInterfaceSubClass=02
A: bInterfaceProtocol=01
A: bInterfaceNumber=00

P: {_PCI}/usb1/1-3
N: bus/usb/001/004
E: DEVNAME=/dev/bus/usb/001/004
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=3
A: dev=189:3
A: idVendor=0c2e
A: idProduct=0b61
A: bcdDevice=0100
A: serial=21100B0123

P: {_PCI}/usb1/1-4
N: bus/usb/001/005
E: DEVNAME=/dev/bus/usb/001/005
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=4
A: dev=189:4
A: idVendor=0519
A: idProduct=0003
A: bcdDevice=0100

P: {_PCI}/usb1/1-5
N: bus/usb/001/006
E: DEVNAME=/dev/bus/usb/001/006
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=5
A: dev=189:5
A: idVendor=0781
A: idProduct=5567
A: bcdDevice=0100
A: serial=4C530001

P: {_PCI}/usb1
N: bus/usb/001/001
E: DEVNAME=/dev/bus/usb/001/001
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
A: idVendor=1d6b
A: idProduct=0002

P: {_PCI}
E: SUBSYSTEM=pci
E: PCI_SLOT_NAME=0000:00:14.0
"""

# In a private user+mount namespace: our rules in /run/udev/rules.d and a group file
# that knows "posbridge", so nothing on the host changes.
_UDEV_TEST_SCRIPT = """
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/udev/rules.d
cp "$RULES" /run/udev/rules.d/
{ cat /etc/group; echo "posbridge:x:4242:"; } > /run/group
mount --bind /run/group /etc/group
for device in $DEVICES; do
    echo "@@@ device $device"
    SYSTEMD_LOG_LEVEL=debug umockdev-run -d "$UMOCKDEV" -- \
        "$UDEVADM" test --action=add "/sys$device" 2>&1 || true
done
"""


def _udev_test(tmp_path: Path, devices: list[str]) -> dict[str, str]:
    udevadm = _need("udevadm")
    _need("umockdev-run")
    unshare = _need("unshare")
    if subprocess.run([unshare, "-rm", "true"], capture_output=True, timeout=30).returncode:
        pytest.skip("unprivileged user+mount namespaces are not available")
    description = tmp_path / "devices.umockdev"
    description.write_text(_UMOCKDEV.lstrip())
    result = subprocess.run(
        [unshare, "-rm", "sh", "-c", _UDEV_TEST_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "RULES": str(RULES),
            "UDEVADM": udevadm,
            "UMOCKDEV": str(description),
            "DEVICES": " ".join(devices),
        },
    )
    assert result.returncode == 0, result.stderr
    outputs: dict[str, str] = {}
    # A marker udevadm's own debug output never prints (hwdb dumps print "=== ...").
    for chunk in result.stdout.split("@@@ device ")[1:]:
        device, _, output = chunk.partition("\n")
        outputs[device] = output
    assert set(outputs) == set(devices), result.stdout
    return outputs


def _grant(output: str) -> tuple[str | None, str | None, set[str]]:
    """(GROUP id, MODE, DEVLINKS) that 60-posbridge.rules applied, per udevadm's log."""
    group = re.search(r"60-posbridge\.rules:\d+ GROUP (\d+)", output)
    mode = re.search(r"60-posbridge\.rules:\d+ MODE (\d+)", output)
    links = re.search(r"^DEVLINKS=(.*)$", output, re.MULTILINE)
    return (
        group.group(1) if group else None,
        mode.group(1) if mode else None,
        # Only our links: the distribution's own rules add /dev/serial/by-id and the like.
        {link for link in links.group(1).split() if link.startswith("/dev/posbridge/")}
        if links
        else set(),
    )


@pytest.mark.system
def test_udev_grants_listed_devices_only(tmp_path: Path) -> None:
    printer = f"{_PCI}/usb1/1-1"
    inkjet = f"{_PCI}/usb1/1-2"
    scanner = f"{_PCI}/usb1/1-3/1-3:1.0/tty/ttyACM0"
    star = f"{_PCI}/usb1/1-4"
    stick = f"{_PCI}/usb1/1-5"
    outputs = _udev_test(tmp_path, [printer, inkjet, scanner, star, stick])
    for output in outputs.values():
        assert "60-posbridge.rules" in output, output
        assert "Invalid" not in output and "Unknown" not in output, output

    assert _grant(outputs[printer]) == (
        "4242",
        "0660",
        {"/dev/posbridge/usb-04b8-0e15-X5SF012345"},
    )
    assert _grant(outputs[scanner]) == (
        "4242",
        "0660",
        {"/dev/posbridge/tty-0c2e-0b61-21100B0123-if00"},
    )
    group, mode, links = _grant(outputs[star])
    assert (group, mode) == ("4242", "0660")
    assert links == {"/dev/posbridge/usb-0519-0003-pci-0000_00_14_0-usb-0_4"}
    assert _grant(outputs[inkjet]) == (None, None, set())
    assert _grant(outputs[stick]) == (None, None, set())
