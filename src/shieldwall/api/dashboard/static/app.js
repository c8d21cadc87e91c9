// Shieldwall dashboard: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // Selects marked .autosubmit submit their form when changed.
  document.querySelectorAll(".autosubmit").forEach(function (el) {
    el.addEventListener("change", function () { if (el.form) { el.form.submit(); } });
  });

  // <input class="table-filter" data-table="ID">: hide rows of that table that do not contain the text.
  document.querySelectorAll("input.table-filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table) { return; }
    input.addEventListener("input", function () {
      var needle = input.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.classList.toggle("hidden", needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1);
      });
    });
  });

  // Forms marked .confirm ask first (revoking an exception reopens findings).
  document.querySelectorAll("form.confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) { event.preventDefault(); }
    });
  });

  // Print: open every <details> so the printed page shows what the screen folds away.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.setAttribute("open", ""); });
  });

  // <button class="copy" data-copy="TEXT">: copy TEXT (an image digest) to the clipboard.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (!navigator.clipboard) { window.prompt("Copy:", text); return; }
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "copied";
        window.setTimeout(function () { button.textContent = "copy digest"; }, 1500);
      }, function () { window.prompt("Copy:", text); });
    });
  });

  document.body.setAttribute("data-ready", "true");
})();
