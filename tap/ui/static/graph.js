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
 *   Alt+click        on a node marked (dashed) as having more neighbours than drawn:
 *                    fetch them from the server and add them; on any other node:
 *                    collapse / expand what lies beyond it
 *   Shift+click      select two nodes: the path between them is highlighted (Esc clears)
 *
 * Fetching more: the server marks nodes with neighbours beyond the drawing
 * (data-more="N"); /ui/graph/expand (the box's data-expand) answers with them drawn as
 * the server draws nodes, and graph_place.js finds room for them and their labels next
 * to the expanded node, so that nothing drawn moves; the view is then fitted again.
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
    function link(s, t) {
      (adj[s] = adj[s] || []).push(t);
      (adj[t] = adj[t] || []).push(s);
    }
    edges.forEach(function (e) {
      link(e.dataset.source, e.dataset.target);
    });
    // where things are, read once while everything is shown (a hidden node has no box)
    function boxOf(el) {
      var b = el.getBBox();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2, w: b.width, h: b.height };
    }
    var geom = {};
    Object.keys(nodes).forEach(function (id) {
      geom[id] = boxOf(nodes[id]);
    });
    var labelRects = labels.map(function (l) {
      return window.provdbPlace ? window.provdbPlace.rect(boxOf(l)) : null;
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
      var before = +box.dataset.shown;
      if (collapsed[id]) delete collapsed[id];
      else collapsed[id] = true;
      refresh();
      var n = Math.abs(before - box.dataset.shown), name = nameOf(id);
      if (!collapsed[id]) status("shown", name + ": " + n + " node(s) shown again.");
      else if (n) status("collapsed", name + " collapsed: " + n + " node(s) hidden (Alt+click it again to show them).");
      else status("nothing", "Nothing more beyond " + name + ": the archive knows no more " +
        towards() + " of it, and nothing drawn lies only beyond it.");
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

    function hook(id) {
      nodes[id].addEventListener("click", function (evt) {
        if (evt.altKey) {
          evt.preventDefault();
          if (!collapsed[id] && hasMore(id)) fetchMore(id);
          else toggle(id);
        } else if (evt.shiftKey) {
          evt.preventDefault();
          highlight(picked.length === 1 && picked[0] !== id ? [picked[0], id] : [id]);
        }
      });
      markMore(id);
    }

    // ------------------------------------------------------------ fetch more
    var NS = "http://www.w3.org/2000/svg";
    var statusLine = null;
    function status(kind, text) {
      if (!statusLine) return;
      statusLine.textContent = text;
      box.dataset.status = kind;
    }
    function nameOf(id) {
      var texts = nodes[id] ? nodes[id].querySelectorAll("text") : [];
      var parts = Array.prototype.map.call(texts, function (t) { return t.textContent; });
      return parts.length ? parts.join(" ") : id;
    }
    function towards() {
      return { BACK: "progenitors", FORTH: "products" }[box.dataset.direction] || "neighbours";
    }
    function hasMore(id) {
      return !!box.dataset.expand && +(nodes[id].dataset.more || 0) > 0 && !!window.provdbPlace;
    }
    function markMore(id) {
      var g = nodes[id], title = g.querySelector("title");
      if (title && g.dataset.tooltip === undefined) g.dataset.tooltip = title.textContent;
      var on = hasMore(id);
      g.classList.toggle("more", on);
      if (title) {
        // data-more-over: the server counted up to that many only (a huge fan-out)
        var count = g.dataset.moreOver ? "more than " + g.dataset.moreOver : g.dataset.more + " more";
        title.textContent = g.dataset.tooltip + (on ? "\n" + count + " " + towards() +
          " not drawn: Alt+click to add them" : "");
      }
    }
    function make(tag, attrs, parent) {
      var el = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
      if (parent) parent.appendChild(el);
      return el;
    }
    function layer(cls, before) {
      var g = svg.querySelector("g." + cls);
      if (!g) {
        g = make("g", { "class": cls });
        svg.insertBefore(g, before ? svg.querySelector("g." + before) : null);
      }
      return g;
    }
    function parseNode(markup) {
      var doc = new DOMParser().parseFromString(
        '<svg xmlns="' + NS + '" xmlns:xlink="http://www.w3.org/1999/xlink">' + markup + "</svg>",
        "image/svg+xml");
      return document.importNode(doc.documentElement.firstElementChild, true);
    }
    var busy = false;
    function fetchMore(id) {
      if (busy) return;
      busy = true;
      box.dataset.busy = "1";
      var name = nameOf(id);
      status("busy", "Fetching the " + towards() + " of " + name + "\u2026");
      var request = { node: id, direction: box.dataset.direction || "BOTH", drawn: Object.keys(nodes) };
      if (box.dataset.limit) request.limit = +box.dataset.limit;
      fetch(box.dataset.expand, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(request)
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (res) {
        if (!res.ok) status("error", "Cannot expand " + name + ": " + res.body.error);
        else grow(id, res.body);
      }).catch(function (err) {
        status("error", "Cannot expand " + name + ": " + err.message + " (reload the page)");
      }).then(function () {
        busy = false;
        delete box.dataset.busy;
      });
    }

    function grow(id, body) {
      var place = window.provdbPlace, parent = geom[id];
      var left = body.total - body.added;
      if (left > 0) nodes[id].dataset.more = left;
      else delete nodes[id].dataset.more;
      delete nodes[id].dataset.moreOver;  // the expansion counted them all
      markMore(id);
      var obstacles = Object.keys(geom).map(function (k) { return place.rect(geom[k]); })
        .concat(labelRects.filter(Boolean));
      var fresh = {};
      body.nodes.forEach(function (n) { fresh[n.key] = n; });
      // which drawn (or already placed) node each new one hangs from, and on which side:
      // the layout runs bottom to top, a relation's target above its source
      function anchorOf(key) {
        var best = null;
        body.edges.forEach(function (e) {
          var other = e.source === key ? e.target : e.target === key ? e.source : null;
          if (other === null || other === key || !geom[other]) return;
          var side = e.source === key ? 1 : -1;
          if (!best || other === id) best = { parent: other, side: side };
        });
        return best;
      }
      var pending = body.nodes.map(function (n) { return n.key; });
      for (var round = 0; pending.length && round < 10; round++) {
        var groups = {}, waiting = [];
        pending.forEach(function (key) {
          var a = anchorOf(key) || (round === 9 ? { parent: id, side: -1 } : null);
          if (!a) { waiting.push(key); return; }
          var g = a.parent + "\u0000" + a.side;
          (groups[g] = groups[g] || { parent: a.parent, side: a.side, keys: [] }).keys.push(key);
        });
        Object.keys(groups).forEach(function (g) {
          var grp = groups[g];
          for (var i = 0; i < grp.keys.length; i += 10) {
            var chunk = grp.keys.slice(i, i + 10);
            var spots = place.placeRow(chunk.map(function (k) {
              return { w: fresh[k].width, h: fresh[k].height };
            }), geom[grp.parent], grp.side, obstacles);
            chunk.forEach(function (k, j) {
              geom[k] = spots[j];
              obstacles.push(place.rect(spots[j]));
            });
          }
        });
        pending = waiting;
      }
      var nodeLayer = layer("nodes"), edgeLayer = layer("edges", "nodes");
      var labelLayer = layer("edge-labels", "nodes");
      body.nodes.forEach(function (n) {
        var g = parseNode(n.svg), where = geom[n.key];
        g.querySelector("a").setAttribute("transform", "translate(" + where.x.toFixed(1) + " " + where.y.toFixed(1) + ")");
        g.classList.add("added");
        nodeLayer.appendChild(g);
        nodes[n.key] = g;
        hook(n.key);
      });
      var kindOf = function (key) { return key.split(":", 1)[0]; };
      var groups = {};
      body.edges.forEach(function (e) {
        if (!geom[e.source] || !geom[e.target]) return;
        var a = geom[e.source], b = geom[e.target];
        var p = place.clip(a, kindOf(e.source), b), q = place.clip(b, kindOf(e.target), a);
        var g = make("g", { "class": "edge " + e.relation + " added", "data-source": e.source, "data-target": e.target }, edgeLayer);
        make("title", {}, g).textContent = e.relation;
        make("path", {
          d: "M" + p.x.toFixed(1) + "," + p.y.toFixed(1) + " L" + q.x.toFixed(1) + "," + q.y.toFixed(1),
          fill: "none", stroke: e.color, "marker-end": "url(#" + e.marker + ")"
        }, g);
        edges.push(g);
        link(e.source, e.target);
        // one label per (shared end, relation, text), as the server groups them
        var end = e.relation === "wasGeneratedBy" ? e.source : e.target;
        var other = end === e.source ? e.target : e.source;
        var k = end + "\u0000" + e.relation + "\u0000" + e.label;
        var grp = groups[k] = groups[k] || { end: end, edge: e, others: [] };
        if (grp.others.indexOf(other) < 0) grp.others.push(other);
      });
      Object.keys(groups).forEach(function (k) {
        var grp = groups[k], e = grp.edge, end = geom[grp.end], n = grp.others.length;
        var meanY = grp.others.reduce(function (s, o) { return s + geom[o].y; }, 0) / n;
        var side = meanY > end.y ? 1 : -1;
        var anchor = { x: end.x, y: end.y + side * (end.h / 2 + 9) };
        if (n === 1) {
          var o = geom[grp.others[0]], dx = o.x - end.x, dy = o.y - end.y;
          var t = Math.min(dy ? (end.h / 2 + 9) / Math.abs(dy) : 0, 0.5);
          anchor = { x: end.x + dx * t, y: end.y + dy * t };
        }
        var text = n > 1 ? e.label + " \u00d7" + n : e.label;
        var ids = [grp.end].concat(grp.others).sort().join(" ");
        var g = make("g", { "class": "edge-label " + e.relation + " added", "data-nodes": ids }, labelLayer);
        make("title", {}, g).textContent = e.relation + ": " + text;
        var el = make("text", { x: 0, y: 0, "text-anchor": "middle", "font-size": 9, fill: e.fontcolor }, g);
        el.textContent = text;
        var b = el.getBBox();
        var spot = place.placeLabel({ w: b.width, h: b.height }, anchor, side, obstacles);
        el.setAttribute("x", spot.x.toFixed(1));
        el.setAttribute("y", (spot.y - (b.y + b.height / 2)).toFixed(1));
        var r = place.rect(boxOf(g));
        obstacles.push(r);
        labels.push(g);
        labelRects.push(r);
      });
      // the drawing grew: the view (and the white background) cover all of it
      var all = place.extent(obstacles.concat([{ x0: full.x, y0: full.y, x1: full.x + full.w, y1: full.y + full.h }]));
      var m = 20;
      full = { x: all.x0 - m, y: all.y0 - m, w: all.x1 - all.x0 + 2 * m, h: all.y1 - all.y0 + 2 * m };
      var bg = svg.querySelector("rect.background");
      if (bg) {
        bg.setAttribute("x", full.x);
        bg.setAttribute("y", full.y);
        bg.setAttribute("width", full.w);
        bg.setAttribute("height", full.h);
      }
      box.dataset.nodes = Object.keys(nodes).length;
      refresh();
      sizeBox();
      fit();
      status(body.limit_reached ? "limit" : body.added ? "added" : "nothing", body.message);
    }

    Object.keys(nodes).forEach(hook);
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
    help.textContent = " wheel/drag or + - 0 arrows · Alt+click: collapse/expand (dashed nodes: fetch more) · Shift+click two nodes: path";
    bar.appendChild(help);
    box.parentNode.insertBefore(bar, box);
    statusLine = document.createElement("p");
    statusLine.className = "graph-status small";
    statusLine.setAttribute("role", "status");
    statusLine.setAttribute("aria-live", "polite");
    box.parentNode.insertBefore(statusLine, box);
    box.provdbViewer = { fit: fit, zoom: zoom, toggle: toggle, highlight: highlight, more: fetchMore };
  }

  function start() {
    document.querySelectorAll(".graph").forEach(viewer);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
