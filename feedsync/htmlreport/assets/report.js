"use strict";
// Search and pagination over the rows already in the page. Only textContent and the
// hidden attribute are touched: no product text ever goes through innerHTML.
(function () {
  function setup(block) {
    var input = block.querySelector("input[type=search]");
    var status = block.querySelector(".status");
    var info = block.querySelector(".page-info");
    var prev = block.querySelector("button[data-page=prev]");
    var next = block.querySelector("button[data-page=next]");
    var rows = Array.prototype.slice.call(block.querySelectorAll("tbody tr"));
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    var size = parseInt(block.getAttribute("data-page-size"), 10) || 25;
    var matching = rows;
    var page = 0;

    function show() {
      var pages = Math.max(1, Math.ceil(matching.length / size));
      if (page >= pages) { page = pages - 1; }
      var start = page * size, end = Math.min(start + size, matching.length);
      rows.forEach(function (row) { row.hidden = true; });
      for (var i = start; i < end; i++) { matching[i].hidden = false; }
      status.textContent = matching.length === 0 ? "No matching rows" :
        "Showing " + (start + 1) + "\u2013" + end + " of " + matching.length +
        (matching.length === rows.length ? " rows" : " matching rows");
      info.textContent = "Page " + (page + 1) + " of " + pages;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }

    function filter() {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      matching = rows.filter(function (row, i) {
        return terms.every(function (term) { return texts[i].indexOf(term) !== -1; });
      });
      page = 0;
      show();
    }

    input.addEventListener("input", filter);
    prev.addEventListener("click", function () { page -= 1; show(); });
    next.addEventListener("click", function () { page += 1; show(); });
    block.filterBy = function (text) { input.value = text; filter(); };
    block.querySelector(".pager").hidden = false;
    block.querySelector(".toolbar").hidden = false;
    show();
  }

  var blocks = document.querySelectorAll(".issues-block");
  Array.prototype.forEach.call(blocks, setup);
  // A code in the chart filters its channel's table to that code.
  Array.prototype.forEach.call(document.querySelectorAll("a[data-search]"), function (link) {
    link.addEventListener("click", function () {
      var block = document.getElementById(link.getAttribute("href").slice(1));
      if (block && block.filterBy) { block.filterBy(link.getAttribute("data-search")); }
    });
  });
})();
