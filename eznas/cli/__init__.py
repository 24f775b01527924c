"""The eznas command: one entry point, a subcommand per job.

    eznas collect | evolve | score | bench | analyze | nas  [flags]   (eznas COMMAND --help)

Messages go to stderr (--quiet: warnings and errors only; --verbose: debug, with
tracebacks); results go to stdout.  Every command and subcommand takes --quiet and
--verbose, and its --help shows each flag's default.  Exit codes: 0 done, 1 the data is
damaged (a store that fails its checksums or metadata digest, or whose metadata does not
parse), 2 bad input (an argument, a file or a config field, named in the message), 130
interrupted (Ctrl-C; resumable).
"""
import argparse
import importlib
import logging
import os
import re
import sys

from eznas.version import __version__

log = logging.getLogger("eznas")

COMMANDS = {  # name: module holding HELP, add_arguments(parser) and run(args)
    "collect": "eznas.cli.collect",
    "evolve": "eznas.cli.evolve",
    "score": "eznas.cli.score",
    "bench": "eznas.cli.bench",
    "analyze": "eznas.cli.analyze",
    "nas": "eznas.cli.nas",
}

EXIT_DAMAGED, EXIT_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def plain(text):
    """``text`` without reST inline-literal markup (double backticks), for --help."""
    return re.sub(r"``(.+?)``", r"\1", text, flags=re.S)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the module docs' layout, without their reST markup, and shows each flag's
    default (unless the help text already says it, or there is none to show)."""

    def _fill_text(self, text, width, indent):
        return super()._fill_text(plain(text), width, indent)

    def _split_lines(self, text, width):
        return super()._split_lines(plain(text), width)

    def _get_help_string(self, action):
        h = action.help or ""
        if "default" in h or action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or not action.option_strings:
            return h
        return h + " (default: %(default)s)"


def positive_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def nonnegative_int(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def add_space_arguments(p, space=None, seed_help="sampling, initialisation and data / noise seed"):
    """The flags that say which networks and which data: --space (required unless a
    default ``space`` is given), --dataset, --ground-truth, --data, --seed, --device."""
    from eznas.spaces.registry import names

    p.add_argument("--space", required=space is None, default=space, choices=names(), help="search space")
    p.add_argument("--dataset", default=None,
                   help="cifar10, cifar100, imagenet16-120 (built-in spaces: digits; default: the space's first)")
    p.add_argument("--ground-truth", default=None,
                   help="ground-truth file (default: the copy shipped for NB201 and built-in spaces)")
    p.add_argument("--data", default=None, help="photos, digits, folder:PATH or cifar:PATH (default: by space)")
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")


def output_path(path, flag, folder=False):
    """Make the folder that the output ``path`` of ``flag`` is written in, before any work
    (``folder``: ``path`` is a folder the command fills at its end: its parent is made),
    so that no command fails at its end for want of a folder; ValueError naming the flag
    when it cannot be made or written, or when a file stands where a folder goes (or the
    other way round)."""
    if folder and os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path}: a file is there, and a folder is written there")
    if not folder and os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a folder; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{flag} {path}: cannot make its folder {parent} ({e.strerror or e}); nothing was done") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: its folder {parent} is not writable; nothing was done")
    return path


def space_setup(a, batch_size):
    """(ground truth, device, data source) from those flags, each checked (a bad --data
    fails here, before any file is written)."""
    from eznas.collection import resolve_device
    from eznas.inputs import load_batch
    from eznas.spaces.sources import default_data, input_shape, load_ground_truth

    gt = load_ground_truth(a.space, a.dataset, a.ground_truth)
    device = resolve_device(a.device)
    data = a.data or default_data(a.space)
    load_batch(data, batch_size, input_shape(gt.space, gt.dataset)[1], a.seed)
    return gt, device, data


def setup_logging(quiet=False, verbose=False):
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    logging.captureWarnings(True)


def _common(nested):
    """The parent parser of every command: --quiet and --verbose.  A nested subcommand's
    copies (``eznas bench build -q``) default to nothing, so that they do not undo the
    same flag given before the subcommand's name (``eznas bench -q build``)."""
    p = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if nested else False
    p.add_argument("--quiet", "-q", action="store_true", default=default,
                   help="warnings and errors only (no progress bars)")
    p.add_argument("--verbose", "-v", action="store_true", default=default, help="debug messages, tracebacks on errors")
    return p


def add_command(sub, name, help, description=None, nested=True):
    """A (sub)command's parser, made by the subparsers ``sub``: the shared formatter (flag
    defaults shown, no reST markup) and --quiet / --verbose.  Commands' own subcommands
    (``eznas bench build``) are made with this, as the commands are."""
    return sub.add_parser(name, help=help, description=description or help, formatter_class=HelpFormatter,
                          parents=[_common(nested)])


def parser():
    p = argparse.ArgumentParser(prog="eznas", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=f"eznas {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        sp = add_command(sub, name, mod.HELP, mod.__doc__, nested=False)
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv=None):
    """Run ``eznas`` with ``argv`` (default: the command line); exits with the codes above."""
    try:
        code = run(argv)
    except KeyboardInterrupt:  # Ctrl-C while run itself sets up (before its own handler)
        code = _interrupted()
    sys.exit(code)


def _interrupted():
    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def run(argv=None):
    """As ``main``, but returns the exit code."""
    try:  # the first seconds import torch, zarr and every command: Ctrl-C there is an interruption too
        from stats_cache.store import DamagedError

        p = parser()
    except KeyboardInterrupt:
        return _interrupted()
    a = p.parse_args(argv)
    setup_logging(a.quiet, a.verbose)
    try:
        return a._run(a) or 0
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except DamagedError as e:
        log.error("error: %s", e, exc_info=a.verbose)
        return EXIT_DAMAGED
    except (ValueError, OSError) as e:
        log.error("error: %s", e, exc_info=a.verbose)
        return EXIT_INPUT
