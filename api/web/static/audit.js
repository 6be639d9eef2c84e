// The audit page: upload a book to POST /v1/audits with progress, then show the KPIs, the lists and the errors.
// Text is always set with textContent (never as HTML).
"use strict";

(function () {
  const form = document.getElementById("audit-form");
  const root = new URL(form.action, location.href).pathname.replace(/\/v1\/audits$/, "");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const gbp = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });
  const LIST_COLUMNS = [
    "row", "placement_id", "provider", "provider_id", "service", "start_date", "outcome_at_kpi_date", "rule_ids",
    "approvers", "beds_in_payment", "occupied", "empty", "empty_beds_weekly",
    "gross_weekly_cost", "isp_nhs_contribution_weekly", "comparable_weekly", "benchmark_weekly",
    "over_benchmark_percent", "care_cubed_weekly", "over_care_cubed_percent",
  ];
  const MONEY = /(_weekly|_cost)$/;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function show(value, unit) {
    if (value === null || value === undefined) return "–";
    if (unit === "percent") return value + "%";
    if (unit === "GBP/week") return gbp.format(Number(value));
    return typeof value === "number" ? value.toLocaleString("en-GB") : String(value);
  }

  function cell(name, value) {
    if (value === null || value === undefined) return "";
    if (MONEY.test(name)) return gbp.format(Number(value));
    return String(value);
  }

  function progress(text, percent) {
    $("audit-progress").hidden = false;
    $("audit-progress-text").textContent = text;
    const bar = $("audit-progress-bar");
    if (percent === null) bar.removeAttribute("value");
    else bar.value = percent;
  }

  function fail(messages) {
    $("audit-progress").hidden = true;
    const list = $("audit-error-list");
    list.replaceChildren(...messages.map((m) => el("li", m)));
    $("audit-error").hidden = false;
    $("audit-error").focus();
  }

  function kpis(summary) {
    const body = $("kpi-table").tBodies[0];
    body.replaceChildren();
    for (const kpi of summary.kpis) {
      const row = el("tr");
      row.dataset.kpi = kpi.id;
      row.append(el("th", kpi.name));
      row.firstChild.scope = "row";
      row.append(el("td", show(kpi.value, kpi.unit), "num"));
      if (kpi.numerator !== undefined) {  // a percentage: the counts it divides, and whether they are few
        row.lastChild.append(el("br"), el("small", show(kpi.numerator) + " of " + show(kpi.denominator)));
        if (kpi.small_number) row.lastChild.append(el("br"), el("strong", "small number"));
      }
      row.append(el("td", kpi.target || "–"));
      const met = kpi.target_met === true ? "yes" : kpi.target_met === false ? "no" : "–";
      row.append(el("td", met, "met-" + met));
      const counts = kpi.not_available
        ? "not available: " + kpi.not_available
        : Object.entries(kpi.counts).map(([k, v]) => k.replace(/_/g, " ") + " " + show(v)).join(", ");
      row.append(el("td", counts));
      body.append(row);
    }
  }

  function lists(data) {
    $("kpi-date").textContent = data.summary.kpi_date;
    for (const section of document.querySelectorAll(".audit-list")) {
      const list = data.lists[section.dataset.list] || { count: 0, rows: [] };
      const shown = list.rows.length < list.count ? " (first " + list.rows.length + ")" : "";
      section.querySelector(".list-count").textContent = list.count.toLocaleString("en-GB") + " rows" + shown;
      const columns = LIST_COLUMNS.filter((c) => list.rows.length && c in list.rows[0]);
      const head = el("tr");
      for (const c of columns) {
        const th = el("th", c.replace(/_/g, " "));
        th.scope = "col";
        head.append(th);
      }
      section.querySelector("thead").replaceChildren(list.rows.length ? head : "");
      section.querySelector("tbody").replaceChildren(
        ...list.rows.map((r) => {
          const tr = el("tr");
          tr.dataset.placement = r.placement_id || "";
          for (const c of columns) tr.append(el("td", cell(c, r[c]), MONEY.test(c) ? "num" : ""));
          return tr;
        }),
      );
    }
  }

  function errors(summary) {
    $("error-table").tBodies[0].replaceChildren(
      ...summary.errors.map((g) => {
        const tr = el("tr");
        tr.append(el("td", g.field), el("td", g.message), el("td", g.count.toLocaleString("en-GB"), "num"));
        tr.append(el("td", g.rows.join(", ") + (g.count > g.rows.length ? "…" : "")));
        tr.append(el("td", g.examples.join(", ")), el("td", g.hint || ""));
        return tr;
      }),
    );
  }

  function render(data) {
    const s = data.summary;
    $("audit-summary").textContent =
      s.rows.toLocaleString("en-GB") + " rows, " + s.error_rows.toLocaleString("en-GB") +
      " could not be decided; KPI period " + s.period.start + " to " + s.period.end + "; rulebook " +
      s.rulebook_version + ".";
    $("audit-notes").replaceChildren(...[...s.notes, ...s.warnings].map((n) => el("li", n)));
    $("audit-downloads").replaceChildren(
      ...Object.entries(data.downloads).map(([name, href]) => {
        const a = el("a", name);
        a.href = root + href; // the API's links are from its root: under a sub-path (CARERULES_ROOT_PATH) prefix it
        a.download = name;
        a.id = "download-" + name.replace(/\W/g, "-");
        const li = el("li");
        li.append(a);
        return li;
      }),
    );
    kpis(s);
    lists(data);
    errors(s);
    $("audit-progress").hidden = true;
    $("audit-results").hidden = false;
    $("results-heading").scrollIntoView();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    $("audit-error").hidden = true;
    $("audit-results").hidden = true;
    const body = new FormData(form);
    for (const name of ["sheet", "as_at", "by"]) if (!body.get(name)) body.delete(name);
    for (const name of ["columns", "providers", "block_beds"]) {
      const given = body.get(name);
      if (given && !given.size) body.delete(name);
    }
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.responseType = "json";
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress("Uploading… " + Math.round((100 * e.loaded) / e.total) + "%", (100 * e.loaded) / e.total);
    });
    request.upload.addEventListener("load", () => progress("Reading and evaluating the book…", null));
    request.addEventListener("load", () => {
      const data = request.response;
      if (request.status === 200 && data) return render(data);
      const error = (data && data.error) || {};
      const fields = Object.entries(error.fields || {}).flatMap(([f, ms]) => ms.map((m) => f + ": " + m));
      fail(fields.length ? fields : [error.message || "The audit failed (HTTP " + request.status + ")."]);
    });
    request.addEventListener("error", () => fail(["The upload did not reach the server."]));
    progress("Uploading…", 0);
    request.send(body);
  });
})();
