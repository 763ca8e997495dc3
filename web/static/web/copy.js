// Copy buttons on the profile page. Progressive enhancement: without JavaScript the buttons stay
// hidden and the read-only fields can be selected and copied by hand.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const status = document.querySelector(".copy-status");
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        // No clipboard access (an insecure origin, a refused permission): select the text,
        // so that the usual shortcut copies it.
        field.select();
        return;
      }
      if (status) {
        status.textContent = `${status.dataset.copied}: ${field.value}`;
      }
    });
  }
});
