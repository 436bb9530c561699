"""provdb: an IVOA Provenance archive for astronomy pipelines.

provdb turns the provenance logs of pipelines such as the CTA LST on-site analysis
(lstosa ``prov.log``, ctapipe provenance JSON, W3C PROV documents) into a relational
IVOA Provenance Data Model archive in PostgreSQL, served through TAP/ADQL and ProvSAP.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
