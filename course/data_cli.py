"""``course data``: get CIFAR-10, or write the small synthetic stand-in.

    course data download [--root DIR]                       fetch, verify (md5), extract
    course data fake [--root DIR] [--n-train N] [--n-test N] write a SYNTHETIC stand-in

torch is imported only when a subcommand runs, so ``course --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys


def _download(args: argparse.Namespace) -> int:
    from course import data

    try:
        folder = data.download_cifar10(args.root, progress=not args.quiet)
    except data.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{data.dataset_name(folder)} ready in {folder}")
    return 0


def _fake(args: argparse.Namespace) -> int:
    from course import data

    try:
        archive, md5 = data.make_fake_cifar10(
            args.root, n_train=args.n_train, n_test=args.n_test, seed=args.seed
        )
    except data.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {archive} (md5 {md5}), extracted to {archive.parent / data.FOLDER_NAME}: "
        f"{args.n_train} train / {args.n_test} test images, {data.SYNTHETIC_NAME}."
    )
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``course data download|fake`` on the top-level ``subparsers``."""
    parser = subparsers.add_parser(
        "data",
        help="get CIFAR-10, or write a small synthetic stand-in",
        description="Get CIFAR-10 (download + md5 + safe extract), or write a small synthetic "
        "stand-in in the same format for machines without internet.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    dl = sub.add_parser(
        "download",
        help="download, verify and extract CIFAR-10",
        description="Download cifar-10-python.tar.gz, verify its md5 and extract it into "
        "ROOT/cifar-10-batches-py. Without internet: copy the archive into ROOT by hand and "
        "run this again.",
    )
    dl.add_argument("--root", default="data", help="data folder (default: %(default)s)")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(func=_download)

    fake = sub.add_parser(
        "fake",
        help="write a small SYNTHETIC stand-in in the CIFAR-10 format",
        description="Write ROOT/cifar-10-python.tar.gz with generated, learnable images in "
        "exactly the CIFAR-10 python format (labelled synthetic), and extract it.",
    )
    fake.add_argument("--root", default="data", help="data folder (default: %(default)s)")
    fake.add_argument("--n-train", type=int, default=1000, help="training images (%(default)s)")
    fake.add_argument("--n-test", type=int, default=200, help="test images (%(default)s)")
    fake.add_argument("--seed", type=int, default=0, help="generator seed (%(default)s)")
    fake.set_defaults(func=_fake)
    return parser
