"""``dance-tutor models``: which pose models are present, and fetching them."""

from __future__ import annotations

import argparse
from typing import Any

from app.models import (
    DEFAULT_VARIANT,
    ModelInfo,
    ensure_model,
    model_dir,
    model_status,
)

_MIB = 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="show or fetch the pose models",
        description=(
            "Without an action: list the known pose models with their size, SHA-256 and whether "
            "they verify. 'fetch' gets one: the official download first, then (for the full "
            "variant) an offline build from the mediapipe 0.10.21 wheel on PyPI. Models live in "
            "the project's models/ folder, or in $DANCE_TUTOR_MODEL_DIR."
        ),
    )
    parser.set_defaults(handler=show)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="download or build a pose model and check that MediaPipe loads it",
        description=(
            "Make sure a verified pose model is present: keep a good one, replace a missing, "
            "corrupt or truncated one."
        ),
    )
    fetch.add_argument("--variant", default=DEFAULT_VARIANT,
                       help=f"lite, full or heavy (default {DEFAULT_VARIANT}; only full has an "
                            "offline build)")
    fetch.add_argument("--offline-only", action="store_true",
                       help="skip the official download and build from the older wheel")
    fetch.set_defaults(handler=fetch_model)


def show(args: argparse.Namespace) -> int:
    print(f"Pose models in {model_dir()}:")
    status = model_status()
    rows = [("variant", "file", "size", "sha256", "verified", "origin")]
    rows += [_row(info) for info in status]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for info in status:
        if info.present and not info.verified:
            print(f"{info.name}: {info.problem}")
    return 0


def _row(info: ModelInfo) -> tuple[str, str, str, str, str, str]:
    if not info.present:
        return (info.variant, info.name, "-", "-", "missing", "-")
    verified = "yes" if info.verified else "NO"
    return (info.variant, info.name, f"{info.size / _MIB:.1f} MiB", info.sha256[:16], verified,
            info.origin)


def fetch_model(args: argparse.Namespace) -> int:
    from app.pose import PoseEstimator

    path = ensure_model(variant=args.variant, offline_only=args.offline_only)
    with PoseEstimator(path, mode="image"):
        pass
    info = next(i for i in model_status(path.parent) if i.path == path)
    print(f"{path}: verified, {info.size / _MIB:.1f} MiB, SHA-256 {info.sha256}, origin "
          f"{info.origin}; MediaPipe's PoseLandmarker loads it.")
    return 0
