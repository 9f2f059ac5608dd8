/* mailposture survey dashboard: progressive enhancement (every page works without it).
   - Column headers of data tables sort the rows on the page (a rate cell sorts by count/total; the total row
     stays last); aria-sort says the order to screen readers.
   - Tables of more than 8 rows get a filter box that hides the rows not containing the text typed.
   Our own code, no library; served from /static (CSP script-src 'self'). */
(function () {
  "use strict";
  var ja = (document.documentElement.lang || "").indexOf("ja") === 0;
  var words = ja ? {filter: "この表を絞り込む", shown: "件を表示", sort: "クリックで並べ替え"}
                 : {filter: "Filter this table", shown: " rows shown", sort: "Click to sort"};

  function key(cell) {
    if (!cell) return [2, ""];
    var c = cell.getAttribute("data-count"), t = cell.getAttribute("data-total");
    if (c !== null && t !== null) return [0, Number(t) > 0 ? Number(c) / Number(t) : -1];
    var text = cell.textContent.trim();
    var m = text.replace(/,/g, "").match(/^-?\d+(\.\d+)?/);
    return m ? [0, parseFloat(m[0])] : [1, text];
  }

  function compare(a, b) {
    if (a[0] !== b[0]) return a[0] - b[0];
    if (a[0] === 0) return a[1] - b[1];
    return String(a[1]).localeCompare(String(b[1]), ja ? "ja" : "en", {numeric: true});
  }

  function sortable(table) {
    var head = table.tHead, body = table.tBodies[0];
    if (!head || !body || body.rows.length < 2) return;
    var ths = head.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.title = words.sort;
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var down = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(body.rows);
        var fixed = rows.filter(function (r) { return r.classList.contains("total"); });
        var moving = rows.filter(function (r) { return !r.classList.contains("total"); });
        moving.sort(function (x, y) {
          var d = compare(key(x.cells[col]), key(y.cells[col]));
          return down ? -d : d;
        });
        moving.concat(fixed).forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function filterable(table, n) {
    var body = table.tBodies[0];
    if (!body || body.rows.length <= 8) return;
    var box = document.createElement("div");
    box.className = "table-filter";
    var id = "filter-" + n;
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = words.filter;
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    var status = document.createElement("span");
    status.setAttribute("role", "status");
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(status);
    var holder = table.parentNode.classList.contains("scroll") ? table.parentNode : table;
    holder.parentNode.insertBefore(box, holder);
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(body.rows, function (r) {
        var hit = !q || r.classList.contains("total") || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        if (hit) shown += 1;
      });
      status.textContent = q ? shown + words.shown : "";
    });
  }

  document.querySelectorAll("table.data").forEach(function (table, n) {
    sortable(table);
    filterable(table, n);
  });
})();
