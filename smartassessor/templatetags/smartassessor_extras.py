"""Template helpers of the integration's pages."""

from django import template

from .. import in_words

register = template.Library()

register.filter("run_summary", in_words.run_summary)
register.filter("change_in_words", in_words.change_in_words)


@register.filter
def sentence(text: str) -> str:
    """``{{ message|sentence }}``: a message ending with exactly one full stop, as messages
    stored by several hands end with none, one or two."""
    text = str(text or "")
    return text.rstrip(" .") + "." if text.strip(" .") else ""
