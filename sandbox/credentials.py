"""``python -m sandbox.credentials FILE``: demo-only credentials for the sandbox, made once.

Writes ``SANDBOX_USERNAME``, ``SANDBOX_PASSWORD`` and ``SANDBOX_CLIENT_KEY`` (random secrets)
to FILE, readable by its owner only, unless FILE exists: then it is kept, so the sandbox and
whatever was configured with them keep agreeing. ``make run`` keeps them in the git-ignored
``var/sandbox-demo.env`` and gives them to both the sandbox and ``manage.py smartassessor demo``.
"""

import secrets
import sys
from pathlib import Path

from .server import DEMO_USERNAME

HEADER = (
    "# Demo only: the account the local Smart Assessor sandbox accepts, generated once for this\n"
    "# checkout. Never use these for a live Smart Assessor, nor give the sandbox real ones.\n"
)


def demo_credentials_ensure(path: Path) -> bool:
    """Write new demo credentials to ``path`` unless it exists; True if it wrote them."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        HEADER
        + f"SANDBOX_USERNAME={DEMO_USERNAME}\n"
        + f"SANDBOX_PASSWORD={secrets.token_urlsafe(24)}\n"
        + f"SANDBOX_CLIENT_KEY={secrets.token_urlsafe(24)}\n"
    )
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sandbox.credentials FILE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    made = demo_credentials_ensure(path)
    print(f"{'Wrote new' if made else 'Kept the'} demo-only sandbox credentials in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
