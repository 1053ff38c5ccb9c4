// Dialogs: a link marked data-dialog loads its page into the shared <dialog> with htmx and
// opens it; without JavaScript the same link opens the page itself.
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("dialog");
  if (!dialog) return;
  const content = document.getElementById("dialog-content");
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "dialog-content") return;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("h2, [autofocus], input, button, a");
    if (first) {
      if (first.tagName === "H2") first.setAttribute("tabindex", "-1");
      first.focus();
    }
  });
  // A request made from the dialog that fails (the server's error page, the network) is told
  // inside the dialog: the page behind it is left as it was, and the dialog stays open.
  const failed = (event) => {
    const element = event.detail.elt;
    if (!element || !(element.closest("#dialog-content") || element.closest("[data-dialog]"))) return;
    if (element.closest("[data-sa-fallback]")) return; // said in place (picsweb.js)
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    const message = document.createElement("p");
    message.className = "message message--error";
    message.setAttribute("role", "alert");
    message.id = "dialog-error";
    message.textContent = status === 403
      ? "You are not allowed to do this."
      : status >= 500 || status === 0
        ? "Something went wrong, or the server did not answer: nothing was changed. Try again; if it happens again, tell support."
        : "This could not be done: reload the page and try again.";
    const body = content.querySelector(".dialog-body");
    const old = content.querySelector("#dialog-error");
    if (old) old.remove();
    if (body) {
      body.querySelector("h2").after(message);
    } else {
      const title = document.createElement("h2");
      title.id = "dialog-title";
      title.textContent = "Not done";
      const wrapper = document.createElement("div");
      wrapper.className = "dialog-body";
      wrapper.append(title, message);
      content.replaceChildren(wrapper);
    }
    if (!dialog.open) dialog.showModal();
    message.setAttribute("tabindex", "-1");
    message.focus();
  };
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach((name) =>
    document.body.addEventListener(name, failed));
  dialog.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-dialog]")) {
      event.preventDefault();
      dialog.close();
    }
  });
  dialog.addEventListener("close", () => {
    content.replaceChildren();
  });
});
