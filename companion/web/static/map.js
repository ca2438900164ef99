// Map: pointing at a site or tracker highlights its lines. Loaded as a file (the CSP forbids inline script);
// the map works without it.
(function () {
  "use strict";
  var svg = document.querySelector("svg.graph");
  if (!svg) return;
  var edges = Array.prototype.slice.call(svg.querySelectorAll(".edge"));
  function clear() {
    svg.classList.remove("focus");
    svg.querySelectorAll(".hl").forEach(function (el) { el.classList.remove("hl"); });
  }
  function focus(node) {
    clear();
    var name = node.getAttribute("data-name");
    var isSite = node.classList.contains("site");
    svg.classList.add("focus");
    node.classList.add("hl");
    edges.forEach(function (edge) {
      if (edge.getAttribute(isSite ? "data-site" : "data-tracker") === name) edge.classList.add("hl");
    });
  }
  svg.querySelectorAll(".node").forEach(function (node) {
    node.addEventListener("mouseenter", function () { focus(node); });
    node.addEventListener("focus", function () { focus(node); });
    node.addEventListener("mouseleave", clear);
    node.addEventListener("blur", clear);
  });
})();
