// Report screens: autosave of the editor through the API (every few seconds when the text
// changed, with the session's CSRF token and the draft's revision), templates inserted
// from the picker, and printing the clinic's report.
(function () {
  "use strict";
  var printBtn = document.getElementById("print-report");
  if (printBtn) {
    printBtn.addEventListener("click", function () { window.print(); });
  }
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var id = form.getAttribute("data-request");
  var rev = document.getElementById("revision");
  var status = document.getElementById("autosave-status");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var fields = ["findings", "impression", "recommendation"].map(function (n) {
    return document.getElementById(n);
  });
  function text() { return fields.map(function (f) { return f.value; }).join("\u0000"); }
  var saved = text();
  var busy = false;
  var stale = false;
  function show(kind) {
    status.className = kind;
    status.textContent = status.getAttribute("data-" + kind) || "";
  }
  function save() {
    if (busy || stale) { return; }
    var now = text();
    if (now === saved) { return; }
    busy = true;
    fetch("/api/v1/requests/" + id + "/report/draft", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({
        revision: parseInt(rev.value, 10) || 0,
        findings: fields[0].value,
        impression: fields[1].value,
        recommendation: fields[2].value
      })
    }).then(function (r) {
      if (r.status === 409) { stale = true; show("stale"); return null; }
      if (!r.ok) { show("failed"); return null; }
      return r.json();
    }).then(function (j) {
      if (j && j.draft) { rev.value = j.draft.revision; saved = now; show("saved"); }
    }).catch(function () { show("failed"); })
      .then(function () { busy = false; });
  }
  setInterval(save, 5000);
  var picker = document.getElementById("template");
  var apply = document.getElementById("template-apply");
  if (picker && apply) {
    apply.addEventListener("click", function (ev) {
      var opt = picker.options[picker.selectedIndex];
      if (!opt || !opt.value) { return; }
      ev.preventDefault();
      ["findings", "impression", "recommendation"].forEach(function (n, i) {
        var v = opt.getAttribute("data-" + n) || "";
        if (v) { fields[i].value = fields[i].value ? fields[i].value + "\n" + v : v; }
      });
    });
  }
})();
