"""axe-core in the browser tests: ``assert_accessible(page)`` runs axe on the page as it stands
and fails with each violation's rule, impact and first elements.

axe's source is evaluated through the DevTools protocol, which the pages' Content-Security-Policy
does not govern, so the pages are checked under the policy they are served with.
"""

from functools import cache
from pathlib import Path

import pytest

from tests.environment import AVAILABLE, AXE, CI, MISSING_REASONS

# The standards the product aims at: WCAG 2.1 A and AA, as the UK public sector is held to.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def _source() -> str:
    return Path(AXE).read_text(encoding="utf-8")


def violations(page) -> list[str]:
    """Each violation on the page, as one line: rule, impact, help and the first elements."""
    if not AVAILABLE["axe"]:
        if CI:
            pytest.fail(MISSING_REASONS["axe"])
        pytest.skip(MISSING_REASONS["axe"])
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_source() + "\n;true")
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
            }));
        }""",
        TAGS,
    )
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}"
        for v in found
    ]


def assert_accessible(page) -> None:
    found = violations(page)
    assert not found, "axe-core found violations:\n" + "\n".join(found)
