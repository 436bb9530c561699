/* Geometry of the lineage viewer's expand (graph.js): where nodes and edge labels added
 * to a drawn graph go, without moving anything already drawn.
 *
 * Pure functions on rectangles {x0, y0, x1, y1} and boxes {x, y, w, h} (centre, size)
 * in SVG user units: no DOM. Every search ends: after its nearby candidates it moves
 * outwards until nothing is hit, and the obstacles are finite.
 */
(function () {
  "use strict";

  var NODE_SEP = 24; // as the server's layout (provdb/lineage/svg.py)
  var RANK_SEP = 90;
  var NODE_PAD = 10; // room kept around a new node for its edges
  var LABEL_PAD = 2;

  function hits(a, b, pad) {
    return a.x0 < b.x1 + pad && b.x0 < a.x1 + pad && a.y0 < b.y1 + pad && b.y0 < a.y1 + pad;
  }

  function free(r, obstacles, pad) {
    for (var i = 0; i < obstacles.length; i++) {
      if (hits(r, obstacles[i], pad)) return false;
    }
    return true;
  }

  function extent(obstacles) {
    var e = { x0: 0, y0: 0, x1: 0, y1: 0 };
    obstacles.forEach(function (o) {
      e.x0 = Math.min(e.x0, o.x0);
      e.y0 = Math.min(e.y0, o.y0);
      e.x1 = Math.max(e.x1, o.x1);
      e.y1 = Math.max(e.y1, o.y1);
    });
    return e;
  }

  /* Centres for a row of boxes (sizes [{w, h}]) next to `parent` ({x, y, w, h}), on
   * `side` (-1 above, +1 below): one rank away first, centred on the parent, then
   * shifted sideways, then further out, until no box hits an obstacle. */
  function placeRow(sizes, parent, side, obstacles) {
    var total = NODE_SEP * (sizes.length - 1), h = 0;
    sizes.forEach(function (s) {
      total += s.w;
      h = Math.max(h, s.h);
    });
    var y0 = parent.y + side * (parent.h / 2 + RANK_SEP + h / 2);
    var stepX = 40, stepY = h + RANK_SEP / 2;

    function attempt(left, y) {
      var out = [], x = left;
      for (var i = 0; i < sizes.length; i++) {
        var s = sizes[i];
        var r = { x0: x, y0: y - s.h / 2, x1: x + s.w, y1: y + s.h / 2 };
        if (!free(r, obstacles, NODE_PAD)) return null;
        out.push({ x: x + s.w / 2, y: y, w: s.w, h: s.h });
        x += s.w + NODE_SEP;
      }
      return out;
    }

    for (var ring = 0; ring < 60; ring++) {
      var y = y0 + side * ring * stepY;
      for (var k = 0; k <= 30; k++) {
        var dx = (k % 2 ? 1 : -1) * Math.ceil(k / 2) * stepX;
        var got = attempt(parent.x - total / 2 + dx, y);
        if (got) return got;
      }
    }
    // nothing near: beyond everything drawn, on that side
    var e = extent(obstacles);
    var yFar = side > 0 ? e.y1 + RANK_SEP + h / 2 : e.y0 - RANK_SEP - h / 2;
    return attempt(parent.x - total / 2, yFar) || attempt(e.x1 + RANK_SEP, yFar);
  }

  /* Centre for an edge label of size {w, h} that wants to sit at `anchor`, on `side`:
   * positions near the anchor along the edge, then sideways, then further out. */
  function placeLabel(size, anchor, side, obstacles) {
    var stepY = size.h + 2, stepX = size.w / 2 + 6;
    function at(x, y) {
      return { x0: x - size.w / 2, y0: y - size.h / 2, x1: x + size.w / 2, y1: y + size.h / 2 };
    }
    for (var ring = 0; ring < 12; ring++) {
      var y = anchor.y + side * ring * stepY;
      if (free(at(anchor.x, y), obstacles, LABEL_PAD)) return { x: anchor.x, y: y };
      for (var k = 1; k <= 3; k++) {
        if (free(at(anchor.x + k * stepX, y), obstacles, LABEL_PAD)) return { x: anchor.x + k * stepX, y: y };
        if (free(at(anchor.x - k * stepX, y), obstacles, LABEL_PAD)) return { x: anchor.x - k * stepX, y: y };
      }
    }
    var e = extent(obstacles);
    var limit = Math.abs(e.y1 - e.y0) / stepY + 20;
    for (var n = 12; n < limit; n++) {
      var yy = anchor.y + side * n * stepY;
      if (free(at(anchor.x, yy), obstacles, LABEL_PAD)) return { x: anchor.x, y: yy };
    }
    return { x: anchor.x, y: side > 0 ? e.y1 + size.h : e.y0 - size.h };
  }

  /* Where the segment from the centre of `box` towards `to` leaves the node outline. */
  function clip(box, kind, to) {
    var dx = to.x - box.x, dy = to.y - box.y;
    if (dx === 0 && dy === 0) return { x: box.x, y: box.y };
    var hw = box.w / 2, hh = box.h / 2, t;
    if (kind === "entity") t = 1 / Math.sqrt((dx / hw) * (dx / hw) + (dy / hh) * (dy / hh));
    else t = Math.min(dx ? hw / Math.abs(dx) : Infinity, dy ? hh / Math.abs(dy) : Infinity);
    t = Math.min(t, 1);
    return { x: box.x + dx * t, y: box.y + dy * t };
  }

  function rect(box) {
    return { x0: box.x - box.w / 2, y0: box.y - box.h / 2, x1: box.x + box.w / 2, y1: box.y + box.h / 2 };
  }

  window.provdbPlace = { placeRow: placeRow, placeLabel: placeLabel, clip: clip, rect: rect, extent: extent };
})();
