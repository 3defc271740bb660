// The staff console's only script: validation and preview as staff type, character
// counts, and the progress of a publish. Every page works without it (the server
// checks and shows the same on save).
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function counts(form) {
  for (const span of form.querySelectorAll(".count[data-for]")) {
    const field = form.elements[span.dataset.for];
    if (!field) continue;
    const n = field.value.trim().length;
    span.textContent = n + " characters";
    span.classList.toggle("bad", n > Number(span.dataset.limit || Infinity));
  }
}

function liveCheck(form) {
  const target = document.getElementById("check");
  let sent = 0;
  const check = debounce(async () => {
    const mine = ++sent;
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(form.dataset.check, {
      method: "POST",
      body,
      headers: { "X-CSRF-Token": body.get("csrf") },
      credentials: "same-origin",
      redirect: "manual",
    });
    if (mine !== sent) return; // a newer check is on its way
    if (!response.ok) {
      // Signed out (the session lasts a working day) or the form is out of date: say so
      // before staff type more; their text is still in the form.
      target.querySelector(".problems-box").innerHTML =
        '<p class="error" role="alert">The check stopped: your session may have ended. ' +
        "Sign in again in another tab, then save here (your text is kept).</p>";
      return;
    }
    target.innerHTML = await response.text();
  }, 400);
  form.addEventListener("input", () => { counts(form); check(); });
  counts(form);
}

function pollPublish(box) {
  const tick = async () => {
    const state = box.querySelector("[data-state]");
    if (!state || state.dataset.state !== "running") return;
    const response = await fetch(box.dataset.poll, { credentials: "same-origin", redirect: "manual" });
    if (!response.ok) return; // signed out: the page stays as it was
    box.innerHTML = await response.text();
    const now = box.querySelector("[data-state]");
    if (now && now.dataset.state === "running") setTimeout(tick, 1000);
    else document.querySelectorAll("button[disabled]").forEach((b) => { b.disabled = false; });
  };
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("entry-form");
  if (form) liveCheck(form);
  const publish = document.getElementById("publish-state");
  if (publish) pollPublish(publish);
});
