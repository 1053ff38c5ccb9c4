// Dialogs: a link marked data-dialog loads its page into the shared <dialog> with htmx and
// opens it; without JavaScript the same link opens the page itself.
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("dialog");
  if (!dialog) return;
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "dialog-content") return;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("h2, [autofocus], input, button, a");
    if (first) {
      if (first.tagName === "H2") first.setAttribute("tabindex", "-1");
      first.focus();
    }
  });
  dialog.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-dialog]")) {
      event.preventDefault();
      dialog.close();
    }
  });
  dialog.addEventListener("close", () => {
    document.getElementById("dialog-content").replaceChildren();
  });
});
