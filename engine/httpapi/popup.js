// The callback page's script (popup mode): tell the window that opened
// this popup how the authorization ended, then close. The message goes
// only to the engine's allowed origins (public_url and
// api.allowed_redirect_origins): postMessage delivers it only when the
// opener is on the origin named, so no other site learns of it.
"use strict";
(() => {
  const el = document.getElementById("authengine-result");
  if (!el || !window.opener) return;
  const msg = { type: "authengine:authorization", id: el.dataset.id, status: el.dataset.status };
  let origins = [];
  try { origins = JSON.parse(el.dataset.origins); } catch (e) { return; }
  for (const origin of origins) {
    try { window.opener.postMessage(msg, origin); } catch (e) { /* opener gone */ }
  }
  window.close();
})();
