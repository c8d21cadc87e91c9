// Jobs table on /actions: refresh the rows every 2 s while a job is queued or running (the page works without it).
(function () {
  "use strict";
  var table = document.getElementById("jobs-table");
  if (!table) { return; }
  var url = table.getAttribute("data-poll");
  var state = document.getElementById("jobs-state");

  function pending() {
    return table.querySelectorAll('tr.job[data-status="queued"], tr.job[data-status="running"]').length > 0;
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(jobs) {
    var body = table.querySelector("tbody");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    jobs.forEach(function (j) {
      var row = document.createElement("tr");
      row.className = "job";
      row.setAttribute("data-job-id", j.id);
      row.setAttribute("data-status", j.status);
      cell(row, j.id, "mono");
      cell(row, j.kind);
      cell(row, j.target, "mono");
      var status = cell(row, "");
      var badge = document.createElement("span");
      badge.className = "status job-status status-" + j.status;
      badge.textContent = j.status;
      status.appendChild(badge);
      cell(row, (j.created_at || "").slice(0, 19), "nowrap");
      var result = cell(row, "", "job-result");
      if (j.asset_id) {
        var a = document.createElement("a");
        a.href = "/assets/" + encodeURIComponent(j.asset_id);
        a.textContent = "asset #" + j.asset_id;
        var p = document.createElement("a");
        p.href = "/assets/" + encodeURIComponent(j.asset_id) + "/preview";
        p.textContent = "preview reports";
        result.appendChild(a);
        result.appendChild(document.createTextNode(" · "));
        result.appendChild(p);
      } else if (j.error) {
        var w = document.createElement("span");
        w.className = "warn";
        w.textContent = j.error.slice(0, 120);
        result.appendChild(w);
      }
      body.appendChild(row);
    });
  }

  function poll() {
    if (!pending()) { if (state) { state.textContent = ""; } return; }
    if (state) { state.textContent = "(updating)"; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (doc) { render(doc.jobs || []); window.setTimeout(poll, 2000); })
      .catch(function (e) { if (state) { state.textContent = "(could not refresh: " + e.message + ")"; } });
  }

  window.setTimeout(poll, 1000);
})();
