"""The ``qwentrade`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

import attrs

import qwentrade
from qwentrade.app.cli_backtest import add_backtest
from qwentrade.app.cli_data import add_commands, report_error
from qwentrade.app.cli_sync import add_sync
from qwentrade.app.cli_verify import add_verify
from qwentrade.app.settings import SETTING_HELP, Settings, SettingsError, parse_whole_number
from qwentrade.domain.errors import DomainError, InvalidInput

DESCRIPTION = """\
qwentrade: low-frequency quantitative trading of OKX perpetual swaps.

Settings come from QWENTRADE_* environment variables (see `qwentrade settings`).
With none set it runs in sim mode on a SQLite file in the working directory:
no keys, no network, no database server."""


# A process whose reader went away (`qwentrade config list | head`) exits as if killed by
# SIGPIPE would: 128 + 13, no traceback.
EXIT_BROKEN_PIPE = 141


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: what is wrong and where to read more."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _settings() -> Settings:
    return Settings.from_env(os.environ)


def port_number(text: str) -> int:
    """The ``--port`` argument: a whole number 0-65535 in ASCII digits."""
    value = parse_whole_number(text)
    if value is None or not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: use a whole number 0-65535 (0 = any free port)"
        )
    return value


def cmd_version(args: argparse.Namespace) -> int:
    print(f"qwentrade {qwentrade.__version__}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    settings = _settings()
    described = settings.describe()
    width = max(len(k) for k in described) + len("QWENTRADE_")
    for name, value in described.items():
        print(f"{('QWENTRADE_' + name.upper()).ljust(width)}  {value or '-'}")
        if args.verbose:
            print(f"{'':{width}}  {SETTING_HELP[name]}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qwentrade.app.logging import configure_logging
    from qwentrade.app.runtime import serve

    if args.host or args.port is not None:
        settings = attrs.evolve(
            settings,
            http_host=args.host or settings.http_host,
            http_port=settings.http_port if args.port is None else args.port,
        )
    configure_logging(settings)
    serve(settings, new_api_key=args.new_api_key)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="qwentrade",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("version", help="print the version", description="Print the version.")
    p.set_defaults(func=cmd_version)

    p = sub.add_parser(
        "settings",
        help="show the effective settings (secrets hidden)",
        description="Show every QWENTRADE_* setting and its effective value; secrets are "
        "shown only as 'set (hidden)' or 'not set'.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="explain each setting")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser(
        "serve",
        help="run the HTTP service",
        description="Run the HTTP service (OpenAPI at /docs, /redoc, /openapi.json) until "
        "Ctrl-C or SIGTERM; it stops within QWENTRADE_SHUTDOWN_GRACE seconds.",
    )
    p.add_argument("--host", help="bind address (default QWENTRADE_HTTP_HOST or 127.0.0.1)")
    p.add_argument(
        "--port",
        type=port_number,
        help="port (default QWENTRADE_HTTP_PORT or 8000; 0 = any free port)",
    )
    p.add_argument(
        "--new-api-key",
        action="store_true",
        help="generate a new HTTP API key (printed once; the old one stops working); "
        "ignored when QWENTRADE_API_KEY is set",
    )
    p.set_defaults(func=_with_settings(cmd_serve))
    add_commands(sub, _with_settings)
    add_sync(sub, _with_settings)
    add_verify(sub, _with_settings)
    add_backtest(sub, _with_settings)
    return parser


def _with_settings(handler):
    """Wrap a ``handler(args, settings)``: settings from the environment, logging set up,
    domain, schema and database errors printed as one clear line (exit status 1)."""

    def run(args: argparse.Namespace) -> int:
        from qwentrade.app.logging import configure_logging

        settings = _settings()
        configure_logging(settings, stream=False)
        try:
            return handler(args, settings)
        except InvalidInput as e:
            if e.field in attrs.fields_dict(Settings):
                # e.g. the database at database_url is unreachable: name the variable.
                return report_error(f"QWENTRADE_{e.field.upper()}: {e.message}")
            return report_error(e)
        except DomainError as e:  # SchemaVersionError included
            return report_error(e)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
        return code
    except SettingsError as e:
        print(f"qwentrade: configuration error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Python's documented recipe: point stdout at /dev/null so that the flush at exit
        # does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
