"""Widgets of our own, where Django's are too slow for the size of a provider's data."""

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


class QuickSelect(forms.Select):
    """A select built in Python rather than from a template per option.

    Django's Select renders a template for each option, about half a millisecond apiece: the
    learner list's main-officer filter, which offers every main officer (hundreds at a large
    provider), took longer to draw than the list took to read. The markup is the same as
    Django's for options without attributes of their own and without groups.
    """

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        # Widget's context (name, attributes, the values chosen as strings) without
        # ChoiceWidget's option dictionaries, which cost as much as the templates.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        chosen = set(widget["value"])
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            (
                (option, mark_safe(" selected") if str(option) in chosen else "", label)
                for option, label in self.choices
            ),
        )
        return format_html(
            '<select name="{}"{}>\n{}\n</select>', widget["name"], flatatt(widget["attrs"]), options
        )
