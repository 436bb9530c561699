/* provdb lineage graph viewer: fit, pan, zoom, collapse/expand, path highlight.
 *
 * Works on the static SVG the server draws (provdb.lineage.svg): nodes are
 * <g class="node" id="kind:id">, edges <g class="edge" data-source data-target>, edge
 * labels <g class="edge-label" data-nodes>. Without JavaScript the SVG stays as it is,
 * scaled to the box width by CSS, with its links.
 *
 *   mouse wheel      zoom at the pointer      drag the background   pan
 *   + / -            zoom in / out            0                     fit to the box
 *   arrow keys       pan                      click a node          open its page
 *   Alt+click        collapse / expand what lies beyond that node
 *   Shift+click      select two nodes: the path between them is highlighted (Esc clears)
 */
(function () {
  "use strict";

  function viewer(box) {
    var svg = box.querySelector("svg");
    if (!svg || box.dataset.viewer) return;
    box.dataset.viewer = "on";
    var vb = svg.viewBox.baseVal;
    var full = { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
    var view = { x: full.x, y: full.y, w: full.w, h: full.h };

    // the box gets the drawing's aspect, at most 75% of the window high
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    function sizeBox() {
      var width = box.clientWidth || 800;
      var want = Math.round((width * full.h) / full.w);
      var most = Math.max(240, Math.round(window.innerHeight * 0.75));
      svg.style.width = "100%";
      svg.style.height = Math.max(160, Math.min(want, most)) + "px";
    }
    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
      box.dataset.zoom = (full.w / view.w).toFixed(3);
    }
    function fit() {
      view = { x: full.x, y: full.y, w: full.w, h: full.h };
      apply();
    }
    function zoom(factor, cx, cy) {
      var nw = Math.min(full.w * 4, Math.max(full.w / 20, view.w / factor));
      var f = nw / view.w;
      if (cx === undefined) {
        cx = view.x + view.w / 2;
        cy = view.y + view.h / 2;
      }
      view = { x: cx - (cx - view.x) * f, y: cy - (cy - view.y) * f, w: nw, h: view.h * f };
      apply();
    }
    function pan(dx, dy) {
      view.x += dx * view.w;
      view.y += dy * view.h;
      apply();
    }
    function toSvg(evt) {
      var pt = svg.createSVGPoint();
      pt.x = evt.clientX;
      pt.y = evt.clientY;
      var m = svg.getScreenCTM();
      return m ? pt.matrixTransform(m.inverse()) : { x: view.x, y: view.y };
    }

    sizeBox();
    fit();
    window.addEventListener("resize", sizeBox);
    box.setAttribute("tabindex", "0");
    box.setAttribute("aria-label", "lineage graph: + - 0 and arrow keys to zoom and pan");

    svg.addEventListener(
      "wheel",
      function (evt) {
        evt.preventDefault();
        var p = toSvg(evt);
        zoom(evt.deltaY < 0 ? 1.2 : 1 / 1.2, p.x, p.y);
      },
      { passive: false }
    );
    var drag = null;
    svg.addEventListener("mousedown", function (evt) {
      if (evt.button !== 0 || evt.target.closest("g.node")) return;
      drag = { x: evt.clientX, y: evt.clientY, view: { x: view.x, y: view.y } };
      evt.preventDefault();
    });
    window.addEventListener("mousemove", function (evt) {
      if (!drag) return;
      var m = svg.getScreenCTM();
      var scale = m ? m.a : 1;
      view.x = drag.view.x - (evt.clientX - drag.x) / scale;
      view.y = drag.view.y - (evt.clientY - drag.y) / scale;
      apply();
    });
    window.addEventListener("mouseup", function () {
      drag = null;
    });
    box.addEventListener("keydown", function (evt) {
      var k = evt.key;
      if (k === "+" || k === "=") zoom(1.25);
      else if (k === "-" || k === "_") zoom(1 / 1.25);
      else if (k === "0") fit();
      else if (k === "ArrowLeft") pan(-0.1, 0);
      else if (k === "ArrowRight") pan(0.1, 0);
      else if (k === "ArrowUp") pan(0, -0.1);
      else if (k === "ArrowDown") pan(0, 0.1);
      else if (k === "Escape") highlight([]);
      else return;
      evt.preventDefault();
    });

    // ------------------------------------------------------------ structure
    var nodes = {};
    svg.querySelectorAll("g.node").forEach(function (g) {
      nodes[g.id] = g;
    });
    var edges = Array.prototype.slice.call(svg.querySelectorAll("g.edge[data-source]"));
    var labels = Array.prototype.slice.call(svg.querySelectorAll("g.edge-label"));
    var adj = {};
    edges.forEach(function (e) {
      var s = e.dataset.source, t = e.dataset.target;
      (adj[s] = adj[s] || []).push(t);
      (adj[t] = adj[t] || []).push(s);
    });
    var anchors = Object.keys(nodes).filter(function (id) {
      return nodes[id].dataset.start;
    });
    if (!anchors.length) {
      // no start node (a run graph): the products, the lowest row of the drawing
      var lowest = -Infinity;
      Object.keys(nodes).forEach(function (id) {
        lowest = Math.max(lowest, nodes[id].getBBox().y);
      });
      anchors = Object.keys(nodes).filter(function (id) {
        return nodes[id].getBBox().y >= lowest - 1;
      });
    }

    // ------------------------------------------------------------ collapse / expand
    var collapsed = {};
    function reachable() {
      var seen = {}, queue = [];
      anchors.forEach(function (a) {
        if (!seen[a]) { seen[a] = true; queue.push(a); }
      });
      while (queue.length) {
        var n = queue.shift();
        if (collapsed[n]) continue; // nothing beyond a collapsed node
        (adj[n] || []).forEach(function (m) {
          if (!seen[m]) { seen[m] = true; queue.push(m); }
        });
      }
      return seen;
    }
    function refresh() {
      var shown = reachable();
      Object.keys(nodes).forEach(function (id) {
        nodes[id].style.display = shown[id] ? "" : "none";
        nodes[id].classList.toggle("collapsed", !!collapsed[id]);
      });
      edges.forEach(function (e) {
        var on = shown[e.dataset.source] && shown[e.dataset.target];
        e.style.display = on ? "" : "none";
      });
      labels.forEach(function (l) {
        var ids = l.dataset.nodes.split(" ");
        l.style.display = ids.every(function (i) { return shown[i]; }) ? "" : "none";
      });
      box.dataset.shown = Object.keys(nodes).filter(function (i) { return shown[i]; }).length;
    }
    function toggle(id) {
      // a collapsed node hides what is reachable only through it (for a start node:
      // everything else); toggling again shows it
      if (collapsed[id]) delete collapsed[id];
      else collapsed[id] = true;
      refresh();
    }

    // ------------------------------------------------------------ path highlight
    var picked = [];
    function path(a, b) {
      var prev = {}, queue = [a];
      prev[a] = null;
      while (queue.length) {
        var n = queue.shift();
        if (n === b) break;
        (adj[n] || []).forEach(function (m) {
          if (!(m in prev)) { prev[m] = n; queue.push(m); }
        });
      }
      if (!(b in prev)) return [];
      var out = [];
      for (var n2 = b; n2 !== null; n2 = prev[n2]) out.push(n2);
      return out;
    }
    function highlight(ids) {
      picked = ids;
      var on = {};
      var route = ids.length === 2 ? path(ids[0], ids[1]) : ids;
      route.forEach(function (i) { on[i] = true; });
      Object.keys(nodes).forEach(function (id) {
        nodes[id].classList.toggle("picked", ids.indexOf(id) >= 0);
        nodes[id].classList.toggle("on-path", !!on[id]);
      });
      edges.forEach(function (e) {
        var hit = false;
        for (var i = 0; i + 1 < route.length; i++) {
          var s = e.dataset.source, t = e.dataset.target;
          if ((s === route[i] && t === route[i + 1]) || (t === route[i] && s === route[i + 1])) hit = true;
        }
        e.classList.toggle("on-path", hit);
      });
      svg.classList.toggle("highlighting", route.length > 1);
      box.dataset.path = route.length > 1 ? route.length : 0;
    }

    Object.keys(nodes).forEach(function (id) {
      nodes[id].addEventListener("click", function (evt) {
        if (evt.altKey) {
          evt.preventDefault();
          toggle(id);
        } else if (evt.shiftKey) {
          evt.preventDefault();
          highlight(picked.length === 1 && picked[0] !== id ? [picked[0], id] : [id]);
        }
      });
    });
    refresh();

    // a toolbar for those without a wheel or a keyboard
    var bar = document.createElement("div");
    bar.className = "graph-tools";
    [["+", "zoom in (+)", function () { zoom(1.25); }],
     ["\u2212", "zoom out (-)", function () { zoom(1 / 1.25); }],
     ["fit", "fit to the box (0)", fit],
     ["expand all", "show every node again", function () { collapsed = {}; refresh(); }]
    ].forEach(function (spec) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = spec[0];
      b.title = spec[1];
      b.addEventListener("click", spec[2]);
      bar.appendChild(b);
    });
    var help = document.createElement("span");
    help.className = "muted small";
    help.textContent = " wheel/drag or + - 0 arrows · Alt+click: collapse/expand · Shift+click two nodes: path";
    bar.appendChild(help);
    box.parentNode.insertBefore(bar, box);
    box.provdbViewer = { fit: fit, zoom: zoom, toggle: toggle, highlight: highlight };
  }

  function start() {
    document.querySelectorAll(".graph").forEach(viewer);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
