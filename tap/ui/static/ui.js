/* The UI's only script (a file, so the Content-Security-Policy can forbid inline ones). */
document.addEventListener("DOMContentLoaded", function () {
  /* scroll each graph box to the page's own node */
  document.querySelectorAll(".graph[data-focus]").forEach(function (box) {
    var node = document.getElementById(box.getAttribute("data-focus"));
    if (!node || !node.getBoundingClientRect) return;
    var b = node.getBoundingClientRect(), c = box.getBoundingClientRect();
    box.scrollLeft += b.left - c.left - (c.width - b.width) / 2;
    box.scrollTop += b.top - c.top - (c.height - b.height) / 2;
  });
  /* Ctrl+Enter (Cmd+Enter) runs the ADQL query */
  var query = document.getElementById("query");
  if (query && query.form) {
    query.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.form.submit(); }
    });
  }
});
