// The edge's API index: fetches every service's OpenAPI document through the
// edge and lists each operation (method, path, summary, operationId).
(function () {
  "use strict";
  var SERVICES = ["auth", "portfolio", "profit", "withdrawal", "stats"];
  var METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function operations(doc) {
    var ops = [];
    var paths = (doc && doc.paths) || {};
    Object.keys(paths).forEach(function (p) {
      var item = paths[p] || {};
      METHODS.forEach(function (m) {
        if (item[m]) { ops.push({ method: m, path: p, op: item[m] }); }
      });
    });
    return ops;
  }

  function renderService(name, doc) {
    var sec = el("section", { id: "service-" + name, "class": "service" });
    var h = el("h2", null, name);
    var small = el("small");
    var info = (doc && doc.info) || {};
    if (info.title) { small.appendChild(document.createTextNode(info.title + (info.version ? " " + info.version : "") + " — ")); }
    small.appendChild(el("a", { href: "/docs/openapi/" + name + ".json" }, "openapi.json"));
    h.appendChild(small);
    sec.appendChild(h);
    if (info.description) {
      var about = el("details");
      about.appendChild(el("summary", null, "About the " + name + " API"));
      about.appendChild(el("p", { "class": "description" }, info.description));
      sec.appendChild(about);
    }
    var ops = operations(doc);
    var table = el("table");
    var head = el("tr");
    ["Operation", "Summary", "operationId"].forEach(function (t) { head.appendChild(el("th", null, t)); });
    table.appendChild(head);
    ops.forEach(function (o) {
      var tr = el("tr", { "class": "op m-" + o.method, "data-service": name });
      var sig = el("td");
      sig.appendChild(el("span", { "class": "sig" }, o.method.toUpperCase() + " " + o.path));
      tr.appendChild(sig);
      var summary = o.op.summary || o.op.description || "";
      var td = el("td", null, summary);
      if (o.op.deprecated) { td.appendChild(el("em", null, " (deprecated)")); }
      tr.appendChild(td);
      tr.appendChild(el("td", { "class": "opid" }, o.op.operationId || ""));
      table.appendChild(tr);
    });
    sec.appendChild(el("p", null, ops.length + " operations"));
    sec.appendChild(table);
    return sec;
  }

  function renderError(name, err) {
    var sec = el("section", { id: "service-" + name, "class": "service" });
    sec.appendChild(el("h2", null, name));
    sec.appendChild(el("p", { "class": "error" }, "Could not load /docs/openapi/" + name + ".json: " + err));
    return sec;
  }

  function applyFilter() {
    var q = document.getElementById("filter").value.toLowerCase();
    var rows = document.querySelectorAll("tr.op");
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle("hidden", q !== "" && rows[i].textContent.toLowerCase().indexOf(q) < 0);
    }
  }

  function load(name) {
    return fetch("/docs/openapi/" + name + ".json", { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (doc) { return renderService(name, doc); },
            function (err) { return renderError(name, err && err.message ? err.message : err); });
  }

  var main = document.getElementById("services");
  var toc = document.getElementById("toc");
  SERVICES.forEach(function (name) {
    toc.appendChild(el("a", { href: "#service-" + name }, name));
  });
  document.getElementById("filter").addEventListener("input", applyFilter);
  Promise.all(SERVICES.map(load)).then(function (sections) {
    main.textContent = "";
    sections.forEach(function (s) { main.appendChild(s); });
    document.body.setAttribute("data-status", "ready");
  });
})();
