// authengine console: the little JavaScript the pages use. Served as a
// file of its own, so the Content-Security-Policy allows no inline script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: copy the text of the element data-copy names.
  for (const btn of document.querySelectorAll("button[data-copy]")) {
    btn.addEventListener("click", async () => {
      const text = document.getElementById(btn.dataset.copy).textContent.trim();
      const note = btn.parentElement.querySelector(".copied");
      try {
        await navigator.clipboard.writeText(text);
        if (note) note.textContent = "Copied.";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(btn.dataset.copy));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        if (note) note.textContent = "Selected: press Ctrl+C to copy.";
      }
    });
  }

  // A template choice fills the Add provider form at once.
  for (const sel of document.querySelectorAll("select[data-autosubmit]")) {
    sel.addEventListener("change", () => sel.form.submit());
  }

  // Connect with OAuth: open the provider's login in a popup, and reload
  // when the callback page posts the outcome back (only from this origin).
  for (const form of document.querySelectorAll("form.connect")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const status = form.querySelector(".connect-status");
      // Opened now, while the click still counts, so no popup blocker stops it.
      const popup = window.open("about:blank", "authengine-connect", "popup,width=520,height=680");
      status.textContent = "Waiting for the provider…";
      let flow;
      try {
        const resp = await fetch(form.action, {
          method: "POST",
          headers: { "X-CSRF-Token": form.elements.csrf.value },
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
        });
        flow = await resp.json();
        if (!resp.ok) throw new Error(flow.error || resp.statusText);
      } catch (e) {
        if (popup) popup.close();
        status.textContent = "Could not start: " + e.message;
        return;
      }
      if (flow.status === "completed") {
        if (popup) popup.close();
        window.location.reload();
        return;
      }
      if (!popup) {
        status.textContent = "The popup was blocked: allow popups for this page and try again.";
        return;
      }
      popup.location.href = flow.url;
      const onMessage = (msg) => {
        if (msg.origin !== window.location.origin || !msg.data || msg.data.type !== "authengine:authorization" || msg.data.id !== flow.id) return;
        window.removeEventListener("message", onMessage);
        if (msg.data.status === "completed") {
          status.textContent = "Connected.";
          window.location.reload();
        } else {
          status.textContent = "The authorization did not complete (" + msg.data.status + ").";
        }
      };
      window.addEventListener("message", onMessage);
    });
  }
});
