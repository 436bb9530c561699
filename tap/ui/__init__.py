"""The browser UI of the archive: server-rendered pages under ``/ui``.

Pages (blueprint ``ui``, mounted at ``/ui`` by :func:`tap.app.create_app`):

=====================================  ===============================================
``/ui/``                               archive totals, runs, recent ingests, search box
``/ui/search?q=``                      entities by path, file name, id or hash;
                                       activities by id; runs and nights
``/ui/entity/<id>``                    attributes, generation, inputs, consumers,
                                       lineage graph (``depth``, ``direction``),
                                       downloads in every ProvSAP format
``/ui/activity/<id>``                  parameters, config files, session context
                                       (software, environment), used and generated
``/ui/agent/<id>``                     the agent, its activities and entities
``/ui/environment/<id>``               a full environment record (JSON)
``/ui/run/<night>/<run>``              the run's graph per ``step`` (calibration,
                                       r0_to_dl1, dl1_to_dl2, all); ``subruns=1`` for
                                       every subrun activity and file
``/ui/night/<night>``                  the night's runs and its provdb check findings
``/ui/versions``                       products per software version (``package``,
                                       ``version``, ``product_type``) and the ADQL
``/ui/stats?night=&run=&by=``          timing and failures of the pipeline's
                                       activities, durations and timeline plots
``/ui/adql?query=``                    an ADQL query run through the TAP service
``/ui/ingest?status=&rejected=&page=`` ingested files by last ingest: status, counts,
                                       rejected lines, conflicts, duration
``/ui/ingest/<id>``                    one ingested file: offsets, records by kind,
                                       each rejected line (raw text escaped), conflicts
``/ui/reproduce/<id>``                 a product's recipe (``format=md|sh|json``;
                                       ``affected=1``: what a change of it affects)
``/ui/diff?a=&b=``                     why two products differ, step by step
``/ui/graph?id=&depth=&direction=``    the lineage graph alone: ``format=svg`` (the SVG
                                       document, embeddable) or ``html``
``/ui/graph/expand?node=&drawn=``      JSON: a drawn node's neighbours beyond the
                                       drawing, for the viewer's expand (Alt+click)
``/ui/reproduce/<id>``                  the recipe that regenerates a product
                                       (``format=md|sh|json``; ``affected=1``: what a
                                       change of it affects)
``/ui/diff?a=&b=``                     two products' recipes compared step by step
``/ui/night/<night>``                  a night's runs and its ``provdb check`` findings
``/ui/stats?night=&run=&by=``          activity timing and failures, with SVG plots
=====================================  ===============================================

Every node of every graph links to its page; every page is a bookmarkable GET URL.
"""

from tap.ui import (
    check_pages,  # noqa: F401  (registers /ui/night and entity flags)
    expand,  # noqa: F401  (registers /ui/graph/expand)
    ingest_pages,  # noqa: F401  (registers /ui/ingest and /ui/ingest/<id>)
    recipe_pages,  # noqa: F401  (registers /ui/reproduce and /ui/diff)
    stats_pages,  # noqa: F401  (registers /ui/stats on bp)
)
from tap.ui.headers import add_security_headers
from tap.ui.routes import bp

bp.after_request(add_security_headers)

__all__ = ["bp"]
