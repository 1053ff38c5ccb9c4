// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Take keyboard and screen-reader users straight to what went wrong.
  const errorSummary = document.querySelector(".error-summary");
  if (errorSummary) errorSummary.focus();

  // A "select every learner on this page" box above a list's checkboxes.
  document.querySelectorAll("[data-select-all]").forEach((master) => {
    const boxes = master.form.querySelectorAll(`input[type=checkbox][name="${master.dataset.selectAll}"]`);
    master.hidden = false;
    master.addEventListener("change", () => boxes.forEach((box) => { box.checked = master.checked; }));
  });
});
