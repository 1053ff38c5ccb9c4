// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Take keyboard and screen-reader users straight to what went wrong; else, when the address
  // names a field (the enrolment preview's "Fix it"), to that field.
  const errorSummary = document.querySelector(".error-summary");
  if (errorSummary) {
    errorSummary.focus();
  } else if (location.hash.length > 1) {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.matches("input, select, textarea")) {
      target.focus();
      target.scrollIntoView({block: "center"});
    }
  }

  // A "select every learner on this page" box above a list's checkboxes.
  document.querySelectorAll("[data-select-all]").forEach((master) => {
    const boxes = master.form.querySelectorAll(`input[type=checkbox][name="${master.dataset.selectAll}"]`);
    master.hidden = false;
    master.addEventListener("change", () => boxes.forEach((box) => { box.checked = master.checked; }));
  });

  // A button whose page takes a while to build (data-busy) says so while it does, in the form's
  // status line, so nobody presses it again or leaves thinking nothing happened.
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (!button || !button.dataset.busy) return;
    const status = button.form.querySelector("[data-busy-status]");
    if (!status) return;
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    spinner.setAttribute("aria-hidden", "true");
    status.replaceChildren(spinner, document.createTextNode(button.dataset.busy));
    status.hidden = false;
    button.setAttribute("aria-disabled", "true");
  });

  // The Smart Assessor block's state, shown again beside the learner's name at the top of the
  // Delivery Plan, and kept up to date as the block is.
  const mirrorState = () => {
    const top = document.getElementById("sa-state-top");
    if (!top) return;
    const state = document.querySelector("#sa-block [data-sa-state] .badge");
    if (!state) {
      top.hidden = true;
      top.replaceChildren();
      return;
    }
    const link = document.createElement("a");
    link.href = "#sa-block";
    link.textContent = "Smart Assessor";
    top.replaceChildren(link, document.createTextNode(": "), state.cloneNode(true));
    top.hidden = false;
  };
  mirrorState();
  document.body.addEventListener("htmx:afterSettle", mirrorState);

  // A part of a page that waits on Smart Assessor (data-sa-fallback) says so when Smart
  // Assessor does not answer in time, or the request fails, instead of staying blank.
  const saFailed = (event) => {
    const element = event.detail.elt;
    const part = element && element.closest("[data-sa-fallback]");
    if (!part) return;
    const message = document.createElement("p");
    message.className = "notice";
    message.setAttribute("role", "status");
    message.textContent = part.dataset.saFallback;
    // What the part shows from the MIS stays; only what waited on Smart Assessor gives way.
    const pending = part.querySelectorAll("[data-sa-pending]");
    if (pending.length) {
      pending.forEach((cell) => cell.replaceChildren("Not looked up now"));
      part.prepend(message);
    } else {
      part.replaceChildren(message);
    }
    part.removeAttribute("aria-busy");
    part.removeAttribute("data-sa-fallback");
  };
  ["htmx:timeout", "htmx:sendError", "htmx:responseError"].forEach((name) =>
    document.body.addEventListener(name, saFailed));
});
