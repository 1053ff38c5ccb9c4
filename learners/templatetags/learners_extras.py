from typing import Any

from django import forms, template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

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
    # work in the background: enrolments, their courses, synchronisation runs, link refreshes
    "queued": "info",
    "running": "info",
    "enrolling": "info",
    "retrying": "warning",
    "pending": "neutral",
    "enrolled": "good",
    "problems": "warning",
    "succeeded": "good",
    "partial": "warning",
    "held": "warning",
    "failed": "bad",
    "refused": "bad",
    "discarded": "neutral",
    "skipped": "neutral",
    # ILR imports, and what they do with each learner
    "reading": "info",
    "previewed": "info",
    "committing": "info",
    "committed": "good",
    "new": "info",
    "changed": "info",
    "unchanged": "neutral",
    "conflict": "warning",
    # other yes-or-no states
    "enabled": "good",
    "switched_off": "neutral",
    "ready": "good",
    "blocked": "bad",
    "available": "good",
    "unavailable": "neutral",
    "current": "info",
    "not_applied": "neutral",
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


class TableNode(template.Node):
    def __init__(
        self,
        rows: FilterExpression,
        name: str,
        caption: NodeList,
        columns: NodeList,
        cells: NodeList,
        empty: NodeList,
    ) -> None:
        self.rows, self.name = rows, name
        self.caption, self.columns, self.cells, self.empty = caption, columns, cells, empty

    def render(self, context: Context) -> SafeString:
        rows = list(self.rows.resolve(context) or ())
        rendered = []
        for number, row in enumerate(rows):
            loop = {
                "counter": number + 1,
                "counter0": number,
                "first": number == 0,
                "last": number == len(rows) - 1,
            }
            with context.push({self.name: row, "forloop": loop}):
                rendered.append(self.cells.render(context))
        return render_to_string(
            "learners/_table.html",
            {
                # Rendered (so escaped) already; strip() would make them plain text again.
                "caption": mark_safe(self.caption.render(context).strip()),
                "columns": self.columns.render(context) if rows else "",
                "rows": rendered,
                "empty": mark_safe(self.empty.render(context).strip()),
            },
        )


@register.tag
def table(parser: Parser, token: Token) -> TableNode:
    """A list page's table: its caption, column headers, one row per record, and what to say
    when there is none, in the one frame every list shares (learners/_table.html)::

        {% table page_obj.object_list as officer %}Officers
        {% columns %}{% sort_header "name" "Name" %}<th scope="col">Email</th>
        {% cells %}<td>{{ officer.full_name }}</td><td>{{ officer.email }}</td>
        {% empty %}No officer matches.
        {% endtable %}

    Inside ``{% cells %}`` the record is under the name after ``as``, and ``forloop.counter``
    counts the rows as in a ``{% for %}``. The pager is learners/_pagination.html.
    """
    bits = token.split_contents()
    if len(bits) != 4 or bits[2] != "as":
        raise template.TemplateSyntaxError("Use {% table <records> as <name> %}.")
    caption = parser.parse(("columns",))
    parser.delete_first_token()
    columns = parser.parse(("cells",))
    parser.delete_first_token()
    cells = parser.parse(("empty", "endtable"))
    empty = NodeList()
    if parser.next_token().contents == "empty":
        empty = parser.parse(("endtable",))
        parser.delete_first_token()
    return TableNode(parser.compile_filter(bits[1]), bits[3], caption, columns, cells, empty)


# Long text in a table cell (a review's notes) shows this many characters, then "more".
LONG_TEXT_SHOWN = 200


@register.simple_tag
def long_text(text: str, what: str = "", limit: int = LONG_TEXT_SHOWN) -> SafeString:
    """``{% long_text review.notes "of the notes" %}``: the text with its line breaks; when it
    is long, its start and a "more" that opens the rest, so one long note does not stretch a
    whole table. ``what`` tells screen readers what "more" opens."""
    text = (text or "").strip()
    if len(text) <= limit + 40:  # not worth folding a few words away
        return linebreaksbr(text, autoescape=True)
    cut = text.rfind(" ", 0, limit)
    cut = cut if cut > limit // 2 else limit
    head, rest = text[:cut], text[cut:].lstrip()
    return format_html(
        '{} <details class="more"><summary><span class="more__more">… more</span>'
        '<span class="more__less">(less)</span><span class="visually-hidden"> {}</span>'
        '</summary> <span class="more__rest">{}</span></details>',
        linebreaksbr(head, autoescape=True),
        what,
        linebreaksbr(rest, autoescape=True),
    )
