from typing import Any

from django import forms, template
from django.template import Context
from django.utils.html import format_html
from django.utils.safestring import SafeString

from learners import extensions

register = template.Library()

# The tone of a state's badge. The badge always shows the state's words too.
BADGE_TONES = {
    # risk bands
    "not_set": "neutral",
    "low": "good",
    "medium": "warning",
    "high": "bad",
    # learner and qualification statuses
    "in_learning": "info",
    "not_started": "neutral",
    "in_progress": "info",
    "break_in_learning": "warning",
    "completed": "good",
    "withdrawn": "neutral",
    # attendance
    "unknown": "neutral",
    "attended": "good",
    "not_attended": "bad",
    "cancelled": "neutral",
    # officers
    "active": "good",
    "inactive": "neutral",
    # pace
    "on track": "good",
    "behind": "bad",
    "ahead": "info",
}


@register.simple_tag(takes_context=True)
def slot(context: Context, name: str, obj: Any = None) -> SafeString:
    """What the apps registered for an extension slot (see learners.extensions)."""
    return extensions.render(name, context["request"], obj)


@register.simple_tag
def badge(value: str, label: str = "") -> SafeString:
    """A state as a badge: ``{% badge learner.status learner.get_status_display %}``."""
    return format_html(
        '<span class="badge badge--{}">{}</span>', BADGE_TONES.get(value, "neutral"), label or value
    )


@register.filter
def address_lines(record: Any) -> list[str]:
    """The filled-in lines of a learner's or an organisation's address, postcode last."""
    names = ("address_line1", "address_line2", "address_line3", "address_line4", "postcode")
    return [value for name in names if (value := getattr(record, name))]


@register.simple_tag(takes_context=True)
def sort_header(context: Context, key: str, label: str) -> SafeString:
    """A sortable column header: a link to sort by ``key``, and back the other way once sorted.

    The order in force is the context's ``sort``. The other query parameters are kept, apart
    from the page, which starts again at 1.
    """
    params = context["request"].GET.copy()
    current = context.get("sort", "")
    params.pop("page", None)
    if current == key:
        params["sort"], state, arrow = f"-{key}", "ascending", "▲"
    elif current == f"-{key}":
        params["sort"], state, arrow = key, "descending", "▼"
    else:
        params["sort"], state, arrow = key, "none", ""
    return format_html(
        '<th scope="col" aria-sort="{}"><a href="?{}">{}<span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">, sort {}</span></a></th>',
        state,
        params.urlencode(),
        label,
        f" {arrow}" if arrow else "",
        "descending" if state == "ascending" else "ascending",
    )


@register.simple_tag
def field_widget(field: forms.BoundField) -> SafeString:
    """The field's input, described by its hint and its error so screen readers read them."""
    described_by = []
    if field.help_text:
        described_by.append(f"{field.auto_id}_helptext")
    if field.errors:
        described_by.append(f"{field.auto_id}_error")
    attrs: dict[str, str | bool] | None = (
        {"aria-describedby": " ".join(described_by)} if described_by else None
    )
    return field.as_widget(attrs=attrs)
