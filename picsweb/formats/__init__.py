"""The project's date and time formats, by locale (settings.FORMAT_MODULE_PATH).

Django looks here before its own locale formats, so every ``|date``, ``|time``,
``formats.date_format`` and the admin show the same UK forms.
"""
