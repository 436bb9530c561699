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
=====================================  ===============================================

Every node of every graph links to its page; every page is a bookmarkable GET URL.

Modules: :mod:`~tap.ui.blueprint` (the blueprint, ``PageError``, template helpers),
:mod:`~tap.ui.helpers` (URLs, formatting), :mod:`~tap.ui.graph_request` (a page's lineage
graph), one ``*_pages`` module per page kind (home, node, run, graph, version, adql,
ingest, check, recipe, stats) and :mod:`~tap.ui.expand`; the SQL is in
:mod:`~tap.ui.queries` and ``*_queries``.
"""

# each page module registers its routes on the blueprint when imported
from tap.ui import (  # noqa: F401
    adql_pages,  # /ui/adql
    check_pages,  # /ui/night and entity flags
    expand,  # /ui/graph/expand
    graph_pages,  # /ui/graph
    home_pages,  # /ui/ and /ui/search
    ingest_pages,  # /ui/ingest and /ui/ingest/<id>
    node_pages,  # /ui/entity, /ui/activity, /ui/agent, /ui/environment
    recipe_pages,  # /ui/reproduce and /ui/diff
    run_pages,  # /ui/run/<night>/<run>
    stats_pages,  # /ui/stats
    version_pages,  # /ui/versions
)
from tap.ui.blueprint import bp
from tap.ui.headers import add_security_headers

bp.after_request(add_security_headers)

__all__ = ["bp"]
