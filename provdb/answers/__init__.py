"""Answers to the questions provenance exists for, computed from the archive.

One module per question, each usable from the CLI, the browser UI and Python:

* :mod:`provdb.answers.recipe`: *reproduce* a product (its back lineage as a recipe)
  and the forward question (which products a changed input affects);
* :mod:`provdb.answers.compare`: *diff* two products' recipes step by step;
* :mod:`provdb.answers.checks` and :mod:`provdb.answers.flags`: quality and consistency
  rules over the archive, and the per-product flags ingest keeps current for ADQL;
* :mod:`provdb.answers.stats`: timing and failures of the pipeline's activities.

Formatters (Markdown, shell, JSON, text reports, SVG plots) are pure functions of the
answers' dataclasses: no database inside, so each is tested alone.
"""
