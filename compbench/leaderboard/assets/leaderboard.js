(function () {
  "use strict";
  // Renders the leaderboard from the JSON document in #leaderboard-data. Every text goes through
  // textContent: nothing from the data is ever parsed as markup.
  var data = JSON.parse(document.getElementById("leaderboard-data").textContent);
  var state = { group: 0, model: "", family: "", sortKey: "score:mean", sortDir: -1 };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function fixed(value) { return value === null || value === undefined ? "–" : value.toFixed(2); }

  function count(value) {
    if (value === null || value === undefined) { return "–"; }
    if (value >= 1e6) { return (value / 1e6).toFixed(1) + "M"; }
    if (value >= 1e3) { return (value / 1e3).toFixed(1) + "K"; }
    return String(Math.round(value));
  }

  function option(select, value, text) {
    var node = el("option", null, text);
    node.value = value;
    select.appendChild(node);
  }

  function currentGroup() { return data.groups[state.group]; }

  function columns(group) {
    var cols = [
      { key: "method", title: "Method", kind: "text" },
      { key: "model", title: "Base model", kind: "text" }
    ];
    group.targets.forEach(function (t) {
      if (state.family && state.family !== t.id) { return; }
      cols.push({ key: "score:" + t.id, target: t.id, title: t.title + " " + t.metric_label, kind: "score" });
      if (t.judge) { cols.push({ key: "judge:" + t.id, target: t.id, title: t.title + " LLM-J", kind: "judge" }); }
    });
    if (!state.family) { cols.push({ key: "score:mean", target: "mean", title: data.mean_title, kind: "score" }); }
    cols.push({ key: "passes", title: "Passes", kind: "cost" });
    cols.push({ key: "params", title: "Additional params", kind: "cost" });
    cols.push({ key: "mb", title: "Additional MB", kind: "cost" });
    return cols;
  }

  function sortValue(entry, col) {
    if (col.key === "method") { return entry.order; }
    if (col.key === "model") { return entry.model; }
    if (col.kind === "score") {
      var s = entry.scores[col.target];
      return s && !s.partial ? s.value : null;
    }
    if (col.kind === "judge") { return entry.judge[col.target]; }
    return entry.efficiency[col.key];
  }

  function visibleEntries(group, cols) {
    var col = cols.filter(function (c) { return c.key === state.sortKey; })[0] || cols[0];
    var rows = group.entries.filter(function (e) { return !state.model || e.model === state.model; });
    rows.sort(function (a, b) {
      var va = sortValue(a, col), vb = sortValue(b, col);
      if (va === null || va === undefined) { return (vb === null || vb === undefined) ? a.order - b.order : 1; }
      if (vb === null || vb === undefined) { return -1; }
      if (va < vb) { return -state.sortDir; }
      if (va > vb) { return state.sortDir; }
      return a.order - b.order || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0);
    });
    return rows;
  }

  function scoreCell(entry, col, marks) {
    var td = el("td", "num");
    var s = entry.scores[col.target];
    if (!s || s.value === null) { td.textContent = "–"; return td; }
    var mark = marks[col.target] || { leader: null, tied: [] };
    td.appendChild(el(mark.leader === entry.id ? "strong" : "span", "value", fixed(s.value)));
    if (mark.leader === entry.id) { td.classList.add("leader"); }
    if (mark.tied.indexOf(entry.id) >= 0) {
      td.classList.add("tied");
      td.appendChild(el("span", "mark", " ≈"));
    }
    if (s.partial) {
      td.classList.add("partial");
      td.appendChild(el("span", "mark", " †"));
    }
    if (s.ci) { td.appendChild(el("span", "ci", "[" + fixed(s.ci[0]) + ", " + fixed(s.ci[1]) + "]")); }
    return td;
  }

  function renderHead(cols) {
    var head = $("board-table").tHead;
    head.textContent = "";
    var tr = el("tr");
    cols.forEach(function (col) {
      var th = el("th", "sortable", col.title);
      th.dataset.key = col.key;
      th.setAttribute("scope", "col");
      th.setAttribute("tabindex", "0");
      if (col.key === state.sortKey) {
        th.setAttribute("aria-sort", state.sortDir < 0 ? "descending" : "ascending");
      }
      th.addEventListener("click", function () { sortBy(col); });
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { sortBy(col); } });
      tr.appendChild(th);
    });
    head.appendChild(tr);
  }

  function renderBody(group, cols) {
    var body = $("board-table").tBodies[0];
    body.textContent = "";
    var marks = group.marks[state.model] || {};
    visibleEntries(group, cols).forEach(function (entry) {
      var tr = el("tr");
      tr.dataset.entry = entry.id;
      cols.forEach(function (col) {
        if (col.key === "method") {
          var th = el("th");
          th.setAttribute("scope", "row");
          var button = el("button", "entry-link", entry.label);
          button.type = "button";
          button.addEventListener("click", function () { showDetail(entry.id); });
          th.appendChild(button);
          tr.appendChild(th);
        } else if (col.key === "model") {
          tr.appendChild(el("td", null, entry.model));
        } else if (col.kind === "score") {
          tr.appendChild(scoreCell(entry, col, marks));
        } else if (col.kind === "judge") {
          tr.appendChild(el("td", "num", fixed(entry.judge[col.target])));
        } else {
          var value = entry.efficiency[col.key];
          var text = col.key === "passes" ? (value === null ? "–" : value + "x")
            : col.key === "params" ? count(value) : fixed(value);
          var td = el("td", "num", text);
          if (entry.efficiency.declared) { td.appendChild(el("span", "mark", " *")); }
          tr.appendChild(td);
        }
      });
      body.appendChild(tr);
    });
  }

  function sortBy(col) {
    if (state.sortKey === col.key) {
      state.sortDir = -state.sortDir;
    } else {
      state.sortKey = col.key;
      state.sortDir = col.kind === "text" || col.kind === "cost" ? 1 : -1;
    }
    render();
  }

  function showFigure(group) {
    var measure = state.family || "mean";
    var figures = document.querySelectorAll("figure.pareto");
    Array.prototype.forEach.call(figures, function (fig) {
      fig.hidden = !(group && fig.dataset.group === group.id && fig.dataset.model === state.model &&
        fig.dataset.measure === measure);
    });
  }

  function render() {
    var group = currentGroup();
    if (!group) { showFigure(null); return; }
    var cols = columns(group);
    if (!cols.some(function (c) { return c.key === state.sortKey; })) {
      state.sortKey = state.family ? "score:" + state.family : "score:mean";
      state.sortDir = -1;
    }
    $("group-note").textContent = "Settings: " + group.title + ". Intervals and ties: paired bootstrap, " +
      group.bootstrap.resamples + " resamples, seed " + group.bootstrap.seed + ".";
    renderHead(cols);
    renderBody(group, cols);
    showFigure(group);
  }

  function fillFilters() {
    var group = currentGroup();
    var models = $("model-filter"), families = $("family-filter");
    models.textContent = "";
    families.textContent = "";
    option(models, "", "all");
    group.models.forEach(function (m) { option(models, m, m); });
    option(families, "", "all");
    group.targets.forEach(function (t) { option(families, t.id, t.title); });
    models.value = state.model;
    families.value = state.family;
  }

  function addMeta(dl, term, value, href) {
    if (value === null || value === undefined || value === "") { return; }
    dl.appendChild(el("dt", null, term));
    var dd = el("dd");
    if (href && /^https?:\/\//.test(value)) {
      var a = el("a", null, value);
      a.href = value;
      a.rel = "nofollow noopener noreferrer";
      dd.appendChild(a);
    } else {
      dd.textContent = value;
    }
    dl.appendChild(dd);
  }

  function showDetail(id) {
    var entry = null;
    data.groups.forEach(function (g) {
      g.entries.forEach(function (e) { if (e.id === id) { entry = e; } });
    });
    if (!entry) { return; }
    $("detail-title").textContent = entry.label + " on " + entry.model;
    var dl = $("detail-meta");
    dl.textContent = "";
    addMeta(dl, "Entry", entry.id);
    addMeta(dl, "Method", entry.method + " (" + entry.block_title + ")");
    addMeta(dl, "Base model", entry.base_model);
    addMeta(dl, "Authors", entry.authors.join(", "));
    addMeta(dl, "Date", entry.date);
    addMeta(dl, "Link", entry.link, true);
    addMeta(dl, "Description", entry.description);
    addMeta(dl, "compbench", entry.compbench_version);
    addMeta(dl, "Scoring", "tokenizer " + entry.scoring.tokenizer + ", multi-ref " + entry.scoring.multi_ref +
      ", seed " + entry.scoring.seed + ", " + entry.scoring.bootstrap + " resamples");
    var table = $("detail-table");
    table.tHead.textContent = "";
    table.tBodies[0].textContent = "";
    var head = el("tr");
    ["Sub-task", "n", "Main", "95% CI", "R-1", "R-2", "R-3", "R-L", "W-R", "LLM-J"].forEach(function (t) {
      var th = el("th", null, t);
      th.setAttribute("scope", "col");
      head.appendChild(th);
    });
    table.tHead.appendChild(head);
    entry.subtasks.forEach(function (s) {
      var tr = el("tr");
      var th = el("th", null, s.id);
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      tr.appendChild(el("td", "num", s.n + (s.missing ? " (" + s.missing + " missing)" : "")));
      tr.appendChild(el("td", "num", s.metric + " " + fixed(s.main)));
      tr.appendChild(el("td", "num", s.ci ? "[" + fixed(s.ci[0]) + ", " + fixed(s.ci[1]) + "]" : "–"));
      ["rouge1", "rouge2", "rouge3", "rougeL", "weighted_rouge"].forEach(function (k) {
        tr.appendChild(el("td", "num", fixed(s[k])));
      });
      tr.appendChild(el("td", "num", s.judge ? fixed(s.judge.score) + " (n " + s.judge.n + ")" : "–"));
      table.tBodies[0].appendChild(tr);
    });
    $("detail").hidden = false;
    if (location.hash !== "#entry=" + id) { history.replaceState(null, "", "#entry=" + id); }
    $("detail").scrollIntoView();
  }

  function fromHash() {
    var match = /^#entry=(.+)$/.exec(location.hash);
    if (match) { showDetail(decodeURIComponent(match[1])); }
  }

  function init() {
    if (!data.groups.length) {
      $("board-empty").hidden = false;
      $("board-controls").hidden = true;
      $("board-table").hidden = true;
      render();
      return;
    }
    var groups = $("group-filter");
    data.groups.forEach(function (g, i) { option(groups, String(i), g.title); });
    groups.addEventListener("change", function () {
      state.group = Number(groups.value);
      state.model = "";
      state.family = "";
      fillFilters();
      render();
    });
    $("model-filter").addEventListener("change", function (ev) { state.model = ev.target.value; render(); });
    $("family-filter").addEventListener("change", function (ev) { state.family = ev.target.value; render(); });
    $("detail-close").addEventListener("click", function () {
      $("detail").hidden = true;
      history.replaceState(null, "", location.pathname + location.search);
    });
    window.addEventListener("hashchange", fromHash);
    fillFilters();
    render();
    fromHash();
  }

  init();
}());
