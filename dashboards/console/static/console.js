// healthdlp triage console: progressive enhancement only; every page works without script.
(function () {
  "use strict";
  var KEY = "healthdlp.analyst";
  function stored() { try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function store(v) { try { localStorage.setItem(KEY, v); } catch (e) { /* private mode */ } }

  document.addEventListener("DOMContentLoaded", function () {
    // Remember who the analyst is and prefill every "who" field.
    var global = document.getElementById("who-global");
    var name = stored();
    var whos = document.querySelectorAll("input.who");
    if (global) {
      global.value = name;
      global.addEventListener("change", function () {
        store(global.value.trim());
        whos.forEach(function (w) { if (!w.value) { w.value = global.value.trim(); } });
      });
    }
    whos.forEach(function (w) {
      if (!w.value) { w.value = name; }
      w.addEventListener("change", function () { store(w.value.trim()); if (global) { global.value = w.value.trim(); } });
    });

    // Filters apply on change.
    document.querySelectorAll("select.autosubmit").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });

    // Queue: click a row to open it; j/k to move, Enter to open.
    var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr[data-href]"));
    var cur = -1;
    rows.forEach(function (r, i) {
      r.addEventListener("click", function (ev) { if (ev.target.tagName !== "A") { location.href = r.dataset.href; } });
      r.addEventListener("focus", function () { cur = i; });
    });
    document.addEventListener("keydown", function (ev) {
      if (!rows.length || /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) { return; }
      if (ev.key === "j" || ev.key === "k") {
        cur = Math.max(0, Math.min(rows.length - 1, cur + (ev.key === "j" ? 1 : -1)));
        rows.forEach(function (r) { r.classList.remove("cur"); });
        rows[cur].classList.add("cur"); rows[cur].focus();
      } else if (ev.key === "Enter" && cur >= 0) { location.href = rows[cur].dataset.href; }
    });

    // Triage: closing or escalating needs a note; say so before the round trip.
    document.querySelectorAll("form.triage button[data-needs-note]").forEach(function (b) {
      b.addEventListener("click", function (ev) {
        var note = b.form.querySelector("textarea[name=note]");
        if (note && !note.value.trim()) {
          ev.preventDefault(); note.setCustomValidity("A note is required for " + b.textContent.toLowerCase());
          note.reportValidity(); note.addEventListener("input", function () { note.setCustomValidity(""); }, { once: true });
        }
      });
    });

    // Copy the incident report draft.
    document.querySelectorAll("button.copy").forEach(function (b) {
      b.addEventListener("click", function () {
        var src = document.getElementById(b.dataset.copy);
        if (!src) { return; }
        var done = function () { b.classList.add("done"); b.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(src.value).then(done, function () { src.select(); document.execCommand("copy"); done(); });
        } else { src.select(); document.execCommand("copy"); done(); }
      });
    });

    // FP-rate bars (widths set from data attributes: the CSP forbids inline styles).
    document.querySelectorAll(".bar[data-w]").forEach(function (el) { el.style.width = el.dataset.w + "px"; });
  });
})();
