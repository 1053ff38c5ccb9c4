"""Extension slots: named places in the domain's pages where another app adds its own HTML.

The domain never imports the integration. Instead the integration registers renderers when its
app is ready::

    extensions.register("learner_panel_foot", render_smart_assessor_block)

A renderer is ``renderer(request, obj) -> str``: the HTML to add (already escaped where needed),
or "" to add nothing. Templates render a slot with ``{% slot "learner_panel_foot" learner %}``.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

Renderer = Callable[[HttpRequest, Any], str]

SLOTS = {
    "learner_panel_foot": "the foot of the learner-details panel on the Delivery Plan (a learner)",
    "officer_page": "the officer's page (an officer)",
    "organisation_page": "the organisation's page (an organisation)",
    "learner_list_actions": (
        "buttons under the learner list (None); each submits the list's form, which holds the "
        "ticked learners' idents as `learners`, to its own formaction"
    ),
}

_renderers: dict[str, list[Renderer]] = {slot: [] for slot in SLOTS}


def _renderers_of(slot: str) -> list[Renderer]:
    try:
        return _renderers[slot]
    except KeyError:
        raise ValueError(f"There is no slot {slot!r}; the slots are {', '.join(SLOTS)}.") from None


def register(slot: str, renderer: Renderer) -> None:
    """Add a renderer to a slot; registering the same renderer twice adds it once."""
    renderers = _renderers_of(slot)
    if renderer not in renderers:
        renderers.append(renderer)


def unregister(slot: str, renderer: Renderer) -> None:
    renderers = _renderers_of(slot)
    if renderer in renderers:
        renderers.remove(renderer)


@contextmanager
def registered(slot: str, renderer: Renderer) -> Iterator[Renderer]:
    """A renderer registered for the duration of a block, as tests need."""
    register(slot, renderer)
    try:
        yield renderer
    finally:
        unregister(slot, renderer)


def render(slot: str, request: HttpRequest, obj: Any = None) -> SafeString:
    """The HTML of every renderer of the slot, in registration order."""
    return mark_safe("".join(renderer(request, obj) for renderer in _renderers_of(slot)))
