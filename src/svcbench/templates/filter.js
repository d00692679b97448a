// The report's one script: the filter box. It only hides table rows; the page works without it
// (the box stays hidden), and the Content-Security-Policy allows no other script.
(function () {
  var box = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  var rows = document.querySelectorAll("table.ranking tbody tr");
  box.parentNode.parentNode.hidden = false;
  box.addEventListener("input", function () {
    var query = box.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var match = query === "" || row.textContent.toLowerCase().indexOf(query) >= 0;
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = query === "" ? "" : shown + " of " + rows.length + " rows";
  });
  // a company name links to its trend: open that company's section when it is the target
  function openTarget() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") { target.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
