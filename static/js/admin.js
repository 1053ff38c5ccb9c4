// The admin's time shortcuts on the 24-hour clock, as every time in picsweb ("06:00", not
// "6 a.m."). Deferred, so it runs after the form's scripts and before their load-time set-up.
if (window.DateTimeShortcuts) {
  window.DateTimeShortcuts.clockHours.default_ = [
    [gettext("Now"), -1],
    ["00:00", 0],
    ["06:00", 6],
    ["12:00", 12],
    ["18:00", 18],
  ];
}
