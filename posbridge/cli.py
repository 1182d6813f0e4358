"""The ``posbridge`` command: serve, token, devices, status, print-test, emulate, import,
check-config.

``devices``, ``status`` and ``print-test`` talk to the running daemon over its HTTP API (the
daemon owns the hardware; a second process opening a USB printer would fight it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

__all__ = ["main", "state_dir_from"]

DEFAULT_URL = "http://127.0.0.1:8765"


def state_dir_from(arg: str | None) -> Path:
    """``--state-dir``, else POSBRIDGE_STATE_DIR, else $STATE_DIRECTORY, else ~/.local/state."""
    if arg:
        return Path(arg)
    if os.environ.get("POSBRIDGE_STATE_DIR"):
        return Path(os.environ["POSBRIDGE_STATE_DIR"])
    if os.environ.get("STATE_DIRECTORY"):
        # systemd may pass several, colon-separated; ours is the first.
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path.home() / ".local" / "state" / "posbridge"


def _cmd_serve(args: argparse.Namespace) -> int:
    from posbridge.config import ConfigError, demo_config, load_config
    from posbridge.runtime import StateDirBusy
    from posbridge.server import run

    try:
        config = load_config(Path(args.config)) if args.config else demo_config()
    except ConfigError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return 2
    try:
        return run(
            config,
            state_dir_from(args.state_dir),
            host=args.host or config.server.host,
            port=args.port or config.server.port,
            demo=args.config is None,
        )
    except StateDirBusy as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return 2


def _cmd_check_config(args: argparse.Namespace) -> int:
    from posbridge.config import ConfigError, load_config

    try:
        config = load_config(Path(args.file))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.file}: ok, {len(config.devices)} device(s)")
    return 0


def _token(args: argparse.Namespace) -> str:
    from posbridge.auth import load_or_create_token

    return load_or_create_token(state_dir_from(args.state_dir))


def _cmd_token(args: argparse.Namespace) -> int:
    print(_token(args))
    return 0


def _api(args: argparse.Namespace, method: str, path: str, body: object = None) -> Any:
    if not args.url.startswith(("http://", "https://")):
        raise SystemExit(f"posbridge: --url must be http:// or https://, not {args.url!r}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        args.url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {_token(args)}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - checked above
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        problem = json.loads(exc.read() or b"{}")
        raise SystemExit(f"posbridge: {problem.get('detail') or exc}") from exc
    except urllib.error.URLError as exc:
        raise SystemExit(
            f"posbridge: cannot reach the daemon at {args.url} ({exc.reason}); is it running?"
        ) from exc


def _status_line(device: dict[str, Any]) -> str:
    status = device.get("status") or {}
    detail = status.get("blocking_reason") or ", ".join(status.get("warnings") or []) or ""
    error = device.get("last_error") or ""
    return f"{device['id']:<16} {device['kind']:<16} {device['state']:<13} {detail or error}"


def _cmd_devices(args: argparse.Namespace) -> int:
    for device in _api(args, "GET", "/v1/devices")["devices"]:
        print(_status_line(device))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    print(json.dumps(_api(args, "GET", f"/v1/devices/{args.id}"), indent=2))
    return 0


def _cmd_print_test(args: argparse.Namespace) -> int:
    blocks = [
        {"type": "text", "text": "posbridge test page", "align": "center", "bold": True,
         "size": "double"},
        {"type": "text", "text": f"device: {args.id}", "align": "center"},
        {"type": "rule"},
        {"type": "text", "text": "Grüße · € ä ö ü ß é ñ"},
        {"type": "columns", "left": "2 x Test item", "right": "€ 9,90"},
        {"type": "barcode", "symbology": "CODE128", "data": "POSBRIDGE"},
        {"type": "qr", "data": "https://posbridge.dev/test"},
        {"type": "cut"},
    ]
    job = _api(args, "POST", f"/v1/printers/{args.id}/receipts?wait=20", {"blocks": blocks})
    print(f"job {job['id']}: {job['state']}" + (f" ({job['error_detail']})"
                                                 if job.get("error_detail") else ""))
    return 0 if job["state"] == "done" else 1


def _cmd_emulate(args: argparse.Namespace) -> int:
    from posbridge.emulate import run_emulator

    options = {
        "escpos": {"profile": args.profile},
        "zpl": {"dpi": str(args.dpi)},
        "scanner": {"suffix": args.suffix, "aim": "on" if args.aim else "off"},
    }[args.kind]
    return run_emulator(args.kind, listen=args.listen, pty=args.pty, options=options)


def _cmd_import(args: argparse.Namespace) -> int:
    """Import straight into the catalogue database: no HTTP body limit, and it works
    whether or not the daemon runs (SQLite in WAL mode takes both)."""
    from posbridge.hangtags.catalog import Catalog
    from posbridge.hangtags.errors import HangTagError

    path = Path(args.file)
    fmt: Literal["csv", "jsonl"] = (
        "jsonl"
        if (args.format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")) == "jsonl"
        else "csv"
    )
    catalog = Catalog(state_dir_from(args.state_dir) / "catalog.sqlite3")
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            if args.what == "products":
                count = catalog.import_products(lines, fmt)
            else:
                count = catalog.import_prices(args.ref, args.currency, lines, fmt)
    except OSError as exc:
        print(f"posbridge: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except HangTagError as exc:
        print(f"posbridge: {path}: {exc} (nothing imported)", file=sys.stderr)
        return 1
    finally:
        catalog.close()
    print(f"imported {count} {'products' if args.what == 'products' else 'prices'} from {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posbridge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", help="TOML configuration (default: built-in demo devices)")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8765)")
    serve.add_argument("--state-dir", help="where the job database and token live")
    serve.set_defaults(func=_cmd_serve)

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check_config)

    token = sub.add_parser("token", help="print the API token (creating it if needed)")
    token.add_argument("--state-dir")
    token.set_defaults(func=_cmd_token)

    for name, func, help_text in (
        ("devices", _cmd_devices, "list devices and their state"),
        ("status", _cmd_status, "show one device's full status"),
        ("print-test", _cmd_print_test, "print a test receipt and wait for it"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        if name != "devices":
            cmd.add_argument("id", help="device id, e.g. receipt-1")
        cmd.add_argument("--url", default=DEFAULT_URL, help=f"daemon URL (default {DEFAULT_URL})")
        cmd.add_argument("--state-dir")
        cmd.set_defaults(func=func)

    emulate = sub.add_parser("emulate", help="run one device emulator for technicians and CI")
    emulate.add_argument("kind", choices=["escpos", "zpl", "scanner"])
    where = emulate.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="serve over TCP (e.g. :9100)")
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    emulate.add_argument("--profile", default="TM-T88V", help="escpos: printer profile")
    emulate.add_argument("--dpi", type=int, choices=[203, 300], default=203, help="zpl: dpi")
    emulate.add_argument("--suffix", choices=["cr", "lf", "crlf", "tab", "none"], default="cr",
                         help="scanner: what ends each scan")
    emulate.add_argument("--no-aim", dest="aim", action="store_false",
                         help="scanner: send no AIM symbology identifiers")
    emulate.set_defaults(func=_cmd_emulate)

    imp = sub.add_parser("import", help="import products or a pricebook for hang tags")
    what = imp.add_subparsers(dest="what", required=True)
    products = what.add_parser("products", help="CSV (id,gtin,name,size,colour,brand,...) "
                               "or JSON lines")
    prices = what.add_parser("prices", help="a pricebook: CSV (product_id,amount) or JSON lines")
    prices.add_argument("ref", help="pricebook reference, e.g. storefront-catalog-gb.outlet")
    prices.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
    for cmd in (products, prices):
        cmd.add_argument("file")
        cmd.add_argument("--format", choices=["csv", "jsonl"], help="default: from the suffix")
        cmd.add_argument("--state-dir")
        cmd.set_defaults(func=_cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
